import { randomUUID } from 'node:crypto';
import qs from 'qs';
import { newId } from '../domain/ids.ts';
import type { PlatformContext } from '../operations/context.ts';
import { signCallback } from '../protocol/callback-signature.ts';
import {
  claimDueCallbacks, failUnaddressedCallbacks, noCallbackUrlError, recordAttempt, releaseClaim, type AttemptResult, type ClaimedCallback,
} from '../storage/callbacks.ts';
import { onCallbacksCommitted } from '../storage/callback-signal.ts';
import { CallbackTransport, type PostResult } from './callback-transport.ts';

/**
 * Delivers the callbacks that operations write to the outbox with every state change.
 *
 * The spec's rules: success is HTTP 2xx with the body `OK`; "five attempts", then attempts at
 * 15-minute steps; five consecutive failures block a URL for 15 minutes for every merchant using
 * it; editing the merchant's callback URL lifts the block at once (src/storage/merchants.ts).
 * Callbacks of one transaction go out in order. Every time comes from the injected clock, so
 * tests move a FixedClock instead of sleeping; only the per-attempt timeout is real time.
 *
 * Several nodes may run a dispatcher on one PostgreSQL: rows are leased by a claim
 * (src/storage/callbacks.ts), so no attempt is sent twice. A node that dies mid-attempt leaves a
 * lease that runs out, and the row is sent again: delivery is at least once, as the spec's
 * merchants (who answer OK to duplicates) expect.
 */

/** The delivery schedule and URL rule, in one place (README "Callbacks" documents them). */
export const callbackDeliveryPolicy = {
  /**
   * The spec's "five attempts" are taken as five quick ones: at once, then 10 s, 30 s, 1 min and
   * 2 min after each failure (3 min 40 s in all), enough to ride out a merchant's restart or
   * deploy without hammering it.
   */
  quickRetryDelaysMs: [10_000, 30_000, 60_000, 120_000],
  /** Then the spec's 15-minute steps. */
  slowRetryDelayMs: 15 * 60_000,
  /** 5 quick + 96 at 15-minute steps: about 24 hours of trying, then the row is marked failed
   * (still re-sendable with `kassa callbacks resend`). */
  maxAttempts: 5 + 96,
  urlFailureThreshold: 5,
  urlBlockMs: 15 * 60_000,
} as const;

/** Wait after failed attempt number `attemptNumber` (1-based) before the next one. */
export function retryDelayMs(attemptNumber: number, policy = callbackDeliveryPolicy): number {
  return policy.quickRetryDelaysMs[attemptNumber - 1] ?? policy.slowRetryDelayMs;
}

/** Header carrying the outbox id of the callback. */
export const callbackIdHeader = 'x-kassa-callback-id';

/** Callbacks of merchants without a URL marked failed by one statement. Larger than a claim:
 * they cost no attempt, and while any are left every claim walks past them (the bench saw a
 * backlog of 400 between two polls make claims PostgreSQL's largest cost). */
const unaddressedBatchSize = 1_000;

/** After a wake-up, wait this long so the callbacks of payments committed together share a
 * claim instead of each paying for one. */
const wakeDelayMs = 2;

/** Stored with each attempt: the answer's first 200 bytes, or the error text. */
const excerptBytes = 200;

export interface CallbackDispatcherOptions {
  /** production refuses loopback/private/link-local/unique-local targets (SSRF). */
  mode?: 'sandbox' | 'production';
  /** How often start() looks for due callbacks. */
  pollIntervalMs?: number;
  /** One attempt, connect to last byte. */
  attemptTimeoutMs?: number;
  /** Rows claimed at once. */
  batchSize?: number;
  /** Attempts in flight at once (and sockets per host). */
  maxInFlight?: number;
  /** Claims per runOnce: a bound on one run even when callbacks keep arriving. */
  batchesPerRunMax?: number;
  /** How long stop() waits for attempts in flight. */
  stopTimeoutMs?: number;
}

export interface DispatchCounts {
  /** Rows claimed (each gets one attempt, or is handed back if its URL got blocked meanwhile). */
  claimed: number;
  delivered: number;
  /** Attempts that failed and were scheduled again. */
  failed: number;
  /** Attempts that failed for the last time: the callback is now marked failed. */
  gaveUp: number;
  /** Claimed rows handed back unsent because their URL was blocked during this run. */
  heldBack: number;
}

