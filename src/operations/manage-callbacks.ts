import type { Clock } from '../domain/clock.ts';
import type { Storage } from '../storage/database.ts';
import {
  listBlockedUrls, listCallbacks, requeueCallback, unblockUrls, type CallbackRecord, type CallbackState,
} from '../storage/callbacks.ts';

/** Operator use cases behind `kassa callbacks …`: see deliveries, re-send, unblock URLs. */

export class CallbackInputError extends Error {}

const states: CallbackState[] = ['pending', 'delivered', 'failed'];
/** Callbacks shown at most by one `list`, newest first. */
export const listLimitDefault = 100;
export const listLimitMax = 10_000;

function isoOf(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** What the CLI shows of a callback: its identity, state and every attempt. The payload's
 * action/result/status are shown; the payload carries masks only, and the hash is computed at
 * send time and never stored. */
export function describeCallback(record: CallbackRecord) {
  const payload = JSON.parse(record.payloadJson) as Record<string, unknown>;
  return {
    outbox_id: record.outboxId,
    trans_id: record.transId,
    merchant_id: record.merchantId,
    action: payload.action ?? null,
    result: payload.result ?? null,
    payment_status: payload.status ?? null,
    state: record.state,
    attempt_count: record.attemptCount,
    created_at: isoOf(record.createdAtMs),
    next_attempt_at: record.state === 'pending' ? isoOf(record.nextAttemptAtMs) : null,
    delivered_at: isoOf(record.deliveredAtMs),
    failed_at: isoOf(record.failedAtMs),
    last_error: record.lastError,
    attempts: record.attempts.map((attempt) => ({
      attempted_at: isoOf(attempt.attempted_at_ms),
      url: attempt.url,
      status_code: attempt.status_code,
      answer: attempt.response_excerpt,
      duration_ms: attempt.duration_ms,
      outcome: attempt.outcome,
    })),
  };
}

export type DescribedCallback = ReturnType<typeof describeCallback>;

export async function findCallbacks(
  storage: Storage, filter: { transId?: string; state?: string; limit?: number },
): Promise<DescribedCallback[]> {
  if (filter.state !== undefined && !states.includes(filter.state as CallbackState)) {
    throw new CallbackInputError(`--status is one of ${states.join(', ')}`);
  }
  const limit = filter.limit ?? listLimitDefault;
  if (!Number.isInteger(limit) || limit < 1 || limit > listLimitMax) throw new CallbackInputError(`--limit is 1–${listLimitMax}`);
  const state = filter.state as CallbackState | undefined;
  const records = await listCallbacks(storage, { transId: filter.transId, state, limit });
  return records.map(describeCallback);
}

/** Queues a callback again now (delivered or failed alike) with a fresh retry schedule. */
export async function resendCallback(dependencies: { storage: Storage; clock: Clock }, outboxId: string): Promise<DescribedCallback> {
  if (!(await requeueCallback(dependencies.storage, outboxId, dependencies.clock.nowMs()))) {
    throw new CallbackInputError(`no callback with outbox id ${outboxId}`);
  }
  const [record] = await listCallbacks(dependencies.storage, { limit: 1, outboxId });
  return describeCallback(record);
}

/** Lifts a URL's block at once, as editing the merchant's callback URL does. */
export async function unblockUrl(dependencies: { storage: Storage; clock: Clock }, url: string) {
  const nowMs = dependencies.clock.nowMs();
  const wasBlocked = (await unblockUrls(dependencies.storage, [url], nowMs)).length > 0;
  return { url, was_blocked: wasBlocked };
}

export async function blockedUrls(dependencies: { storage: Storage; clock: Clock }, limit = listLimitMax) {
  const rows = await listBlockedUrls(dependencies.storage, dependencies.clock.nowMs(), limit);
  return rows.map((row) => ({
    url: row.url,
    consecutive_failures: row.consecutiveFailures,
    blocked_until: isoOf(row.blockedUntilMs),
    merchants: row.merchantCount,
  }));
}

/** Plain-text form of `callbacks list`: one block per callback, one line per attempt. */
export function callbacksAsText(callbacks: DescribedCallback[]): string {
  if (callbacks.length === 0) return 'no callbacks\n';
  return callbacks.map((callback) => {
    const head = [
      `${callback.outbox_id}  ${callback.state}  ${callback.action ?? '?'} ${callback.result ?? ''} ${callback.payment_status ?? ''}`.trimEnd(),
      `  trans_id ${callback.trans_id}  merchant ${callback.merchant_id}  attempts ${callback.attempt_count}`,
      callback.next_attempt_at ? `  next attempt ${callback.next_attempt_at}` : undefined,
      callback.delivered_at ? `  delivered ${callback.delivered_at}` : undefined,
      callback.failed_at ? `  given up ${callback.failed_at}` : undefined,
      callback.last_error ? `  last error ${callback.last_error}` : undefined,
    ];
    const attempts = callback.attempts.map((attempt) =>
      `  - ${attempt.attempted_at}  ${attempt.outcome.padEnd(9)} ${attempt.status_code ?? '---'}  ${attempt.duration_ms} ms  ${attempt.url}  ${JSON.stringify(attempt.answer ?? '')}`);
    return [...head.filter((line) => line !== undefined), ...attempts].join('\n');
  }).join('\n\n') + '\n';
}
