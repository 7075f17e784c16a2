import { type Kysely, type QueryCreator, type Transaction, sql } from 'kysely';
import type { DialectName, Storage } from './database.ts';
import { callbacksCommitted } from './callback-signal.ts';
import type { OutboxRow } from './payments.ts';
import type { CallbackAttemptTable, Database } from './schema.ts';

/**
 * Callback delivery state: claiming due outbox rows, recording attempts, URL blocks. The
 * dispatcher (src/workers/callback-dispatcher.ts) decides; this file only reads and writes.
 */

type Executor = Kysely<Database> | Transaction<Database>;

export interface ClaimRequest {
  nowMs: number;
  leaseUntilMs: number;
  claimToken: string;
  limit: number;
}

/** What one delivery needs, read after the claim: the URL and secrets are read at send time,
 * so a changed callback URL or a rotated key applies to retries too. */
export interface ClaimedCallback {
  outboxId: string;
  transId: string;
  merchantId: string;
  payloadJson: string;
  attemptCount: number;
  callbackUrl: string | null;
  passwordCiphertext: string;
  /** The merchant's hash mode: callbacks are signed with it too. */
  hashDigest: 'md5' | 'sha256';
  /** Null only if the payment row is missing (never written that way; reported, not thrown). */
  payerEmail: string | null;
  cardBin: string | null;
  cardLastFour: string | null;
}

/** Why a callback of a merchant without a callback URL is marked failed without an attempt. */
export const noCallbackUrlError = 'the merchant has no callback URL';

/**
 * Rows the dispatcher may act on now: callbacks not delivered or given up, due, not leased by a
 * live claim, and with no earlier undelivered callback of the same transaction (callbacks of one
 * trans_id go out in order; v7 ids sort by creation). `addressed`: rows whose merchant has a
 * callback URL that is not blocked (to send); otherwise rows whose merchant has none (to mark
 * failed in bulk: there is nothing to send them to).
 */
function dueCallbacks(db: Executor, nowMs: number, limit: number, addressed: boolean) {
  let query = db.selectFrom('outbox as o')
    .innerJoin('merchants as m', 'm.merchant_id', 'o.merchant_id')
    .select('o.outbox_id')
    .where('o.topic', '=', 'callback')
    .where('o.delivered_at_ms', 'is', null)
    .where('o.failed_at_ms', 'is', null)
    .where('o.next_attempt_at_ms', '<=', nowMs)
    .where((eb) => eb.or([eb('o.claimed_until_ms', 'is', null), eb('o.claimed_until_ms', '<=', nowMs)]))
    .where((eb) => eb.not(eb.exists(
      eb.selectFrom('outbox as earlier')
        .select(sql<number>`1`.as('one'))
        .whereRef('earlier.trans_id', '=', 'o.trans_id')
        .whereRef('earlier.outbox_id', '<', 'o.outbox_id')
        .where('earlier.topic', '=', 'callback')
        .where('earlier.delivered_at_ms', 'is', null)
        .where('earlier.failed_at_ms', 'is', null)
        // OFFSET keeps PostgreSQL from turning this into an anti join, which it planned as a
        // walk over every pending row per candidate (quadratic in the backlog) whenever its
        // statistics dated from a quiet moment; as a subplan it is an index look-up by trans_id.
        .limit(1).offset(0),
    )));
  // The payment's own URL (5.6.x callback_url, on the row) or else the merchant's.
  const url = sql<string | null>`coalesce(o.callback_url, m.callback_url)`;
  if (addressed) {
    query = query
      .leftJoin('callback_url_blocks as b', (join) => join.on('b.url', '=', url))
      .where(url, 'is not', null).where(url, '<>', '')
      .where((eb) => eb.or([eb('b.blocked_until_ms', 'is', null), eb('b.blocked_until_ms', '<=', nowMs)]));
  } else {
    query = query.where((eb) => eb.or([eb(url, 'is', null), eb(url, '=', '')]));
  }
  return query.orderBy('o.next_attempt_at_ms').orderBy('o.outbox_id').limit(limit);
}

/**
 * Marks due callbacks of merchants without a callback URL as failed, up to `limit`, in one
 * statement: nothing can be sent, and a claim plus a recorded attempt per row was most of the
 * database work of a SALE for such a merchant (the profile: three round trips per payment).
 * The row stays, re-sendable once a URL is set (`kassa callbacks resend`). Returns how many.
 */