function emptyCounts(): DispatchCounts {
  return { claimed: 0, delivered: 0, failed: 0, gaveUp: 0, heldBack: 0 };
}

function excerptOf(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= excerptBytes ? text : bytes.subarray(0, excerptBytes).toString('utf8');
}

/** The spec: the merchant answers the string OK (surrounding whitespace forgiven) with a 2xx. */
export function isAcknowledged(result: Pick<PostResult, 'statusCode' | 'body'>): boolean {
  return result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300 && result.body?.trim() === 'OK';
}

/**
 * Runs `work` over `items` with at most `limit` at once. A failing item (the database briefly
 * unreachable while recording, say) does not abandon the others mid-flight: every item is
 * worked, then the first error is thrown. Rows whose result could not be recorded keep their
 * lease and are sent again when it runs out.
 */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const lane = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      try {
        await work(item);
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (errors.length > 0) throw errors[0];
}

export class CallbackDispatcher {
  readonly #context: PlatformContext;
  readonly #transport: CallbackTransport;
  readonly #pollIntervalMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #batchSize: number;
  readonly #maxInFlight: number;
  readonly #batchesPerRunMax: number;
  readonly #stopTimeoutMs: number;
  readonly #leaseMs: number;
  /** Exposed for tests and docs: how long a claim holds its rows. */
  get leaseMs(): number {
    return this.#leaseMs;
  }
  #running = false;
  /** Set by stop(): a run in progress finishes its batch and claims no more. */
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  /** A run is in progress (started by the timer). */
  #inRun = false;
  /** A callback was committed during the run in progress: run again right after it. */
  #wakeRequested = false;
  /** The timer is already set to fire within wakeDelayMs. */
  #wakeScheduled = false;
  readonly #runs = new Set<Promise<unknown>>();

