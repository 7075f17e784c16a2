import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { AcquirerConnector } from './acquirers/connector.ts';
import type { KassaConfig } from './config.ts';
import type { Clock } from './domain/clock.ts';
import { logErrorAnswer, registerApiRoutes } from './http/api.ts';
import { registerChallengePages } from './http/pages/challenge-pages.ts';
import { registerCheckoutPages } from './http/pages/checkout-pages.ts';
import { bodyLimitBytes, isBodyParsingError, registerFormParsers } from './http/form-body.ts';
import { requestLoggerFactory } from './http/request-logger.ts';
import type { PlatformContext } from './operations/context.ts';
import { buildPlatformContext } from './platform-context.ts';
import { ProtocolError, errorBody } from './protocol/errors.ts';
import { openStorage } from './storage/database.ts';
import { registerOperatorRoutes } from './http/operator.ts';
import { registerConsole } from './console/routes.ts';

export interface BuildOptions {
  clock?: Clock;
  acquirer?: AcquirerConnector;
  /** Where log lines go (tests capture them to prove no card data is logged). */
  logDestination?: DestinationStream;
}

export interface KassaApp {
  app: FastifyInstance;
  context: PlatformContext;
  close(): Promise<void>;
}

/**
 * Second line of defence for card data in logs (the first is the Secret wrapper and never
 * logging bodies): any of these keys, wherever pino meets them, is censored.
 */
const redactPaths = [
  'card_number', 'card_cvv2', 'cvv', 'pan', 'password', 'hash',
  '*.card_number', '*.card_cvv2', '*.cvv', '*.pan', '*.password', '*.hash',
  'req.body', 'body', '*.body',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: redactPaths, censor: '[redacted]' } }, destination);
}

/** The protocol error a failure is answered with: itself, a body-parsing error, or internal. */
function protocolErrorOf(error: Error & { code?: string; statusCode?: number }): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const code = error.code ?? '';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return new ProtocolError('contentTypeNotSupported');
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || code === 'FST_REQ_FILE_TOO_LARGE') {
    return new ProtocolError('requestTooLarge');
  }
  if (isBodyParsingError(error) || error.statusCode === 400) return new ProtocolError('requestInvalid');
  return new ProtocolError('internal');
}

/** Builds the whole platform and never listens: server.ts listens, tests call inject(). */
export async function buildApp(config: KassaConfig, options: BuildOptions = {}): Promise<KassaApp> {
  const logger = createLogger(config.logLevel, options.logDestination);
  const storage = await openStorage({
    databaseUrl: config.databaseUrl, dataDirectory: config.dataDirectory, postgresSchema: config.postgresSchema,
  });
  // Sandbox: real (or the given) time plus the offset operators move with `kassa clock advance`;
  // production never moves its clock. The CLI builds its context with the same function.
  const platform = await buildPlatformContext(config, storage, { logger, clock: options.clock, acquirer: options.acquirer });
  const context = platform.context;

  const app: FastifyInstance = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast only quiets a generic-variance mismatch.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per API request is written by the route (action, result, trans_id); Fastify's
    // two generic lines per request would double the logging cost on the hot path.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log makes its pino child only when it writes a line (http/request-logger.ts).
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: bodyLimitBytes,
    trustProxy: config.trustProxy,
    // A slow client cannot hold a connection for ever.
    requestTimeout: 30_000,
  });
  await registerFormParsers(app);

  // Protocol errors and every failure of parsing are answered with HTTP 200 and the spec's
  // JSON shape: existing PHP clients throw on any status ≥ 400 without reading the body.
  app.setErrorHandler((error: Error & { code?: string; statusCode?: number }, request, reply) => {
    const answer = protocolErrorOf(error);
    // An unexpected failure needs its stack to be found; a malformed body only Fastify's code.
    const detail = answer.name === 'internal' ? { failure: { message: error.message, stack: error.stack } }
      : error instanceof ProtocolError ? undefined : { bodyError: error.code };
    logErrorAnswer(request, answer, detail);
    return reply.code(200).send(errorBody(answer));
  });
  const consoleNotFound = registerConsole(app, context, { production: config.mode === 'production' });
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/console/') || request.url === '/console') return consoleNotFound(request, reply);
    const answer = new ProtocolError('notFound');
    logErrorAnswer(request, answer);
    return reply.code(404).send(errorBody(answer));
  });

  registerApiRoutes(app, context);
  registerChallengePages(app, context);
  registerCheckoutPages(app, context);
  if (config.mode === 'sandbox' && config.operatorToken) registerOperatorRoutes(app, context, config.operatorToken);
  await app.ready();
  return {
    app,
    context,
    async close() {
      await app.close();
      await platform.close();
      await storage.close();
    },
  };
}
