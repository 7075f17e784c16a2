import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatTransDate } from '../domain/dates.ts';
import { parseDuration } from '../domain/durations.ts';
import type { PlatformContext } from '../operations/context.ts';
import { advanceClockOffset, readClockOffset, SandboxClock } from '../storage/sandbox-clock.ts';

/**
 * Operator-only endpoints of a sandbox, registered only in sandbox mode and only when
 * KASSA_OPERATOR_TOKEN is set (production never has them: 404). Every request carries
 * `Authorization: Bearer <token>`.
 *
 *   GET  /operator/clock                    the sandbox time and offset
 *   POST /operator/clock/advance duration=30d   move the sandbox clock forward
 */
export function registerOperatorRoutes(app: FastifyInstance, context: PlatformContext, operatorToken: string): void {
  const expected = Buffer.from(`Bearer ${operatorToken}`);
  const authorized = (request: FastifyRequest): boolean => {
    const received = Buffer.from(String(request.headers.authorization ?? ''));
    return received.length === expected.length && timingSafeEqual(received, expected);
  };
  const clockState = async () => {
    if (context.clock instanceof SandboxClock) await context.clock.refresh();
    const nowMs = context.clock.nowMs();
    return { now: formatTransDate(nowMs, context.timeZone), now_ms: nowMs, offset_ms: await readClockOffset(context.storage) };
  };
  const guard = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (authorized(request)) return true;
    void reply.code(401).send({ result: 'ERROR', error_message: 'Operator token required.' });
    return false;
  };

  app.get('/operator/clock', async (request, reply) => {
    if (!guard(request, reply)) return reply;
    return reply.send(await clockState());
  });
  app.post('/operator/clock/advance', async (request, reply) => {
    if (!guard(request, reply)) return reply;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const text = typeof body.duration === 'string' ? body.duration : String((request.query as Record<string, unknown>).duration ?? '');
    const durationMs = parseDuration(text);
    if (durationMs === undefined) {
      return reply.code(400).send({ result: 'ERROR', error_message: 'duration: use a number and a unit s, m, h, d or w (e.g. 30d).' });
    }
    await advanceClockOffset(context.storage, durationMs, Date.now());
    context.logger.info({ durationMs }, 'sandbox clock advanced');
    return reply.send(await clockState());
  });
}
