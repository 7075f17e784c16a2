import { CompiledQuery, type Kysely, type Transaction, sql } from 'kysely';
import type { RoutingRefusal } from '../domain/routing.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { Storage } from './database.ts';
import type { Database } from './schema.ts';

type Executor = Kysely<Database> | Transaction<Database>;

/**
 * Limits are enforced by the write that records the payment (ADR 0051). A limit's use in a
 * window is spread over `limitShardCount` counter rows, each allowed its share of the limit, so
 * concurrent payments of one MID update different rows instead of queueing on one. A payment
 * takes its amount from one shard with a conditional upsert; when no single shard has room, it
 * locks all the limit's shards (in order) and takes from several. Either way the sum of the
 * shards never passes the limit: every row's own share is checked in the row's own write.
 */
export const limitShardCount = 8;

/** What a payment must take from one limit, in the payment's own transaction. */
export interface LimitReservation {
  limitId: string;
  windowKey: string;
  limitMinor: number;
  amountMinor: number;
  /** The shard the reader saw with room (a hint), and what to answer when there is none. */
  preferredShard: number;
  refusal: RoutingRefusal;
}

/** Thrown inside the payment's transaction, which it rolls back: the limit has no headroom. */
export class LimitExceededError extends ProtocolError {
  constructor(refusal: RoutingRefusal) {
    super(refusal);
  }
}

/** Shard `shard`'s share of a limit: the limit divided evenly, the remainder to the first. */
export function shardShareMinor(limitMinor: number, shard: number): number {
  const base = Math.floor(limitMinor / limitShardCount);
  return base + (shard < limitMinor % limitShardCount ? 1 : 0);
}

/** Texts of the statements every limited payment runs, written with `?` and numbered for
 * PostgreSQL once: building them with the query builder per payment was most of the CPU that
 * limits added to a SALE. */
const statementTexts = new Map<string, string>();

export function rawStatement(executor: Executor, text: string, parameters: unknown[]): CompiledQuery {
  const postgres = isPostgres(executor);
  const key = `${postgres ? 'pg' : 'sqlite'}:${text}`;
  let compiled = statementTexts.get(key);
  if (compiled === undefined) {
    const pieces = text.split('?');
    compiled = postgres ? pieces.map((piece, index) => (index === 0 ? piece : `$${index}${piece}`)).join('') : text;
    if (statementTexts.size >= 256) statementTexts.clear();
    statementTexts.set(key, compiled);
  }
  return CompiledQuery.raw(compiled, parameters);
}

const takeShardText =
  'UPDATE limit_counters SET used_minor = used_minor + ? '
  + 'WHERE limit_id = ? AND window_key = ? AND shard = ? AND used_minor + ? <= ?';

/** Reserves every limit of a payment (in limit id order, and shards in order, so two payments
 * lock rows in the same order and cannot deadlock) and records the holds in one insert. */
export async function reserveLimits(
  transaction: Transaction<Database>,
  transId: string,
  reservations: readonly LimitReservation[],
): Promise<void> {
  const ordered = [...reservations].sort((a, b) => (a.limitId < b.limitId ? -1 : a.limitId > b.limitId ? 1 : 0));
  const holds: unknown[] = [];
  if (!isPostgres(transaction) && (await tookChosenShardsAtOnce(transaction, ordered))) {
    for (const reservation of ordered) {
      const { limitId, windowKey, preferredShard, amountMinor } = reservation;
      holds.push(transId, limitId, windowKey, preferredShard, amountMinor);
    }
  } else {
    for (const reservation of ordered) {
      const takes = (await takeOneShard(transaction, reservation)) ?? (await takeSpread(transaction, reservation));
      if (takes === undefined) throw new LimitExceededError(reservation.refusal);
      for (const [shard, amountMinor] of takes) {
        holds.push(transId, reservation.limitId, reservation.windowKey, shard, amountMinor);
      }
    }
  }
  if (holds.length === 0) return;
  const rows = Array.from({ length: holds.length / 5 }, () => '(?, ?, ?, ?, ?)').join(', ');
  const text = `INSERT INTO limit_holds (trans_id, limit_id, window_key, shard, amount_minor) VALUES ${rows}`;
  await transaction.executeQuery(rawStatement(transaction, text, holds));
}

