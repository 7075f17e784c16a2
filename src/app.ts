import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { AcquirerConnector } from './acquirers/connector.ts';
import type { KassaConfig } from './config.ts';
import type { Clock } from './domain/clock.ts';
import { apiFieldsOf, logErrorAnswer, recordApiRequest, registerApiRoutes } from './http/api.ts';
import { registerBankCallbacks } from './http/bank-callbacks.ts';
import { registerChallengePages } from './http/pages/challenge-pages.ts';
import { registerCheckoutPages } from './http/pages/checkout-pages.ts';
import { bodyLimitBytes, formFieldsOf, isBodyParsingError, registerFormParsers } from './http/form-body.ts';
import { requestLoggerFactory } from './http/request-logger.ts';
import type { PlatformContext } from './operations/context.ts';
import { buildPlatformContext } from './platform-context.ts';
import { ProtocolError, errorBody } from './protocol/errors.ts';
import { hashHint, hashTermsOf } from './protocol/hash-hints.ts';
import { openStorage } from './storage/database.ts';
import { registerOperatorRoutes } from './http/operator.ts';
import { registerConsole } from './console/routes.ts';
import {
  Lifecycle, registerHealthRoutes, registerMetricsRoute, registerRequestIdEcho, requestIdOf,
} from './http/operations-endpoints.ts';
import { apiActions, apiPaths } from './http/api.ts';
import { KassaMetrics } from './observability/metrics.ts';
import { databaseHoldsData } from './storage/operational-gauges.ts';
import { isStorageUnavailable } from './storage/dialect-errors.ts';
import { join } from 'node:path';
import { ApiRequestRecorder } from './workers/api-request-recorder.ts';

export interface BuildOptions {
  clock?: Clock;
  acquirer?: AcquirerConnector;
  /** Where log lines go (tests capture them to prove no card data is logged). */
  logDestination?: DestinationStream;
}

export interface KassaApp {
  app: FastifyInstance;
  /** /metrics and the health endpoints on KASSA_METRICS_PORT, when set (server.ts listens). */
  metricsApp?: FastifyInstance;
  context: PlatformContext;
  /** Undefined with KASSA_METRICS=off. */
  metrics?: KassaMetrics;
  /** Set `draining` and /health/ready answers 503 at once (server.ts, on SIGTERM). */
  lifecycle: Lifecycle;
  /** Sandbox only: the API request record `kassa logs tail` reads (server.ts starts its timer;
   * tests flush it). Closing the app writes what is buffered. */
  apiRequests?: ApiRequestRecorder;
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
  if (isStorageUnavailable(error)) return new ProtocolError('storageUnavailable');
  return new ProtocolError('internal');
}

function createFastify(config: KassaConfig, logger: Logger): FastifyInstance {
  return Fastify({
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
    // X-Request-Id, checked (bounded, printable) or made; logged as reqId on the request's lines.
    genReqId: requestIdOf,
    requestIdHeader: false,
    // In-flight requests are answered when the server closes; a request that arrives on a
    // kept-alive connection meanwhile is answered too (with Connection: close) rather than 503.
    return503OnClosing: false,
  });
}

/**
 * Where /metrics goes (docs/adr/0060): KASSA_METRICS_PORT set → its own Fastify instance (with
 * the health endpoints) for server.ts to listen on, the main port has none; otherwise the main
 * port, open in sandbox mode, and in production only with KASSA_METRICS_TOKEN as a bearer token
 * (without a token production serves no /metrics on the main port).
 */
