import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KassaMetrics } from '../observability/metrics.ts';
import type { Storage } from '../storage/database.ts';

/**
 * What an operator's machinery talks to: /health/live, /health/ready, /metrics (docs/adr/0060,
 * 0061), and the request id every answer carries.
 */

export const requestIdHeader = 'x-request-id';
/** A caller's id is kept if it is 1–128 printable ASCII characters (no spaces, no controls: it
 * goes into log lines and the payment's row); otherwise Kassa makes one. */
const acceptableRequestId = /^[\x21-\x7e]{1,128}$/;

/** Fastify's genReqId: the caller's X-Request-Id when acceptable, else a random UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[requestIdHeader];
  if (typeof given === 'string' && acceptableRequestId.test(given)) return given;
  return randomUUID();
}

/** Whether the process is draining (SIGTERM received): ready turns false at once. */
export class Lifecycle {
  draining = false;
}

/** Every answer, API and pages and errors alike, names its request id; while draining, every
 * answer also closes its connection, so keep-alive clients reconnect to another node instead
 * of finding this one gone mid-request. */
export function registerRequestIdEcho(app: FastifyInstance, lifecycle: Lifecycle): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header(requestIdHeader, request.id);
    if (lifecycle.draining) reply.header('connection', 'close');
    done(null, payload);
  });
}

export function registerHealthRoutes(app: FastifyInstance, storage: Storage, lifecycle: Lifecycle): void {
  app.get('/health/live', async (_request, reply) => reply.code(200).send({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    const problems = lifecycle.draining
      ? ['draining: the process is shutting down'] : await storage.readinessProblems();
    if (problems.length === 0) return reply.code(200).send({ status: 'ready' });
    return reply.code(503).send({ status: 'not ready', problems });
  });
}

function tokenMatches(request: FastifyRequest, token: string): boolean {
  const given = request.headers.authorization ?? '';
  const expected = `Bearer ${token}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** `token`: required as `Authorization: Bearer <token>`; undefined: open (sandbox, or the
 * separate metrics port, which the operator binds to a private address). */
export function registerMetricsRoute(app: FastifyInstance, metrics: KassaMetrics, token: string | undefined): void {
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    if (token !== undefined && !tokenMatches(request, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ status: 'unauthorized' });
    }
    const { contentType, text } = await metrics.scrape();
    return reply.code(200).header('content-type', contentType).send(text);
  });
}