export async function failUnaddressedCallbacks(db: Kysely<Database>, dialect: DialectName, nowMs: number, limit: number): Promise<number> {
  let candidates = dueCallbacks(db, nowMs, limit, false);
  // PostgreSQL: rows another node is working on are skipped, not waited for.
  if (dialect === 'postgres') candidates = candidates.forUpdate('o').skipLocked();
  const result = await db.updateTable('outbox')
    .set({ failed_at_ms: nowMs, last_error: noCallbackUrlError, claimed_until_ms: null, claim_token: null })
    .where('outbox_id', 'in', candidates)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Leases up to `limit` due callbacks to `claimToken` and returns them with what sending needs.
 * The URL and secrets are read at claim time, so a changed callback URL or a rotated key applies
 * to retries too.
 * The one place where the dialects differ for claiming:
 * - PostgreSQL (several nodes): one statement — candidates FOR UPDATE SKIP LOCKED, the lease
 *   UPDATE and the read of what sending needs as CTEs, so a row another node is claiming is
 *   skipped, never waited for, never taken twice, in one round trip (it was five);
 * - SQLite (one node, but the CLI or a second process may share the file): one conditional
 *   UPDATE whose subquery carries the due conditions (a statement is atomic and writers are
 *   serialised; a single write avoids the read-to-write lock upgrade that fails under
 *   contention), then the read. */
export async function claimDueCallbacks(db: Kysely<Database>, dialect: DialectName, request: ClaimRequest): Promise<ClaimedCallback[]> {
  const lease = { claimed_until_ms: request.leaseUntilMs, claim_token: request.claimToken };
  const details = ['o.outbox_id', 'o.trans_id', 'o.merchant_id', 'o.payload_json', 'o.attempt_count',
    sql<string | null>`coalesce(o.callback_url, m.callback_url)`.as('callback_url'), 'm.password_ciphertext',
    'm.hash_digest', 'p.payer_email', 'p.card_bin', 'p.card_last_four'] as const;
  let rows;
  if (dialect === 'postgres') {
    rows = await db
      .with('candidates', (creator) => dueCallbacks(creator as unknown as Executor, request.nowMs, request.limit, true)
        .forUpdate('o').skipLocked())
      .with('claimed', (creator) => creator.updateTable('outbox').set(lease)
        .from('candidates').whereRef('outbox.outbox_id', '=', 'candidates.outbox_id')
        .returning(['outbox.outbox_id', 'outbox.trans_id', 'outbox.merchant_id', 'outbox.payload_json', 'outbox.attempt_count',
          'outbox.callback_url']))
      .selectFrom('claimed as o')
      .innerJoin('merchants as m', 'm.merchant_id', 'o.merchant_id')
      .leftJoin('payments as p', 'p.trans_id', 'o.trans_id')
      .select([...details])
      .orderBy('o.outbox_id')
      .execute();
  } else {
    const claimed = await db.updateTable('outbox').set(lease)
      .where('outbox_id', 'in', dueCallbacks(db, request.nowMs, request.limit, true))
      .returning('outbox_id')
      .execute();
    if (claimed.length === 0) return [];
    rows = await db.selectFrom('outbox as o')
      .innerJoin('merchants as m', 'm.merchant_id', 'o.merchant_id')
      .leftJoin('payments as p', 'p.trans_id', 'o.trans_id')
      .select([...details])
      .where('o.outbox_id', 'in', claimed.map((row) => row.outbox_id))
      .where('o.claim_token', '=', request.claimToken)
      .orderBy('o.outbox_id')
      .execute();
  }
  return rows.map((row) => ({
    outboxId: row.outbox_id,
    transId: row.trans_id,
    merchantId: row.merchant_id,
    payloadJson: row.payload_json,
    attemptCount: Number(row.attempt_count),
    callbackUrl: row.callback_url,
    passwordCiphertext: row.password_ciphertext,
    hashDigest: row.hash_digest === 'sha256' ? 'sha256' as const : 'md5' as const,
    payerEmail: row.payer_email,
    cardBin: row.card_bin,
    cardLastFour: row.card_last_four,
  }));
}

/** Gives a claimed row back untouched (its URL got blocked while it waited in the batch). */
export async function releaseClaim(db: Kysely<Database>, outboxId: string, claimToken: string): Promise<void> {
  await db.updateTable('outbox').set({ claimed_until_ms: null, claim_token: null })
    .where('outbox_id', '=', outboxId).where('claim_token', '=', claimToken).execute();
}

export type AttemptRecord = CallbackAttemptTable;

export interface AttemptResult {
  attempt: AttemptRecord;
  /** The injected clock when the attempt ended (duration_ms is wall time, not clock time). */
  finishedAtMs: number;
  claimToken: string;
  /** Delivered, or a failure with the row's next state. */
  next:
    | { kind: 'delivered' }
    | { kind: 'retry'; nextAttemptAtMs: number; error: string }
    | { kind: 'give-up'; error: string };
  /** Whether this attempt counts for the URL's consecutive-failure counter. */
  countsForUrl: boolean;
  urlPolicy: { failureThreshold: number; blockMs: number };
}

/**
 * Writes one attempt, the row's new state and the URL's counter atomically. The three statements
 * are built once and run two ways (the dialect difference is only how they are sent):
 * - PostgreSQL: one statement, the first two as data-modifying CTEs — one round trip instead of
 *   five (BEGIN, three statements, COMMIT), which is what bounded delivery throughput;
 * - SQLite: in order through storage.write, so attempts finishing together share one commit (one
 *   fsync); the attempt insert comes first so the transaction's first statement is a write and
 *   SQLite takes the write lock at once instead of failing to upgrade a read lock.
 * Returns the URL's block end when this failure blocked it (or it was already blocked).
 */
export async function recordAttempt(
  storage: Pick<Storage, 'db' | 'dialect' | 'write'>, result: AttemptResult,
): Promise<{ blockedUntilMs: number | null }> {
  const { attempt, next } = result;
  const nowMs = result.finishedAtMs;
  const insertAttempt = (creator: QueryCreator<Database>) => creator.insertInto('callback_attempts').values(attempt);
  // A lost lease (another claim holds the row now, or an operator re-sent it) leaves the row to
  // its new holder; the attempt itself is still on record.
  const updateRow = (creator: QueryCreator<Database>) => creator.updateTable('outbox')
    .set({
      claimed_until_ms: null,
      claim_token: null,
      attempt_count: sql<number>`attempt_count + 1`,
      ...(next.kind === 'delivered' ? { delivered_at_ms: nowMs, last_error: null } : {}),
      ...(next.kind === 'retry' ? { next_attempt_at_ms: next.nextAttemptAtMs, last_error: next.error } : {}),
      ...(next.kind === 'give-up' ? { failed_at_ms: nowMs, last_error: next.error } : {}),
    })
    .where('outbox_id', '=', attempt.outbox_id)
    .where('claim_token', '=', result.claimToken);
  // A success resets the counter and ends a block: the URL has just answered OK.
  const resetUrl = (creator: QueryCreator<Database>) => creator.updateTable('callback_url_blocks')
    .set({ consecutive_failures: 0, blocked_until_ms: null, updated_at_ms: nowMs })
    .where('url', '=', attempt.url);
  const countFailure = (creator: QueryCreator<Database>) => countUrlFailure(creator, attempt.url, nowMs, result.urlPolicy);
  const blockOf = (row: { blocked_until_ms: number | null } | undefined) => {
    const blockedUntilMs = row?.blocked_until_ms == null ? null : Number(row.blocked_until_ms);
    return { blockedUntilMs: blockedUntilMs !== null && blockedUntilMs > nowMs ? blockedUntilMs : null };
  };

  if (storage.dialect === 'postgres') {
    // The casts only drop the CTE names Kysely adds to the table types; the builders are the
    // same statements either way.
    const withAttempt = storage.db.with('recorded_attempt', insertAttempt) as unknown as QueryCreator<Database>;
    if (!result.countsForUrl) {
      await updateRow(withAttempt).execute();
      return { blockedUntilMs: null };
    }
    const withRow = storage.db.with('recorded_attempt', insertAttempt)
      .with('recorded_row', (creator) => updateRow(creator as unknown as QueryCreator<Database>)) as unknown as QueryCreator<Database>;
    if (next.kind === 'delivered') {
      await resetUrl(withRow).execute();
      return { blockedUntilMs: null };
    }
    return blockOf(await countFailure(withRow).executeTakeFirst());
  }
  return storage.write(async (transaction) => {
    await insertAttempt(transaction).execute();
    await updateRow(transaction).execute();
    if (!result.countsForUrl) return { blockedUntilMs: null };
    if (next.kind === 'delivered') {
      await resetUrl(transaction).execute();
      return { blockedUntilMs: null };
    }
    return blockOf(await countFailure(transaction).executeTakeFirst());
  });
}

/**
 * One more consecutive failure for a URL. The failure that reaches the threshold blocks the URL
 * until now + blockMs. After a block has run out the count starts again at 1, so an unblocked URL
 * gets a fresh set of attempts; failures of attempts that were already in flight when the block
 * began are counted but do not extend it. One upsert, so concurrent nodes count every failure.
 */
function countUrlFailure(
  creator: QueryCreator<Database>, url: string, nowMs: number, policy: { failureThreshold: number; blockMs: number },
) {
  const blockUntilMs = nowMs + policy.blockMs;
  const expired = sql<boolean>`callback_url_blocks.blocked_until_ms IS NOT NULL AND callback_url_blocks.blocked_until_ms <= ${nowMs}`;
  const newCount = sql<number>`CASE WHEN ${expired} THEN 1 ELSE callback_url_blocks.consecutive_failures + 1 END`;
  return creator.insertInto('callback_url_blocks')
    .values({
      url,
      consecutive_failures: 1,
      blocked_until_ms: policy.failureThreshold <= 1 ? blockUntilMs : null,
      updated_at_ms: nowMs,
    })
    .onConflict((conflict) => conflict.column('url').doUpdateSet({
      consecutive_failures: newCount,
      blocked_until_ms: sql<number | null>`CASE
        WHEN callback_url_blocks.blocked_until_ms IS NOT NULL AND callback_url_blocks.blocked_until_ms > ${nowMs}
          THEN callback_url_blocks.blocked_until_ms
        WHEN ${newCount} >= ${policy.failureThreshold} THEN ${blockUntilMs}
        ELSE NULL END`,
      updated_at_ms: nowMs,
    }))
    .returning(['blocked_until_ms']);
}

/**
 * Lifts the block (and the failure count) of these URLs and makes the waiting callbacks of every
 * merchant using them due now: the spec's manual unlock, after which "the sending of
 * notifications resumes immediately". Returns the URLs that were blocked.
 */
export async function liftUrlBlocks(db: Executor, urls: string[], nowMs: number): Promise<string[]> {
  const distinct = [...new Set(urls.filter((url) => url !== ''))];
  if (distinct.length === 0) return [];
  // Delete first and learn from RETURNING what was blocked: a write as the first statement
  // keeps SQLite from failing a read-to-write lock upgrade inside a caller's transaction.
  const removed = await db.deleteFrom('callback_url_blocks').where('url', 'in', distinct)
    .returning(['url', 'blocked_until_ms']).execute();
  await db.updateTable('outbox').set({ next_attempt_at_ms: nowMs })
    .where('topic', '=', 'callback')
    .where('delivered_at_ms', 'is', null)
    .where('failed_at_ms', 'is', null)
    .where('next_attempt_at_ms', '>', nowMs)
    .where((eb) => eb.or([
      eb('callback_url', 'in', distinct),
      eb('merchant_id', 'in', eb.selectFrom('merchants').select('merchant_id').where('callback_url', 'in', distinct)),
    ]))
    .execute();
  return removed.filter((row) => row.blocked_until_ms !== null && Number(row.blocked_until_ms) > nowMs).map((row) => row.url);
}

export interface BlockedUrl {
  url: string;
  consecutiveFailures: number;
  blockedUntilMs: number;
  merchantCount: number;
}

/** Lifts these URLs' blocks in a transaction of its own (liftUrlBlocks): the operator's unblock. */
export async function unblockUrls(storage: Storage, urls: string[], nowMs: number): Promise<string[]> {
  return storage.db.transaction().execute((transaction) => liftUrlBlocks(transaction, urls, nowMs));
}

export async function listBlockedUrls(storage: Storage, nowMs: number, limit: number): Promise<BlockedUrl[]> {
  const rows = await storage.db.selectFrom('callback_url_blocks as b')
    .select((eb) => [
      'b.url', 'b.consecutive_failures', 'b.blocked_until_ms',
      eb.selectFrom('merchants as m').select(eb.fn.countAll<number>().as('count')).whereRef('m.callback_url', '=', 'b.url').as('merchant_count'),
    ])
    .where('b.blocked_until_ms', '>', nowMs)
    .orderBy('b.blocked_until_ms')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    url: row.url,
    consecutiveFailures: Number(row.consecutive_failures),
    blockedUntilMs: Number(row.blocked_until_ms),
    merchantCount: Number(row.merchant_count ?? 0),
  }));
}