const takeChosenTexts = new Map<number, { take: string; giveBack: string }>();

/**
 * SQLite's hot case: every limit's chosen shard in one UPDATE (a statement per limit was most of
 * what limits added to a SALE there). A shard without room sets NULL, which the NOT NULL column
 * refuses: SQLite then undoes the whole statement and the payment goes shard by shard. A missing
 * counter row updates nothing; what the others took is given back. One writer means nothing can
 * come between. (RETURNING would tell which rows changed, but made the statement ~10× slower.)
 */
async function tookChosenShardsAtOnce(
  transaction: Transaction<Database>, ordered: readonly LimitReservation[],
): Promise<boolean> {
  if (ordered.length === 0) return true;
  const parameters: unknown[] = [];
  for (const reservation of ordered) {
    const { limitId, windowKey, preferredShard, amountMinor } = reservation;
    const shareMinor = shardShareMinor(reservation.limitMinor, preferredShard);
    if (amountMinor > shareMinor) return false;
    parameters.push(limitId, windowKey, preferredShard, amountMinor, shareMinor);
  }
  const texts = takeChosenTextsOf(ordered.length);
  try {
    const result = await transaction.executeQuery(CompiledQuery.raw(texts.take, parameters));
    if (Number(result.numAffectedRows ?? 0) === ordered.length) return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_NOTNULL') return false;
    throw error;
  }
  await transaction.executeQuery(CompiledQuery.raw(texts.giveBack, parameters));
  return false;
}

function takeChosenTextsOf(limits: number): { take: string; giveBack: string } {
  let texts = takeChosenTexts.get(limits);
  if (texts === undefined) {
    const from = `FROM (VALUES ${Array.from({ length: limits }, () => '(?, ?, ?, ?, ?)').join(', ')}) AS v `
      + 'WHERE limit_counters.limit_id = v.column1 AND limit_counters.window_key = v.column2 '
      + 'AND limit_counters.shard = v.column3';
    texts = {
      take: 'UPDATE limit_counters SET used_minor = CASE WHEN used_minor + v.column4 <= v.column5 '
        + `THEN used_minor + v.column4 END ${from}`,
      giveBack: `UPDATE limit_counters SET used_minor = used_minor - v.column4 ${from}`,
    };
    if (takeChosenTexts.size >= 256) takeChosenTexts.clear();
    takeChosenTexts.set(limits, texts);
  }
  return texts;
}

/** The SQLSTATE `kassa_limit_shard_full` raises (migration 0104) when a limit has no shard
 * that has room and that no other transaction holds. */
export const limitShardFullCode = 'KL001';

/** True when every reservation could come from one shard (the one the read chose fits it): the case
 * PostgreSQL writes inside the payment's single statement. */
export function fitsOneShardEach(reservations: readonly LimitReservation[]): boolean {
  return reservations.every((reservation) =>
    reservation.amountMinor <= shardShareMinor(reservation.limitMinor, reservation.preferredShard));
}

const takeTexts = new Map<string, { ctes: string; insert: string }>();

/**
 * PostgreSQL: the part of the payment's single statement that takes one shard per limit for
 * `limits` limits, its placeholders from `first` (five per limit, `limitTakeParameters`). Per
 * limit it locks the first shard, from the one the read chose on, that has room (its share as
 * `shardShareMinor` computes it) and that no other transaction holds: SKIP LOCKED does not
 * queue behind another payment's commit. Only when every shard with room is held does it wait,
 * for the chosen one; limits are taken in limit id order, as `reserveLimits` takes them, so the
 * two cannot deadlock. A limit with no shard with room raises `limitShardFullCode` (the whole
 * statement undone). The shards are picked from the statement's "inserted_payment", so the
 * payment's unique keys are checked first. The limits are a VALUES list, not arrays: with
 * arrays PostgreSQL's generic plan guessed their length, and it planned every payment afresh.
 * Returns the CTEs to append and the final insert of the holds.
 */