  constructor(context: PlatformContext, options: CallbackDispatcherOptions = {}) {
    this.#context = context;
    this.#pollIntervalMs = options.pollIntervalMs ?? 250;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.#batchSize = options.batchSize ?? 64;
    this.#maxInFlight = options.maxInFlight ?? 16;
    this.#batchesPerRunMax = options.batchesPerRunMax ?? 16;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? this.#attemptTimeoutMs + 5_000;
    for (const [name, value] of Object.entries({
      pollIntervalMs: this.#pollIntervalMs, attemptTimeoutMs: this.#attemptTimeoutMs, batchSize: this.#batchSize,
      maxInFlight: this.#maxInFlight, batchesPerRunMax: this.#batchesPerRunMax,
    })) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`callback dispatcher: ${name} must be positive`);
    }
    // A claimed batch is worked through maxInFlight at a time, each attempt bounded by the
    // timeout: the lease covers the slowest possible batch, with a margin for recording results
    // and for clock differences between nodes. It is also how long the rows of a node that died
    // mid-batch wait before another node sends them.
    this.#leaseMs = Math.ceil(this.#batchSize / this.#maxInFlight) * (this.#attemptTimeoutMs + 1_000) + 5_000;
    this.#transport = new CallbackTransport({
      mode: options.mode ?? 'sandbox', attemptTimeoutMs: this.#attemptTimeoutMs, maxSockets: this.#maxInFlight,
    });
  }

  /** Delivers what is due now (claims repeatedly until nothing is left, at most
   * batchesPerRunMax times) and says what happened. Tests call this; start() polls it. */
  async runOnce(): Promise<DispatchCounts> {
    const run = this.#run();
    this.#runs.add(run);
    try {
      return await run;
    } finally {
      this.#runs.delete(run);
    }
  }

  async #run(): Promise<DispatchCounts> {
    const counts = emptyCounts();
    let unaddressedBefore = 0;
    for (let batch = 0; batch < this.#batchesPerRunMax && !this.#stopped; batch += 1) {
      const nowMs = this.#context.clock.nowMs();
      const { db, dialect } = this.#context.storage;
      // A merchant without a callback URL: nothing to send, the rows are marked failed in bulk
      // (a setting, not an incident: debug, not one warn line per payment). Once per run, or
      // again while batches come back full: under load a run would otherwise spend a statement
      // on every few payments.
      const unaddressed = batch === 0 || unaddressedBefore >= unaddressedBatchSize
        ? await failUnaddressedCallbacks(db, dialect, nowMs, unaddressedBatchSize) : 0;
      unaddressedBefore = unaddressed;
      if (unaddressed > 0) {
        counts.gaveUp += unaddressed;
        this.#context.logger.debug({ count: unaddressed, error: noCallbackUrlError }, 'callbacks not sent');
      }
      const claimToken = randomUUID();
      const claimed = await claimDueCallbacks(db, dialect, {
        nowMs, leaseUntilMs: nowMs + this.#leaseMs, claimToken, limit: this.#batchSize,
      });
      if (claimed.length === 0 && unaddressed === 0) break;
      counts.claimed += claimed.length;
      // URLs this run has seen blocked: the rest of the batch for them is handed back unsent,
      // so a failing URL gets at most the attempts already in flight beyond its five.
      const blockedUntilByUrl = new Map<string, number>();
      await forEachLimited(claimed, this.#maxInFlight, async (callback) => {
        const outcome = await this.#deliver(callback, claimToken, blockedUntilByUrl);
        counts[outcome] += 1;
      });
    }
    return counts;
  }

  /** One claimed callback. Held back (its claim released) when its URL was blocked during this
   * run, and when stopping (SIGTERM): claimed, unsent callbacks go back at once, not when the
   * lease runs out. */
  async #deliver(
    callback: ClaimedCallback, claimToken: string, blockedUntilByUrl: Map<string, number>,
  ): Promise<'delivered' | 'failed' | 'gaveUp' | 'heldBack'> {
    const context = this.#context;
    const url = callback.callbackUrl ?? '';
    const blockedUntilMs = blockedUntilByUrl.get(url);
    if (this.#stopped || (blockedUntilMs !== undefined && blockedUntilMs > context.clock.nowMs())) {
      await releaseClaim(context.storage.db, callback.outboxId, claimToken);
      return 'heldBack';
    }
    const attemptedAtMs = context.clock.nowMs();
    const attemptNumber = callback.attemptCount + 1;
    let result: PostResult;
    let outcome: 'delivered' | 'failed' | 'refused' | 'skipped';
    if (url === '') {
      // The URL was removed between the claim and now (rows without one are never claimed):
      // nothing to send to, a permanent condition until an operator sets a URL and re-sends.
      result = { statusCode: null, body: null, error: noCallbackUrlError, refused: false, durationMs: 0 };
      outcome = 'skipped';
    } else {
      const body = this.#signedBody(callback);
      result = typeof body === 'string'
        // The id is the same on every attempt of one callback: a merchant may de-duplicate by it
        // (delivery is at least once). It is not part of the spec's fields, so it is a header.
        ? await this.#transport.post(url, body, { [callbackIdHeader]: callback.outboxId })
        : { statusCode: null, body: null, error: body.error, refused: false, durationMs: 0 };
      outcome = isAcknowledged(result) ? 'delivered' : result.refused ? 'refused' : 'failed';
    }
    const finishedAtMs = Math.max(context.clock.nowMs(), attemptedAtMs);
    const errorText = result.error ?? `HTTP ${result.statusCode}: ${excerptOf(result.body ?? '').trim() || '(empty answer)'}`;
    let next: AttemptResult['next'];
    if (outcome === 'delivered') next = { kind: 'delivered' };
    else if (outcome === 'skipped' || attemptNumber >= callbackDeliveryPolicy.maxAttempts) next = { kind: 'give-up', error: errorText };
    else next = { kind: 'retry', nextAttemptAtMs: finishedAtMs + retryDelayMs(attemptNumber), error: errorText };

    const recorded = await this.#recordAttempt(outcome, {
      attempt: {
        attempt_id: newId(attemptedAtMs),
        outbox_id: callback.outboxId,
        url,
        attempted_at_ms: attemptedAtMs,
        status_code: result.statusCode,
        response_excerpt: result.body !== null ? excerptOf(result.body) : excerptOf(result.error ?? ''),
        // Wall time of the exchange (the injected clock may stand still in tests).
        duration_ms: result.durationMs,
        outcome,
      },
      finishedAtMs,
      claimToken,
      next,
      countsForUrl: outcome !== 'skipped',
      urlPolicy: { failureThreshold: callbackDeliveryPolicy.urlFailureThreshold, blockMs: callbackDeliveryPolicy.urlBlockMs },
    });
    if (recorded.blockedUntilMs !== null) blockedUntilByUrl.set(url, recorded.blockedUntilMs);

    // The log names the callback and the outcome, never the payload (no card data, no hash)
    // nor the URL's path and query, which may carry a merchant's token.
    const logFields = {
      outboxId: callback.outboxId, transId: callback.transId, merchantId: callback.merchantId, attempt: attemptNumber,
      host: hostOf(url), statusCode: result.statusCode, durationMs: result.durationMs, outcome,
    };
    if (next.kind === 'delivered') {
      context.logger.debug(logFields, 'callback delivered');
      return 'delivered';
    }
    if (recorded.blockedUntilMs !== null) {
      context.logger.warn({ host: hostOf(url), blockedUntilMs: recorded.blockedUntilMs }, 'callback URL blocked after consecutive failures');
    }
    if (next.kind === 'give-up') {
      // A merchant without a callback URL is a setting, not an incident: one warn line per
      // payment would flood the log (the bench saw 10,000 lines a minute).
      if (outcome === 'skipped') context.logger.debug({ ...logFields, error: next.error }, 'callback not sent');
      else context.logger.warn({ ...logFields, error: next.error }, 'callback given up');
      return 'gaveUp';
    }
    context.logger.info({ ...logFields, error: next.error, nextAttemptAtMs: next.nextAttemptAtMs }, 'callback attempt failed');
    return 'failed';
  }

  /** Counted for /metrics, then written. */
  #recordAttempt(outcome: string, input: Parameters<typeof recordAttempt>[1]): ReturnType<typeof recordAttempt> {
    this.#context.metrics?.recordCallbackAttempt(outcome);
    return recordAttempt(this.#context.storage, input);
  }

  /** The form body, signed now with the merchant's current PASSWORD (Formula 2). */
  #signedBody(callback: ClaimedCallback): string | { error: string } {
    if (callback.payerEmail === null || callback.cardBin === null || callback.cardLastFour === null) {
      return { error: `payment ${callback.transId} not found; cannot sign the callback` };
    }
    let password: string;
    try {
      password = this.#context.vault.decrypt(callback.passwordCiphertext);
    } catch (error) {
      return { error: `cannot read the merchant password: ${(error as Error).message}` };
    }
    const payload = JSON.parse(callback.payloadJson) as Record<string, unknown>;
    const signed = signCallback(payload, {
      password, email: callback.payerEmail, cardNumberOrDigits: callback.cardBin + callback.cardLastFour,
    });
    // PHP's http_build_query form: nested objects (redirect_params) as brackets, spaces as +.
    return qs.stringify(signed, { format: 'RFC1738' });
  }

  /** Polls every pollIntervalMs until stop(); a run that hit its bound is followed at once, and
   * a callback committed by this process wakes it early (storage/callback-signal.ts). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = false;
    this.#unsubscribe = onCallbacksCommitted(() => this.#wake());
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#wakeScheduled = delayMs <= wakeDelayMs;
  }

  /** A callback was just committed here: run soon rather than at the next poll. Wakes that come
   * while a run is in progress make it go again at once; several within wakeDelayMs share a run. */
  #wake(): void {
    if (!this.#running) return;
    if (this.#inRun) this.#wakeRequested = true;
    else if (!this.#wakeScheduled) this.#schedule(wakeDelayMs);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#wakeScheduled = false;
    if (!this.#running) return;
    let moreWaiting = false;
    this.#inRun = true;
    this.#wakeRequested = false;
    try {
      const counts = await this.runOnce();
      moreWaiting = counts.claimed >= this.#batchSize * this.#batchesPerRunMax;
    } catch (error) {
      // The database may be briefly unreachable; the next poll tries again.
      this.#context.logger.error({ error: (error as Error).message }, 'callback dispatcher run failed');
    } finally {
      this.#inRun = false;
    }
    if (this.#running) this.#schedule(moreWaiting || this.#wakeRequested ? 0 : this.#pollIntervalMs);
  }

  /** Stops polling and waits (at most stopTimeoutMs) for attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    let timeout: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, this.#stopTimeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.#runs]), deadline]);
    clearTimeout(timeout);
    this.#transport.close();
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