export type CallbackState = 'pending' | 'delivered' | 'failed';

export interface CallbackRecord {
  outboxId: string;
  transId: string;
  merchantId: string;
  payloadJson: string;
  state: CallbackState;
  attemptCount: number;
  createdAtMs: number;
  nextAttemptAtMs: number;
  deliveredAtMs: number | null;
  failedAtMs: number | null;
  lastError: string | null;
  attempts: AttemptRecord[];
}

/** Callbacks newest first, each with its attempts in order; bounded by `limit`. */
export async function listCallbacks(
  storage: Storage, filter: { transId?: string; outboxId?: string; state?: CallbackState; limit: number },
): Promise<CallbackRecord[]> {
  let query = storage.db.selectFrom('outbox').selectAll().where('topic', '=', 'callback');
  if (filter.transId !== undefined) query = query.where('trans_id', '=', filter.transId);
  if (filter.outboxId !== undefined) query = query.where('outbox_id', '=', filter.outboxId);
  if (filter.state === 'delivered') query = query.where('delivered_at_ms', 'is not', null);
  if (filter.state === 'failed') query = query.where('delivered_at_ms', 'is', null).where('failed_at_ms', 'is not', null);
  if (filter.state === 'pending') query = query.where('delivered_at_ms', 'is', null).where('failed_at_ms', 'is', null);
  const rows = await query.orderBy('outbox_id', 'desc').limit(filter.limit).execute();
  if (rows.length === 0) return [];
  const attempts = await storage.db.selectFrom('callback_attempts').selectAll()
    .where('outbox_id', 'in', rows.map((row) => row.outbox_id))
    .orderBy('attempted_at_ms').orderBy('attempt_id')
    .execute();
  return rows.map((row) => {
    const deliveredAtMs = row.delivered_at_ms === null ? null : Number(row.delivered_at_ms);
    const failedAtMs = row.failed_at_ms == null ? null : Number(row.failed_at_ms);
    return {
      outboxId: row.outbox_id,
      transId: row.trans_id,
      merchantId: row.merchant_id,
      payloadJson: row.payload_json,
      state: deliveredAtMs !== null ? 'delivered' : failedAtMs !== null ? 'failed' : 'pending',
      attemptCount: Number(row.attempt_count),
      createdAtMs: Number(row.created_at_ms),
      nextAttemptAtMs: Number(row.next_attempt_at_ms),
      deliveredAtMs,
      failedAtMs,
      lastError: row.last_error ?? null,
      attempts: attempts.filter((attempt) => attempt.outbox_id === row.outbox_id).map((attempt) => ({
        ...attempt,
        attempted_at_ms: Number(attempt.attempted_at_ms),
        status_code: attempt.status_code === null ? null : Number(attempt.status_code),
        duration_ms: Number(attempt.duration_ms),
      })),
    } satisfies CallbackRecord;
  });
}

