import qs from 'qs';
import type { Clock } from '../domain/clock.ts';
import { signCallback, verifyCallback } from '../protocol/callback-signature.ts';
import type { Vault } from '../security/vault.ts';
import { attemptsOf, callbacksSince, type WatchedCallback } from '../storage/callback-watch.ts';
import type { Storage } from '../storage/database.ts';

/**
 * `kassa listen`: every callback as it is committed (its fields, signed as the dispatcher signs
 * them, and whether the signature verifies), each delivery attempt and the merchant's answer,
 * and — with a forward URL — a copy posted there, as a developer's local receiver would get it.
 * The dispatcher is not involved: the copy is extra, the merchant's own delivery goes on.
 */
export type CallbackEvent =
  /** The callbacks committed before the watch began are behind it: from here on, each is shown. */
  | { kind: 'listening' }
  | {
      kind: 'committed';
      outboxId: string;
      transId: string;
      clientKey: string;
      committedAtMs: number;
      shownAtMs: number;
      fields: Record<string, unknown>;
      signed: boolean;
      verified: boolean;
      callbackUrl: string | null;
    }
  /** The signed copy posted to the forward URL, and that receiver's answer. */
  | {
      kind: 'forwarded';
      outboxId: string;
      transId: string;
      url: string;
      statusCode?: number;
      answer?: string;
      error?: string;
      durationMs: number;
    }
  | {
      kind: 'attempt';
      outboxId: string;
      transId: string;
      url: string;
      outcome: string;
      statusCode: number | null;
      answer: string | null;
      durationMs: number;
    };

export interface WatchOptions {
  clientKey?: string;
  forwardTo?: string;
  /** How often the outbox is read: a callback shows at most this long after its commit. */
  pollIntervalMs: number;
  /** Stop after this many callbacks were shown with their first attempt (tests, scripts). */
  maxCallbacks?: number;
  /** Stop after this long in any case (wall time); absent: until `signal` aborts. */
  durationMs?: number;
  signal?: AbortSignal;
}

/** A transaction that began before the watch (or the last read) may commit after it: rows are
 * read back this far, and those already shown skipped. */
const lookBackMs = 5_000;
/** An attempt row is written when its HTTP call ends (up to the attempt timeout after it began,
 * the time it is stamped with): attempts are read back this far behind the newest one shown. */
const attemptLookBackMs = 30_000;
/** Bounds per read and on what is remembered. */
const rowsPerReadMax = 200;
const rememberedMax = 10_000;
const forwardTimeoutMs = 5_000;

interface Dependencies {
  storage: Storage;
  vault: Vault;
  clock: Clock;
}

function signedFields(dependencies: Dependencies, row: WatchedCallback) {
  const payload = JSON.parse(row.payloadJson) as Record<string, unknown>;
  if (row.payerEmail === null || row.cardDigits === null) return { fields: payload, signed: false, verified: false };
  const password = dependencies.vault.decrypt(row.passwordCiphertext);
  const terms = { password, email: row.payerEmail, digest: row.hashDigest };
  const fields = signCallback(payload, { ...terms, cardNumberOrDigits: row.cardDigits });
  return { fields, signed: true, verified: verifyCallback(fields, terms) };
}

async function forward(url: string, outboxId: string, fields: Record<string, unknown>) {
  const startedMs = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      signal: AbortSignal.timeout(forwardTimeoutMs),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-kassa-callback-id': outboxId },
      body: qs.stringify(fields, { format: 'RFC1738' }),
    });
    const answer = (await response.text()).slice(0, 200);
    return { url, statusCode: response.status, answer, durationMs: Math.round(performance.now() - startedMs) };
  } catch (error) {
    return { url, error: (error as Error).message, durationMs: Math.round(performance.now() - startedMs) };
  }
}

/** What a watch remembers between reads, each part bounded. */
interface WatchState {
  /** outbox id → trans_id of every callback shown (or committed before the watch began). */
  shown: Map<string, string>;
  /** Callbacks shown whose delivery is not over: each later attempt (a retry) is shown too. */
  watching: Set<string>;
  /** Callbacks whose first attempt was shown. */
  attempted: Set<string>;
  shownAttempts: Set<string>;
  /** Callbacks shown with their first attempt. */
  completed: number;
  sinceMs: number;
  attemptsSinceMs: number;
}

