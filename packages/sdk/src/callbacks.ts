import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CallbackFields, verifyCallback } from './callback-signature.ts';
import type { HashDigest } from './hash.ts';

/**
 * Receiving callbacks. The spec: the merchant answers the string `OK` when it has taken the
 * data, `ERROR` otherwise — and the platform sends it again later. So a callback whose hash is
 * wrong is answered ERROR without reaching the merchant's code, and so is one the merchant's code
 * failed on (it threw): either way the platform retries, and nothing is lost.
 */

/** A callback body's fields. `redirect_params[x]` and `custom_data[x]` become objects. */
export type ReceivedFields = Record<string, string | Record<string, string>>;

export interface CallbackOptions {
  /** The merchant's PASSWORD. */
  password: string;
  /** `sha256` for a merchant whose hash mode is SHA-256; md5 by default. */
  digest?: HashDigest;
  /**
   * The payer e-mail of the payment (Formula 2 signs it; a callback does not carry it): look it
   * up by `order_id` or `trans_id`. Omit only when payments are made without an e-mail.
   */
  emailOf?: (fields: ReceivedFields) => string | undefined | Promise<string | undefined>;
  /** Called once the hash is verified. Throw (or reject) to answer ERROR and have it sent again. */
  onCallback: (fields: ReceivedFields) => void | Promise<void>;
  /** Called for a callback refused (wrong hash or the handler failed), for the merchant's logs. */
  onRefused?: (reason: 'hash' | 'handler', fields: ReceivedFields, error?: unknown) => void;
}

export type CallbackAnswer = 'OK' | 'ERROR';

/** Bodies larger than this are refused unread: callbacks are a few hundred bytes. */
const bodyBytesMax = 64 * 1024;

/** Parses a form body; `name[key]=value` nests one level, as the platform writes it. */
export function parseCallbackBody(body: string): ReceivedFields {
  const fields: ReceivedFields = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const nested = /^([^[\]]+)\[([^[\]]*)\]$/.exec(name);
    if (!nested) {
      fields[name] = value;
      continue;
    }
    const [, outer, key] = nested;
    const holder = typeof fields[outer] === 'object' ? (fields[outer] as Record<string, string>) : {};
    holder[key] = value;
    fields[outer] = holder;
  }
  return fields;
}

/** Verifies one callback and hands it to the merchant's code; answers what the platform expects. */
export async function handleCallback(body: string | ReceivedFields, options: CallbackOptions): Promise<CallbackAnswer> {
  const fields = typeof body === 'string' ? parseCallbackBody(body) : body;
  let email: string | undefined;
  try {
    email = await options.emailOf?.(fields);
  } catch (error) {
    options.onRefused?.('handler', fields, error);
    return 'ERROR';
  }
  if (!verifyCallback(fields as CallbackFields, { password: options.password, email, digest: options.digest })) {
    options.onRefused?.('hash', fields);
    return 'ERROR';
  }
  try {
    await options.onCallback(fields);
    return 'OK';
  } catch (error) {
    options.onRefused?.('handler', fields, error);
    return 'ERROR';
  }
}

function readBody(request: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= bodyBytesMax) chunks.push(chunk);
    });
    request.on('end', () => resolve(bytes > bodyBytesMax ? null : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function answerWith(response: ServerResponse, answer: CallbackAnswer): void {
  response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(answer);
}

/** A body a framework already parsed (Express' urlencoded(), Fastify's form parser), or none. */
function parsedBodyOf(request: IncomingMessage & { body?: unknown }): string | ReceivedFields | undefined {
  const body = request.body;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (body !== null && typeof body === 'object' && Object.keys(body).length > 0) return body as ReceivedFields;
  return undefined;
}

/** `http.createServer(nodeCallbackHandler({...}))`, or call it from your own request handler. */
export function nodeCallbackHandler(options: CallbackOptions) {
  return async (request: IncomingMessage & { body?: unknown }, response: ServerResponse): Promise<void> => {
    let body = parsedBodyOf(request);
    if (body === undefined) {
      const text = await readBody(request).catch(() => null);
      if (text === null) return answerWith(response, 'ERROR');
      body = text;
    }
    answerWith(response, await handleCallback(body, options));
  };
}

/** Express-style `(req, res)`: `app.post('/callback', expressCallbackHandler({...}))`, with or
 * without `express.urlencoded()` before it. */
export const expressCallbackHandler = nodeCallbackHandler;

interface FastifyLikeRequest {
  body?: unknown;
}
interface FastifyLikeReply {
  type(contentType: string): unknown;
  send(payload: string): unknown;
}

/**
 * Fastify: `app.post('/callback', fastifyCallbackHandler({...}))`. Fastify needs a parser for
 * form bodies: `@fastify/formbody`, or a string parser —
 * `app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, …)`
 * whose callback passes the body on as it is.
 */
export function fastifyCallbackHandler(options: CallbackOptions) {
  return async (request: FastifyLikeRequest, reply: FastifyLikeReply): Promise<void> => {
    const body = request.body;
    const answer = typeof body === 'string' || (body !== null && typeof body === 'object')
      ? await handleCallback(body as string | ReceivedFields, options)
      : 'ERROR';
    reply.type('text/plain; charset=utf-8');
    reply.send(answer);
  };
}
