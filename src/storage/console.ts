import type { Selectable } from 'kysely';
import type { PaymentStatus } from '../domain/payment.ts';
import type { Storage } from './database.ts';
import { merchantsChangedHere } from './merchant-cache.ts';
import type { AuditLogTable, ConsoleSessionTable, ConsoleUserTable } from './schema.ts';

/** The admin console's tables (migration 0050_console): accounts, sessions, sign-in failures,
 * the audit log, and the read-only queries of its pages (payment search, today's figures). */

export type ConsoleUserRow = Selectable<ConsoleUserTable>;
export type ConsoleSessionRow = Selectable<ConsoleSessionTable>;
export type AuditRow = Selectable<AuditLogTable>;

export async function insertConsoleUser(storage: Storage, row: ConsoleUserTable): Promise<void> {
  await storage.db.insertInto('console_users').values(row).execute();
}

export async function findConsoleUserByEmail(storage: Storage, email: string): Promise<ConsoleUserRow | undefined> {
  return storage.db.selectFrom('console_users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findConsoleUserById(storage: Storage, userId: string): Promise<ConsoleUserRow | undefined> {
  return storage.db.selectFrom('console_users').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function listConsoleUsers(storage: Storage, limit: number): Promise<ConsoleUserRow[]> {
  return storage.db.selectFrom('console_users').selectAll().orderBy('email').limit(limit).execute();
}

export async function insertSession(storage: Storage, row: ConsoleSessionTable): Promise<void> {
  await storage.db.insertInto('console_sessions').values(row).execute();
}

export async function findSession(storage: Storage, tokenDigest: string): Promise<ConsoleSessionRow | undefined> {
  return storage.db
    .selectFrom('console_sessions')
    .selectAll()
    .where('token_digest', '=', tokenDigest)
    .executeTakeFirst();
}

export async function touchSession(storage: Storage, tokenDigest: string, nowMs: number): Promise<void> {
  await storage.db
    .updateTable('console_sessions')
    .set({ last_seen_at_ms: nowMs })
    .where('token_digest', '=', tokenDigest)
    .execute();
}

export async function deleteSession(storage: Storage, tokenDigest: string): Promise<void> {
  await storage.db.deleteFrom('console_sessions').where('token_digest', '=', tokenDigest).execute();
}

export interface LoginLockPolicy {
  failuresMax: number;
  windowMs: number;
  lockMs: number;
}

/** Counts one failed sign-in of a subject; answers when its lock ends (0: not locked). */
export async function countLoginFailure(
  storage: Storage,
  subject: string,
  nowMs: number,
  policy: LoginLockPolicy,
): Promise<number> {
  return storage.write(async (transaction) => {
    const row = await transaction
      .selectFrom('console_login_failures')
      .selectAll()
      .where('subject', '=', subject)
      .executeTakeFirst();
    const fresh = !row || Number(row.window_started_at_ms) + policy.windowMs <= nowMs;
    const failures = fresh ? 1 : Number(row.failures) + 1;
    const lockedUntilMs = failures >= policy.failuresMax ? nowMs + policy.lockMs : Number(row?.locked_until_ms ?? 0);
    const values = {
      window_started_at_ms: fresh ? nowMs : Number(row.window_started_at_ms),
      failures,
      locked_until_ms: lockedUntilMs,
    };
    if (row)
      await transaction.updateTable('console_login_failures').set(values).where('subject', '=', subject).execute();
    else
      await transaction
        .insertInto('console_login_failures')
        .values({ subject, ...values })
        .execute();
    return lockedUntilMs;
  });
}

/** The latest lock among these subjects still in force at nowMs (0: none). */
export async function loginLockedUntilMs(storage: Storage, subjects: string[], nowMs: number): Promise<number> {
  const rows = await storage.db
    .selectFrom('console_login_failures')
    .select('locked_until_ms')
    .where('subject', 'in', subjects)
    .where('locked_until_ms', '>', nowMs)
    .execute();
  return Math.max(0, ...rows.map((row) => Number(row.locked_until_ms)));
}

export async function clearLoginFailures(storage: Storage, subject: string): Promise<void> {
  await storage.db.deleteFrom('console_login_failures').where('subject', '=', subject).execute();
}

export async function appendAudit(storage: Storage, row: AuditLogTable): Promise<void> {
  await storage.db.insertInto('audit_log').values(row).execute();
}

/** Newest first, paged by (at_ms, entry_id) before the cursor; one merchant's when asked. */
export async function listAudit(
  storage: Storage,
  filter: { merchantId?: string; before?: { atMs: number; entryId: string }; limit: number },
): Promise<AuditRow[]> {
  let query = storage.db.selectFrom('audit_log').selectAll();
  if (filter.merchantId !== undefined) query = query.where('merchant_id', '=', filter.merchantId);
  const before = filter.before;
  if (before)
    query = query.where((eb) => eb(eb.refTuple('at_ms', 'entry_id'), '<', eb.tuple(before.atMs, before.entryId)));
  return query.orderBy('at_ms', 'desc').orderBy('entry_id', 'desc').limit(filter.limit).execute();
}

export async function replaceMerchantPassword(
  storage: Storage,
  merchantId: string,
  passwordCiphertext: string,
  nowMs: number,
): Promise<boolean> {
  try {
    const result = await storage.db
      .updateTable('merchants')
      .set({ password_ciphertext: passwordCiphertext, updated_at_ms: nowMs })
      .where('merchant_id', '=', merchantId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  } finally {
    merchantsChangedHere();
  }
}

/** What a search may filter on; every field optional, all given ones must match. */
export interface PaymentSearch {
  transId?: string;
  orderId?: string;
  cardBin?: string;
  cardLastFour?: string;
  status?: PaymentStatus;
  merchantId?: string;
  amountMinor?: number;
  createdFromMs?: number;
  createdBeforeMs?: number;
  /** Keyset cursor: rows strictly older than this (created_at_ms, trans_id). */
  after?: { createdAtMs: number; transId: string };
  limit: number;
}

/** A row of the search's result: what the list shows, no card beyond first 6 / last 4. */
export interface PaymentListRow {
  transId: string;
  merchantId: string;
  orderId: string;
  action: string;
  status: PaymentStatus;
  amountMinor: number;
  refundedMinor: number;
  currency: string;
  cardBin: string;
  cardLastFour: string;
  createdAtMs: number;
}

/**
 * Payments newest first. Keyset pagination (never OFFSET): the next page starts strictly after
 * the last row's (created_at_ms, trans_id), so page 1000 costs what page 1 does.
 */
export async function searchPayments(storage: Storage, search: PaymentSearch): Promise<PaymentListRow[]> {
  let query = storage.db
    .selectFrom('payments')
    .select([
      'trans_id',
      'merchant_id',
      'order_id',
      'action',
      'status',
      'amount_minor',
      'refunded_minor',
      'currency',
      'card_bin',
      'card_last_four',
      'created_at_ms',
    ]);
  if (search.transId !== undefined) query = query.where('trans_id', '=', search.transId);
  if (search.orderId !== undefined) query = query.where('order_id', '=', search.orderId);
  if (search.cardLastFour !== undefined) query = query.where('card_last_four', '=', search.cardLastFour);
  if (search.cardBin !== undefined) query = query.where('card_bin', '=', search.cardBin);
  if (search.status !== undefined) query = query.where('status', '=', search.status);
  if (search.merchantId !== undefined) query = query.where('merchant_id', '=', search.merchantId);
  if (search.amountMinor !== undefined) query = query.where('amount_minor', '=', search.amountMinor);
  if (search.createdFromMs !== undefined) query = query.where('created_at_ms', '>=', search.createdFromMs);
  if (search.createdBeforeMs !== undefined) query = query.where('created_at_ms', '<', search.createdBeforeMs);
  const after = search.after;
  if (after) {
    // A row-value comparison (SQLite ≥ 3.15, PostgreSQL): one index range for both, where the
    // equivalent OR of two conditions made SQLite walk the index from the newest row down.
    query = query.where((eb) =>
      eb(eb.refTuple('created_at_ms', 'trans_id'), '<', eb.tuple(after.createdAtMs, after.transId)),
    );
  }
  const rows = await query.orderBy('created_at_ms', 'desc').orderBy('trans_id', 'desc').limit(search.limit).execute();
  return rows.map((row) => ({
    transId: row.trans_id,
    merchantId: row.merchant_id,
    orderId: row.order_id,
    action: row.action,
    status: row.status as PaymentStatus,
    amountMinor: Number(row.amount_minor),
    refundedMinor: Number(row.refunded_minor),
    currency: row.currency,
    cardBin: row.card_bin,
    cardLastFour: row.card_last_four,
    createdAtMs: Number(row.created_at_ms),
  }));
}

export interface DayFigures {
  byStatus: { status: string; count: number }[];
  /** Money that moved (approved payments' captured amounts) per currency. */
  volume: { currency: string; capturedMinor: number }[];
  failedCallbacks: number;
  blockedUrls: number;
  /** Payments whose outcome is not known yet (PREPARE, or a money operation still waiting). */
  awaitingReconciliation: number;
}

/** Figures of payments created in [fromMs, toMs), one merchant's when asked. */
export async function dayFigures(
  storage: Storage,
  range: { fromMs: number; toMs: number; merchantId?: string; nowMs: number },
): Promise<DayFigures> {
  let payments = storage.db
    .selectFrom('payments')
    .where('created_at_ms', '>=', range.fromMs)
    .where('created_at_ms', '<', range.toMs);
  if (range.merchantId !== undefined) payments = payments.where('merchant_id', '=', range.merchantId);
  const byStatus = await payments
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy('status')
    .orderBy('status')
    .execute();
  const volume = await payments
    .select(['currency', (eb) => eb.fn.sum<number>('captured_minor').as('captured')])
    .groupBy('currency')
    .orderBy('currency')
    .execute();
  let failed = storage.db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('topic', '=', 'callback')
    .where('delivered_at_ms', 'is', null)
    .where('failed_at_ms', 'is not', null);
  if (range.merchantId !== undefined) failed = failed.where('merchant_id', '=', range.merchantId);
  const blocked = await storage.db
    .selectFrom('callback_url_blocks')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('blocked_until_ms', '>', range.nowMs)
    .executeTakeFirst();
  let open = storage.db
    .selectFrom('payments')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where((eb) => eb.or([eb('status', '=', 'PREPARE'), eb('operation_lock', 'is not', null)]));
  if (range.merchantId !== undefined) open = open.where('merchant_id', '=', range.merchantId);
  return {
    byStatus: byStatus.map((row) => ({ status: row.status, count: Number(row.count) })),
    volume: volume.map((row) => ({ currency: row.currency, capturedMinor: Number(row.captured ?? 0) })),
    failedCallbacks: Number((await failed.executeTakeFirst())?.count ?? 0),
    blockedUrls: range.merchantId === undefined ? Number(blocked?.count ?? 0) : 0,
    awaitingReconciliation: Number((await open.executeTakeFirst())?.count ?? 0),
  };
}

/** Chargeback sub-transactions, newest first (the chargebacks page). */
export async function listChargebacks(storage: Storage, limit: number) {
  const rows = await storage.db
    .selectFrom('payment_operations as o')
    .innerJoin('payments as p', 'p.trans_id', 'o.trans_id')
    .select([
      'o.trans_id',
      'o.amount_minor',
      'o.created_at_ms',
      'o.decline_reason',
      'p.currency',
      'p.merchant_id',
      'p.order_id',
    ])
    .where('o.type', '=', 'CHARGEBACK')
    .orderBy('o.created_at_ms', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    transId: row.trans_id,
    amountMinor: Number(row.amount_minor),
    createdAtMs: Number(row.created_at_ms),
    reason: row.decline_reason,
    currency: row.currency,
    merchantId: row.merchant_id,
    orderId: row.order_id,
  }));
}

/** Schedules not deleted, newest first (the schedules page); one merchant's when asked. */
export async function listLiveSchedules(storage: Storage, limit: number, merchantId?: string) {
  let query = storage.db.selectFrom('schedules').selectAll().where('deleted_at_ms', 'is', null);
  if (merchantId !== undefined) query = query.where('merchant_id', '=', merchantId);
  const rows = await query.orderBy('created_at_ms', 'desc').limit(limit).execute();
  return rows.map((row) => ({
    scheduleId: row.schedule_id,
    merchantId: row.merchant_id,
    name: row.name,
    intervalUnit: row.interval_unit,
    intervalLength: Number(row.interval_length),
    paymentsCount: Number(row.payments_count),
    paused: Number(row.paused) === 1,
  }));
}