export function limitHoldsFromTakeText(first: number, limits: number): { ctes: string; insert: string } {
  const key = `${first}:${limits}`;
  let text = takeTexts.get(key);
  if (text === undefined) {
    const count = limitShardCount;
    const rows = Array.from({ length: limits }, (_, index) => {
      const [id, window, shard, amount, limit] = [0, 1, 2, 3, 4].map((offset) => `$${first + index * 5 + offset}`);
      return `(${id}::text, ${window}::text, ${shard}::integer, ${amount}::bigint, ${limit}::bigint)`;
    });
    const withRoom = 'from "limit_counters" s where s."limit_id" = r.limit_id and s."window_key" = r.window_key '
      + `and s."used_minor" + r.amount_minor <= r.limit_minor / ${count} `
      + `+ case when s."shard" < r.limit_minor % ${count} then 1 else 0 end`;
    const picked = '"picked_shards" as materialized (select r.limit_id, r.window_key, r.amount_minor, coalesce('
      + `(select s."shard" ${withRoom} order by (s."shard" - r.preferred + ${count}) % ${count} `
      + 'limit 1 for update skip locked), '
      + `(select s."shard" ${withRoom} and s."shard" = r.preferred for update)) as shard `
      + `from "inserted_payment" p cross join (values ${rows.join(', ')}) `
      + 'as r(limit_id, window_key, preferred, amount_minor, limit_minor))';
    const taken = '"taken_shards" as (update "limit_counters" c set "used_minor" = c."used_minor" + k.amount_minor '
      + 'from "picked_shards" k where c."limit_id" = k.limit_id and c."window_key" = k.window_key '
      + 'and c."shard" = k.shard)';
    const insert = 'insert into "limit_holds" ("trans_id", "limit_id", "window_key", "shard", "amount_minor") '
      + 'select p."trans_id", k.limit_id, k.window_key, coalesce(k.shard, kassa_limit_shard_full()), k.amount_minor '
      + 'from "inserted_payment" p cross join "picked_shards" k';
    text = { ctes: `${picked}, ${taken}`, insert };
    if (takeTexts.size >= 256) takeTexts.clear();
    takeTexts.set(key, text);
  }
  return text;
}

/** The parameters `limitHoldsFromTakeText` takes, five per limit, in limit id order. */
export function limitTakeParameters(reservations: readonly LimitReservation[]): unknown[] {
  const ordered = [...reservations].sort((a, b) => (a.limitId < b.limitId ? -1 : a.limitId > b.limitId ? 1 : 0));
  return ordered.flatMap((reservation) => [
    reservation.limitId, reservation.windowKey, reservation.preferredShard, reservation.amountMinor,
    reservation.limitMinor,
  ]);
}

/**
 * One conditional UPDATE of one shard. On PostgreSQL an UPDATE that waited for a concurrent
 * writer and then found its condition false still holds that row's lock (EvalPlanQual locks
 * before it re-checks), and a payment that then spreads would take the other shards' locks
 * out of order and deadlock: the attempt runs under a savepoint, rolled back (with the lock)
 * when it takes nothing. The rows exist: `ensureLimitCounters` made them when the window was
 * first read.
 */