/**
 * Queues a callback again now, delivered or given up alike, with a fresh retry schedule (the
 * attempts already made stay on record). A lease still held is dropped: the operator asked for
 * a new send, and an in-flight attempt's result no longer changes the row.
 */
export async function requeueCallback(storage: Storage, outboxId: string, nowMs: number): Promise<boolean> {
  const result = await storage.db.updateTable('outbox')
    .set({
      delivered_at_ms: null, failed_at_ms: null, next_attempt_at_ms: nowMs, attempt_count: 0,
      claimed_until_ms: null, claim_token: null, last_error: null,
    })
    .where('outbox_id', '=', outboxId).where('topic', '=', 'callback')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A copy of a callback row queued as a new one (`kassa trigger callback-…`, sandbox): same
 * payment, body and URL, its own id, due at `dueAtMs`, never attempted. False if none. */
export async function queueCallbackCopy(
  storage: Storage, outboxId: string, copy: { outboxId: string; nowMs: number; dueAtMs: number },
): Promise<boolean> {
  const row = await storage.db.selectFrom('outbox').selectAll()
    .where('outbox_id', '=', outboxId).where('topic', '=', 'callback').executeTakeFirst();
  if (!row) return false;
  await storage.db.insertInto('outbox').values({
    outbox_id: copy.outboxId, topic: 'callback', merchant_id: row.merchant_id, trans_id: row.trans_id,
    payload_json: row.payload_json, created_at_ms: copy.nowMs, next_attempt_at_ms: copy.dueAtMs, delivered_at_ms: null,
    callback_url: row.callback_url ?? null,
  }).execute();
  return true;
}

/** A callback row written on its own, for a payment already written (a cascade whose next
 * attempt could not be written: its previous attempt becomes the payment's final one). */
export async function insertCallback(storage: Storage, row: OutboxRow): Promise<void> {
  await storage.db.insertInto('outbox').values(row).execute();
  callbacksCommitted([row]);
}
