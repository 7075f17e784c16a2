import type { AuthorizationAnswer, Decision } from '../acquirers/connector.ts';
import type { AcquirerOutcome } from '../domain/payment.ts';

type UnknownOutcome = Extract<AcquirerOutcome, { outcome: 'unknown' }>;
import type { PlatformContext } from './context.ts';

/** How long a money operation waits for the acquirer before its outcome counts as unknown. */
export const acquirerTimeoutMsDefault = 30_000;

/**
 * Asks the acquirer with a bound on the wait. A connector that throws or does not answer in
 * time has not told us what happened at the bank: the outcome is `unknown`, never a decline,
 * and the caller keeps its claim (ADR 0010). The late answer, if one ever comes, is ignored;
 * the reconciler asks the connector again (finishUnknownOperation).
 */
export async function askAcquirer<Answer extends Decision | AuthorizationAnswer>(
  context: PlatformContext,
  what: string,
  transId: string,
  call: () => Promise<Answer>,
): Promise<Answer | UnknownOutcome> {
  const timeoutMs = context.acquirerTimeoutMs ?? acquirerTimeoutMsDefault;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<UnknownOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'unknown', reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  let pending: Promise<Answer>;
  try {
    pending = call();
  } catch (error) {
    // A connector that throws before it returns a promise has not answered either.
    pending = Promise.reject(error);
  }
  const answered = pending.then(
    (answer): Answer => answer,
    (error: unknown): UnknownOutcome => ({
      outcome: 'unknown',
      reason: error instanceof Error ? error.message : String(error),
    }),
  );
  try {
    const outcome = await Promise.race([answered, timedOut]);
    if (outcome.outcome === 'unknown') {
      context.logger.error(
        { transId, what, reason: outcome.reason },
        'acquirer outcome unknown; the operation stays waiting',
      );
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