async function takeOneShard(
  transaction: Transaction<Database>,
  reservation: LimitReservation,
): Promise<Map<number, number> | undefined> {
  const { limitId, windowKey, amountMinor, preferredShard } = reservation;
  const shareMinor = shardShareMinor(reservation.limitMinor, preferredShard);
  if (amountMinor > shareMinor) return undefined;
  const postgres = isPostgres(transaction);
  if (postgres) await transaction.executeQuery(CompiledQuery.raw('SAVEPOINT kassa_limit_shard', []));
  const result = await transaction.executeQuery(
    rawStatement(transaction, takeShardText, [
      amountMinor,
      limitId,
      windowKey,
      preferredShard,
      amountMinor,
      shareMinor,
    ]),
  );
  if (Number(result.numAffectedRows ?? 0) === 1) return new Map([[preferredShard, amountMinor]]);
  if (postgres) await transaction.executeQuery(CompiledQuery.raw('ROLLBACK TO SAVEPOINT kassa_limit_shard', []));
  return undefined;
}

function isPostgres(executor: Executor): boolean {
  return executor.getExecutor().adapter.constructor.name.toLowerCase().includes('postgres');
}

async function takeSpread(
  transaction: Transaction<Database>,
  reservation: LimitReservation,
): Promise<Map<number, number> | undefined> {
  const { limitId, windowKey } = reservation;
  await insertMissingCounters(transaction, limitId, windowKey);
  let query = transaction
    .selectFrom('limit_counters')
    .select(['shard', 'used_minor'])
    .where('limit_id', '=', limitId)
    .where('window_key', '=', windowKey)
    .orderBy('shard');
  // SQLite has one writer at a time; PostgreSQL locks the rows, in shard order.
  if (isPostgres(transaction)) query = query.forUpdate();
  const rows = await query.execute();
  let leftMinor = reservation.amountMinor;
  const takes = new Map<number, number>();
  for (const row of rows) {
    const roomMinor = shardShareMinor(reservation.limitMinor, row.shard) - Number(row.used_minor);
    const takeMinor = Math.min(Math.max(0, roomMinor), leftMinor);
    if (takeMinor > 0) takes.set(row.shard, takeMinor);
    leftMinor -= takeMinor;
  }
  if (leftMinor > 0) return undefined;
  for (const [shard, takeMinor] of takes) {
    await transaction
      .updateTable('limit_counters')
      .set({ used_minor: sql`used_minor + ${takeMinor}` })
      .where('limit_id', '=', limitId)
      .where('window_key', '=', windowKey)
      .where('shard', '=', shard)
      .execute();
  }
  return takes;
}

async function insertMissingCounters(executor: Executor, limitId: string, windowKey: string): Promise<void> {
  const rows = Array.from({ length: limitShardCount }, (_, shard) => ({
    limit_id: limitId,
    window_key: windowKey,
    shard,
    used_minor: 0,
  }));
  await executor
    .insertInto('limit_counters')
    .values(rows)
    .onConflict((conflict) => conflict.columns(['limit_id', 'window_key', 'shard']).doNothing())
    .execute();
}

/** The counter rows of a window, made once when the window is first read (outside any
 * payment's transaction), so a payment's own write is a single conditional UPDATE. */
export async function ensureLimitCounters(
  storage: Storage,
  keys: readonly { limitId: string; windowKey: string }[],
): Promise<void> {
  for (const key of keys) await insertMissingCounters(storage.db, key.limitId, key.windowKey);
}

/** Gives back what a payment took (a decline after 3-D Secure, a void, a reversal), once: the
 * holds are deleted as they are given back. */
export async function releaseLimitHolds(transaction: Transaction<Database>, transId: string): Promise<void> {
  const holds = await transaction
    .deleteFrom('limit_holds')
    .where('trans_id', '=', transId)
    .returning(['limit_id', 'window_key', 'shard', 'amount_minor'])
    .execute();
  holds.sort((a, b) => (a.limit_id === b.limit_id ? a.shard - b.shard : a.limit_id < b.limit_id ? -1 : 1));
  for (const hold of holds) {
    await transaction
      .updateTable('limit_counters')
      .set({ used_minor: sql`used_minor - ${Number(hold.amount_minor)}` })
      .where('limit_id', '=', hold.limit_id)
      .where('window_key', '=', hold.window_key)
      .where('shard', '=', hold.shard)
      .execute();
  }
}
