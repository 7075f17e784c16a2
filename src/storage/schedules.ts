import { type Kysely, type Transaction, sql } from 'kysely';
import type { Storage } from './database.ts';
import { idList } from './id-list.ts';
import type { Database, ScheduleBindingTable, ScheduleChargeTable, ScheduleTable } from './schema.ts';

type Executor = Kysely<Database> | Transaction<Database>;

export type ScheduleRow = ScheduleTable;
export type BindingRow = ScheduleBindingTable;

/** A schedule as the operations see it: the spec's template, camelCase, paused as a boolean. */
export interface Schedule {
  scheduleId: string;
  merchantId: string;
  name: string;
  /** day | month */
  intervalUnit: string;
  intervalLength: number;
  dayOfMonth: number | null;
  paymentsCount: number;
  delays: number;
  paused: boolean;
}

export function scheduleFromRow(row: ScheduleRow): Schedule {
  return {
    scheduleId: row.schedule_id, merchantId: row.merchant_id, name: row.name, intervalUnit: row.interval_unit,
    intervalLength: Number(row.interval_length),
    dayOfMonth: row.day_of_month === null ? null : Number(row.day_of_month),
    paymentsCount: Number(row.payments_count), delays: Number(row.delays), paused: Number(row.paused) === 1,
  };
}

/** A new schedule (CREATE_SCHEDULE): not paused, never resumed, not deleted. */
export async function insertSchedule(storage: Storage, schedule: Schedule, nowMs: number): Promise<void> {
  await storage.db.insertInto('schedules').values({
    schedule_id: schedule.scheduleId, merchant_id: schedule.merchantId, name: schedule.name,
    interval_unit: schedule.intervalUnit, interval_length: schedule.intervalLength, day_of_month: schedule.dayOfMonth,
    payments_count: schedule.paymentsCount, delays: schedule.delays, paused: schedule.paused ? 1 : 0,
    resumed_on: null, deleted_at_ms: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  }).execute();
}

/** A schedule of this merchant that is not deleted (findSchedule, mapped). */
export async function loadSchedule(
  storage: Storage, merchantId: string, scheduleId: string,
): Promise<Schedule | undefined> {
  const row = await findSchedule(storage.db, merchantId, scheduleId);
  return row && scheduleFromRow(row);
}

/** A schedule of this merchant that is not deleted. */
export async function findSchedule(db: Executor, merchantId: string, scheduleId: string): Promise<ScheduleRow | undefined> {
  return db.selectFrom('schedules').selectAll()
    .where('schedule_id', '=', scheduleId).where('merchant_id', '=', merchantId).where('deleted_at_ms', 'is', null)
    .executeTakeFirst();
}

/** PAUSE (paused 0 → 1) or RUN (1 → 0) as one conditional write: false when it was not in the
 * expected state. RUN records the day from which due dates count again. */