async function metricsEndpoints(
  app: FastifyInstance, config: KassaConfig, metrics: KassaMetrics | undefined, storage: KassaApp['context']['storage'],
  lifecycle: Lifecycle,
): Promise<FastifyInstance | undefined> {
  if (metrics === undefined) return undefined;
  if (config.metricsPort !== undefined) {
    const metricsApp = Fastify({ logger: false });
    registerMetricsRoute(metricsApp, metrics, config.metricsToken);
    registerHealthRoutes(metricsApp, storage, lifecycle);
    await metricsApp.ready();
    return metricsApp;
  }
  if (config.mode === 'sandbox' || config.metricsToken !== undefined) {
    registerMetricsRoute(app, metrics, config.metricsToken);
  }
  return undefined;
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
  const apiRequests = config.mode === 'sandbox' ? new ApiRequestRecorder(storage, context.clock) : undefined;
  context.apiRequests = apiRequests;
  if (context.vault.keyFileCreated && await databaseHoldsData(storage)) {
    // A restore without its key, or a data directory moved without secret.key: nothing stored
    // can be decrypted with the key just made. Said at start rather than at the first payment.
    logger.warn({ keyFile: join(config.dataDirectory, 'secret.key') }, 'a new secret.key was created but the database '
      + 'already holds data encrypted with another key: restore the original secret.key (or set KASSA_SECRET_KEY)');
  }

  const app = createFastify(config, logger);
  await registerFormParsers(app);
  const lifecycle = new Lifecycle();
  const metrics = config.metricsEnabled === false ? undefined : new KassaMetrics(apiActions);
  metrics?.registerScrapeGauges(storage, context.clock, context.timeZone);
  context.metrics = metrics;
  registerRequestIdEcho(app, lifecycle);

  registerErrorAnswers(app, config, metrics, apiRequests);
  const consolePages = registerConsole(app, context, { production: config.mode === 'production' });
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/console/') || request.url === '/console') return consolePages.notFound(request, reply);
    const answer = new ProtocolError('notFound');
    logErrorAnswer(request, answer);
    return reply.code(404).send(errorBody(answer));
  });

  registerApiRoutes(app, context, consolePages.frontDoor);
  registerChallengePages(app, context);
  registerBankCallbacks(app, context);
  registerCheckoutPages(app, context);
  if (config.mode === 'sandbox' && config.operatorToken) registerOperatorRoutes(app, context, config.operatorToken);
  registerHealthRoutes(app, storage, lifecycle);
  const metricsApp = await metricsEndpoints(app, config, metrics, storage, lifecycle);
  await app.ready();
  return {
    app,
    metricsApp,
    context,
    metrics,
    lifecycle,
    apiRequests,
    async close() {
      await app.close();
      await apiRequests?.stop();
      await metricsApp?.close();
      metrics?.close();
      await platform.close();
      await storage.close();
    },
  };
}

/** Protocol errors and every failure of parsing are answered with HTTP 200 and the spec's
 * JSON shape: existing PHP clients throw on any status ≥ 400 without reading the body. */
function registerErrorAnswers(
  app: FastifyInstance, config: KassaConfig, metrics: KassaMetrics | undefined,
  apiRequests: ApiRequestRecorder | undefined,
): void {
  app.setErrorHandler((error: Error & { code?: string; statusCode?: number }, request, reply) => {
    const answer = protocolErrorOf(error);
    // An unexpected failure needs its stack to be found; a malformed body only Fastify's code.
    const detail = answer.name === 'internal' || answer.name === 'storageUnavailable'
      ? { failure: { message: error.message, stack: error.stack } }
      : error instanceof ProtocolError ? undefined : { bodyError: error.code };
    logErrorAnswer(request, answer, detail);
    const body: Record<string, unknown> = { ...errorBody(answer) };
    if (apiPaths.has(request.routeOptions.url ?? '')) {
      metrics?.recordApiAnswer(formFieldsOf(request).action, { result: 'ERROR' }, reply.elapsedTime);
      const refused = answer.fieldErrors.map((problem) => problem.field);
      // A wrong hash keeps its formula's terms for the console's explainer (docs/adr/0085).
      const terms = answer.name === 'hashInvalid' ? hashTermsOf(apiFieldsOf(request)) : undefined;
      recordApiRequest(request, apiRequests, body, reply.elapsedTime, refused, terms);
    }
    // Sandbox only: say which formula and which of the request's values were expected to sign
    // it (never the PASSWORD or the expected hash). Production answers exactly as before.
    if (answer.name === 'hashInvalid' && config.mode === 'sandbox') body.hash_hint = hashHint(apiFieldsOf(request));
    return reply.code(200).send(body);
  });
}
