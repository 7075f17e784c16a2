import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import type { Storage } from './database.ts';
import { merchantsChangedHere } from './merchant-cache.ts';

export interface HashLockoutPolicy {
  /** Wrong hashes of one pair within `windowMs` that lock it. */
  wrongHashesMax: number;
  windowMs: number;
  lockMs: number;
}

export interface HashLockoutRecord {
  merchantId: string;
  ip: string;
  windowStartedAtMs: number;
  wrongHashes: number;
  /** 0: not locked. */
  lockedUntilMs: number;
}

/**
 * Counts one wrong hash of the pair; returns the end of the pair's lock when this or an earlier
 * wrong hash locked it, else 0. One upsert (atomic on both databases, so concurrent wrong hashes
 * from several nodes are all counted); a count starts over when its window has passed or a lock
 * has run out. Rows of the merchant's other pairs that are neither counting nor locked are
 * deleted on the way, so the table holds only pairs active within the window.
 */
export async function countWrongHash(
  storage: Storage, merchantId: string, ip: string, nowMs: number, policy: HashLockoutPolicy,
): Promise<number> {
  const lockedUntilMs = await storage.write(async (transaction) => {
    await transaction.deleteFrom('hash_lockouts').where('merchant_id', '=', merchantId).where('ip', '<>', ip)
      .where('window_started_at_ms', '<=', nowMs - policy.windowMs).where('locked_until_ms', '<=', nowMs).execute();
    const row = await upsertWrongHash(transaction, merchantId, ip, nowMs, policy).executeTakeFirstOrThrow();
    const until = Number(row.locked_until_ms);
    if (until > nowMs) await raiseMerchantLock(transaction, merchantId, until);
    return until > nowMs ? until : 0;
  });
  if (lockedUntilMs > 0) merchantsChangedHere();
  return lockedUntilMs;
}

function upsertWrongHash(
  transaction: Transaction<Database>, merchantId: string, ip: string, nowMs: number, policy: HashLockoutPolicy,
) {
  const lockUntilMs = nowMs + policy.lockMs;
  // In SET every column reference is the row before the update, on SQLite as on PostgreSQL.
  const restart = sql<boolean>`(hash_lockouts.window_started_at_ms <= ${nowMs - policy.windowMs}
    OR (hash_lockouts.locked_until_ms > 0 AND hash_lockouts.locked_until_ms <= ${nowMs}))`;
  const newCount = sql<number>`CASE WHEN ${restart} THEN 1 ELSE hash_lockouts.wrong_hashes + 1 END`;
  return transaction.insertInto('hash_lockouts')
    .values({
      merchant_id: merchantId, ip, window_started_at_ms: nowMs, wrong_hashes: 1,
      locked_until_ms: policy.wrongHashesMax <= 1 ? lockUntilMs : 0, updated_at_ms: nowMs,
    })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'ip']).doUpdateSet({
      wrong_hashes: newCount,
      window_started_at_ms: sql<number>`CASE WHEN ${restart} THEN ${nowMs} ELSE hash_lockouts.window_started_at_ms END`,
      locked_until_ms: sql<number>`CASE
        WHEN hash_lockouts.locked_until_ms > ${nowMs} THEN hash_lockouts.locked_until_ms
        WHEN ${newCount} >= ${policy.wrongHashesMax} THEN ${lockUntilMs}
        ELSE 0 END`,
      updated_at_ms: nowMs,
    }))
    .returning(['locked_until_ms']);
}

/** merchants.hash_locked_until_ms only grows here; a change of it reaches every node's
 * merchant cache (the PostgreSQL trigger's notice, SQLite's data_version). */
async function raiseMerchantLock(
  transaction: Transaction<Database>, merchantId: string, untilMs: number,
): Promise<void> {
  await transaction.updateTable('merchants').set({ hash_locked_until_ms: untilMs })
    .where('merchant_id', '=', merchantId).where('hash_locked_until_ms', '<', untilMs).execute();
}

/** The end of the pair's lock as stored (0 when it has none): one read by primary key. */
export async function pairLockedUntilMs(storage: Storage, merchantId: string, ip: string): Promise<number> {
  const row = await storage.db.selectFrom('hash_lockouts').select('locked_until_ms')
    .where('merchant_id', '=', merchantId).where('ip', '=', ip).executeTakeFirst();
  return row ? Number(row.locked_until_ms) : 0;
}

export async function findHashLockouts(
  storage: Storage, filter: { merchantId?: string; limit: number },
): Promise<HashLockoutRecord[]> {
  let query = storage.db.selectFrom('hash_lockouts').selectAll();
  if (filter.merchantId !== undefined) query = query.where('merchant_id', '=', filter.merchantId);
  const rows = await query.orderBy('locked_until_ms', 'desc').orderBy('merchant_id').orderBy('ip')
    .limit(filter.limit).execute();
  return rows.map((row) => ({
    merchantId: row.merchant_id, ip: row.ip, windowStartedAtMs: Number(row.window_started_at_ms),
    wrongHashes: Number(row.wrong_hashes), lockedUntilMs: Number(row.locked_until_ms),
  }));
}

/** Forgets the pair's count and lock; the merchant's mark falls to its latest remaining lock.
 * Returns whether the pair had a row. */
export async function deleteHashLockout(storage: Storage, merchantId: string, ip: string): Promise<boolean> {
  try {
    return await storage.write(async (transaction) => {
      const deleted = await transaction.deleteFrom('hash_lockouts')
        .where('merchant_id', '=', merchantId).where('ip', '=', ip).executeTakeFirst();
      const latest = transaction.selectFrom('hash_lockouts').select((eb) => eb.fn.max('locked_until_ms').as('latest'))
        .where('merchant_id', '=', merchantId);
      await transaction.updateTable('merchants')
        .set({ hash_locked_until_ms: sql<number>`COALESCE((${latest}), 0)` })
        .where('merchant_id', '=', merchantId).execute();
      return Number(deleted.numDeletedRows) > 0;
    });
  } finally {
    merchantsChangedHere();
  }
}