export async function setPaused(
  storage: Storage, scheduleId: string, paused: boolean, nowMs: number, resumedOn: string | null,
): Promise<boolean> {
  const result = await storage.db.updateTable('schedules')
    .set({ paused: paused ? 1 : 0, updated_at_ms: nowMs, ...(paused ? {} : { resumed_on: resumedOn }) })
    .where('schedule_id', '=', scheduleId).where('paused', '=', paused ? 0 : 1).where('deleted_at_ms', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteSchedule(storage: Storage, scheduleId: string, nowMs: number): Promise<boolean> {
  const result = await storage.db.updateTable('schedules').set({ deleted_at_ms: nowMs, updated_at_ms: nowMs })
    .where('schedule_id', '=', scheduleId).where('deleted_at_ms', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function insertBinding(transaction: Transaction<Database>, row: BindingRow): Promise<void> {
  await transaction.insertInto('schedule_bindings').values(row).execute();
}

/** DESCHEDULE: every active binding of this schedule that charges the card of `sourceTransId`. */
export async function deschedule(
  storage: Storage, scheduleId: string, sourceTransId: string, nowMs: number,
): Promise<number> {
  const result = await storage.db.updateTable('schedule_bindings').set({ status: 'descheduled', updated_at_ms: nowMs })
    .where('schedule_id', '=', scheduleId).where('source_trans_id', '=', sourceTransId).where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The cards bound to a schedule, oldest first: the payment each charges, and the binding's state. */
export async function bindingsOfSchedule(
  storage: Storage, scheduleId: string,
): Promise<{ sourceTransId: string; status: string }[]> {
  const rows = await storage.db.selectFrom('schedule_bindings').select(['source_trans_id', 'status'])
    .where('schedule_id', '=', scheduleId).orderBy('created_at_ms').execute();
  return rows.map((row) => ({ sourceTransId: row.source_trans_id, status: row.status }));
}

/** A due binding as the runner gets it: the binding's row and its schedule's. */
export type DueBinding = BindingRow & { schedule: ScheduleRow };

/** What one claim asks for: bindings due by `today` (the platform's day), free or with a lease
 * expired by `nowMs`, leased until `leaseUntilMs` (both on the wall clock). */
export interface BindingClaim {
  today: string;
  nowMs: number;
  leaseUntilMs: number;
  limit: number;
}

const scheduleColumns = [
  'name', 'interval_unit', 'interval_length', 'day_of_month', 'payments_count', 'delays', 'paused', 'resumed_on',
  'deleted_at_ms',
] as const;

/**
 * Claims up to `limit` due bindings — active, next date come, schedule neither paused nor
 * deleted, not leased by another node — oldest date first, in one write: the lease is set in
 * the statement that picks them. On PostgreSQL one UPDATE over a SKIP LOCKED pick, so two nodes
 * claiming at once get different bindings without waiting on each other; on SQLite writes are
 * serialized, so the pick and the lease in one write transaction cannot be split either.
 * The pick reads the (status, next_due_on, binding_id) index in order (schedule_bindings_due_in_order),
 * and the update finds the picked rows by key (`= any(array(…))`: a join to the pick was planned
 * as a scan of every binding per claim).
 */
export async function claimDueBindings(storage: Storage, claim: BindingClaim): Promise<DueBinding[]> {
  const rows = storage.dialect === 'postgres'
    ? await claimOnPostgres(storage, claim)
    : await storage.write(async (transaction) => {
      const picked = await transaction.selectFrom('schedule_bindings as b')
        .innerJoin('schedules as s', 's.schedule_id', 'b.schedule_id')
        .selectAll('b').select(scheduleColumns.map((column) => `s.${column}` as const))
        .select(sql<number>`s.created_at_ms`.as('schedule_created_at_ms'))
        .where('b.status', '=', 'active').where('b.next_due_on', '<=', claim.today)
        .where((where) => where.or([
          where('b.claimed_until_ms', 'is', null), where('b.claimed_until_ms', '<=', claim.nowMs),
        ]))
        .where('s.paused', '=', 0).where('s.deleted_at_ms', 'is', null)
        .orderBy('b.next_due_on').orderBy('b.binding_id').limit(claim.limit)
        .execute();
      if (picked.length > 0) {
        await transaction.updateTable('schedule_bindings').set({ claimed_until_ms: claim.leaseUntilMs })
          .where('binding_id', 'in', idList(storage.dialect, picked.map((row) => row.binding_id))).execute();
      }
      return picked.map((row) => ({ ...row, claimed_until_ms: claim.leaseUntilMs }));
    });
  return rows.map(dueBindingOf).sort((left, right) => (left.next_due_on === right.next_due_on
    ? compareText(left.binding_id, right.binding_id) : compareText(left.next_due_on, right.next_due_on)));
}

type ClaimedRow = BindingRow & Pick<ScheduleRow, (typeof scheduleColumns)[number]> & { schedule_created_at_ms: number };

/**
 * The pick must walk the due index in order and stop at the batch (docs/adr/0105). On the
 * renewal day most bindings become due at once; statistics gathered while few were had
 * PostgreSQL plan a bitmap scan of every due binding and a sort per claim, and a generic plan
 * cached while the tables were nearly empty (the statement is prepared once per connection)
 * scanned every schedule per binding: 60–430 ms a claim at 20,000 due. The claim's transaction
 * plans each claim afresh, for the tables as they are, without bitmap scans.
 */
async function claimOnPostgres(storage: Storage, claim: BindingClaim): Promise<ClaimedRow[]> {
  return storage.db.transaction().execute(async (transaction) => {
    await sql`select set_config('enable_bitmapscan', 'off', true),
      set_config('plan_cache_mode', 'force_custom_plan', true)`.execute(transaction);
    return claimInTransaction(transaction, claim);
  });
}

async function claimInTransaction(transaction: Transaction<Database>, claim: BindingClaim): Promise<ClaimedRow[]> {
  const returned = sql.join(scheduleColumns.map((column) => sql.ref(`s.${column}`)));
  const { rows } = await sql<ClaimedRow>`
    update schedule_bindings as b set claimed_until_ms = ${claim.leaseUntilMs}
    from schedules as s
    where s.schedule_id = b.schedule_id and b.binding_id = any(array(
      select d.binding_id from schedule_bindings as d
      inner join schedules as ds on ds.schedule_id = d.schedule_id
      where d.status = 'active' and d.next_due_on <= ${claim.today}
        and (d.claimed_until_ms is null or d.claimed_until_ms <= ${claim.nowMs})
        and ds.paused = 0 and ds.deleted_at_ms is null
      order by d.next_due_on, d.binding_id
      limit ${claim.limit}
      for update of d skip locked
    ))
    returning b.*, ${returned}, s.created_at_ms as schedule_created_at_ms`.execute(transaction);
  return rows;
}

function compareText(left: string, right: string): number {
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

function dueBindingOf(row: ClaimedRow): DueBinding {
  const {
    name, interval_unit, interval_length, day_of_month, payments_count, delays, paused, resumed_on, deleted_at_ms,
    schedule_created_at_ms, ...binding
  } = row;
  return {
    ...binding,
    schedule: {
      schedule_id: binding.schedule_id, merchant_id: binding.merchant_id, name, interval_unit, interval_length,
      day_of_month, payments_count, delays, paused, resumed_on, deleted_at_ms, created_at_ms: schedule_created_at_ms,
      updated_at_ms: schedule_created_at_ms,
    },
  };
}

/** Gives up this node's lease on bindings it claimed and did not move on (held, waiting, not
 * reached before the run's bound or an error): any node may claim them on its next run. A
 * lease another node took since (this one expired) is left alone. */
export async function releaseBindingClaims(
  storage: Storage, claims: readonly { bindingId: string; leaseUntilMs: number }[],
): Promise<void> {
  const byLease = new Map<number, string[]>();
  for (const claim of claims) {
    const ids = byLease.get(claim.leaseUntilMs) ?? [];
    ids.push(claim.bindingId);
    byLease.set(claim.leaseUntilMs, ids);
  }
  for (const [leaseUntilMs, ids] of byLease) {
    await storage.db.updateTable('schedule_bindings').set({ claimed_until_ms: null })
      .where('binding_id', 'in', idList(storage.dialect, ids)).where('claimed_until_ms', '=', leaseUntilMs).execute();
  }
}

/** Moves a binding's next date forward (dates skipped by a pause), only if nobody else did. */
export async function moveNextDue(
  storage: Storage, bindingId: string, fromDueOn: string, toDueOn: string, lastIndex: number, nowMs: number,
): Promise<void> {
  await storage.db.updateTable('schedule_bindings')
    .set({ next_due_on: toDueOn, last_index: lastIndex, updated_at_ms: nowMs, claimed_until_ms: null })
    .where('binding_id', '=', bindingId).where('next_due_on', '=', fromDueOn).where('status', '=', 'active').execute();
}

export async function endBinding(
  storage: Storage, bindingId: string, status: 'ended' | 'completed', nowMs: number,
): Promise<void> {
  await storage.db.updateTable('schedule_bindings').set({ status, updated_at_ms: nowMs, claimed_until_ms: null })
    .where('binding_id', '=', bindingId).where('status', '=', 'active').execute();
}

/**
 * In the transaction that writes the scheduled payment: the charge row (UNIQUE (binding_id,
 * due_on) — a second runner's insert fails here and its whole transaction, payment included,
 * rolls back) and the binding's progress. With a final payment the node's lease on the binding
 * is given up here; a PREPARE written before the bank call keeps it, so no other node takes the
 * binding's next date while this one is still asking the bank (the runner gives it up after).
 */
export async function recordCharge(
  transaction: Transaction<Database>, charge: ScheduleChargeTable,
  progress: { nextDueOn: string; completed: boolean; nowMs: number }, paymentFinal: boolean,
): Promise<void> {
  await transaction.insertInto('schedule_charges').values(charge).execute();
  await transaction.updateTable('schedule_bindings')
    .set({
      charges_made: sql`charges_made + 1`, last_index: charge.series_index, next_due_on: progress.nextDueOn,
      status: progress.completed ? 'completed' : 'active', updated_at_ms: progress.nowMs,
      ...(paymentFinal ? { claimed_until_ms: null } : {}),
    })
    .where('binding_id', '=', charge.binding_id).execute();
}

export async function chargesOf(db: Executor, scheduleId: string): Promise<ScheduleChargeTable[]> {
  return db.selectFrom('schedule_charges').selectAll().where('schedule_id', '=', scheduleId).orderBy('due_on').orderBy('charge_id').execute();
}