/** Adds to a remembered set, forgetting the oldest entry at the bound. */
function remember(set: Set<string>, value: string): void {
  if (set.size >= rememberedMax) set.delete(set.values().next().value as string);
  set.add(value);
}

async function showCommitted(
  dependencies: Dependencies, options: WatchOptions, state: WatchState, onEvent: (event: CallbackEvent) => void,
): Promise<void> {
  const fromMs = state.sinceMs - lookBackMs;
  const rows = await callbacksSince(dependencies.storage, fromMs, rowsPerReadMax, options.clientKey);
  for (const row of rows) {
    if (state.shown.has(row.outboxId)) continue;
    if (state.shown.size >= rememberedMax) state.shown.delete(state.shown.keys().next().value as string);
    state.shown.set(row.outboxId, row.transId);
    remember(state.watching, row.outboxId);
    state.sinceMs = Math.max(state.sinceMs, row.createdAtMs);
    const { fields, signed, verified } = signedFields(dependencies, row);
    // Shown first, forwarded after: a slow local receiver does not delay what is seen.
    onEvent({
      kind: 'committed', outboxId: row.outboxId, transId: row.transId, clientKey: row.clientKey,
      committedAtMs: row.createdAtMs, shownAtMs: dependencies.clock.nowMs(), fields, signed, verified,
      callbackUrl: row.callbackUrl,
    });
    if (options.forwardTo && signed) {
      const sent = await forward(options.forwardTo, row.outboxId, fields);
      onEvent({ kind: 'forwarded', outboxId: row.outboxId, transId: row.transId, ...sent });
    }
  }
}

async function showAttempts(
  dependencies: Dependencies, state: WatchState, onEvent: (event: CallbackEvent) => void,
): Promise<void> {
  // At most rowsPerReadMax callbacks a read; those read go to the back, so every one is reached.
  const waiting = [...state.watching].slice(0, rowsPerReadMax);
  for (const outboxId of waiting) {
    state.watching.delete(outboxId);
    state.watching.add(outboxId);
  }
  const attempts = await attemptsOf(dependencies.storage, waiting, state.attemptsSinceMs, rowsPerReadMax);
  for (const attempt of attempts) {
    if (state.shownAttempts.has(attempt.attemptId)) continue;
    remember(state.shownAttempts, attempt.attemptId);
    state.attemptsSinceMs = Math.max(state.attemptsSinceMs, attempt.attemptedAtMs - attemptLookBackMs);
    if (!state.attempted.has(attempt.outboxId)) {
      remember(state.attempted, attempt.outboxId);
      state.completed += 1;
    }
    // Delivered ends it; a failure is retried (or given up, which the next attempts never show).
    if (attempt.outcome === 'delivered' || attempt.outcome === 'skipped') state.watching.delete(attempt.outboxId);
    onEvent({
      kind: 'attempt', outboxId: attempt.outboxId, transId: state.shown.get(attempt.outboxId) ?? '', url: attempt.url,
      outcome: attempt.outcome, statusCode: attempt.statusCode, answer: attempt.responseExcerpt,
      durationMs: attempt.durationMs,
    });
  }
}

/** Polls until the signal, the duration or the count ends it (one of them always can: Ctrl-C). */
export async function watchCallbacks(
  dependencies: Dependencies, options: WatchOptions, onEvent: (event: CallbackEvent) => void,
): Promise<void> {
  const state: WatchState = {
    shown: new Map(), watching: new Set(), attempted: new Set(), shownAttempts: new Set(), completed: 0,
    sinceMs: dependencies.clock.nowMs(), attemptsSinceMs: dependencies.clock.nowMs() - attemptLookBackMs,
  };
  // What is already committed is not news: remembered, not shown.
  const fromMs = state.sinceMs - lookBackMs;
  const earlier = await callbacksSince(dependencies.storage, fromMs, rememberedMax, options.clientKey);
  for (const row of earlier) state.shown.set(row.outboxId, row.transId);
  onEvent({ kind: 'listening' });
  const deadlineMs = performance.now() + (options.durationMs ?? Number.POSITIVE_INFINITY);
  const done = () => options.signal?.aborted || performance.now() >= deadlineMs
    || (options.maxCallbacks !== undefined && state.completed >= options.maxCallbacks);
  while (!done()) {
    await showCommitted(dependencies, options, state, onEvent);
    await showAttempts(dependencies, state, onEvent);
    if (!done()) await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
  }
}
