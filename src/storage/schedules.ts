import { type Kysely, type Transaction, sql } from 'kysely';
import type { Storage } from './database.ts';
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

/** Where a scan of due bindings stopped: the next page starts after this (date, binding). */
export interface DueCursor {
  dueOn: string;
  bindingId: string;
}

/** Active bindings whose next date has come, of schedules neither paused nor deleted, in
 * (next_due_on, binding_id) order from `after`: a page read from the index in that order
 * (schedule_bindings_due_in_order), never a sort of every due row. */
export async function dueBindings(
  db: Executor, today: string, limit: number, after?: DueCursor,
): Promise<(BindingRow & { schedule: ScheduleRow })[]> {
  let query = db.selectFrom('schedule_bindings as b')
    .innerJoin('schedules as s', 's.schedule_id', 'b.schedule_id')
    .selectAll('b')
    .select([
      's.name', 's.interval_unit', 's.interval_length', 's.day_of_month', 's.payments_count', 's.delays', 's.paused',
      's.resumed_on', 's.deleted_at_ms', sql<number>`s.created_at_ms`.as('schedule_created_at_ms'),
    ])
    .where('b.status', '=', 'active').where('b.next_due_on', '<=', today)
    .where('s.paused', '=', 0).where('s.deleted_at_ms', 'is', null);
  if (after) {
    query = query.where((where) => where.or([
      where('b.next_due_on', '>', after.dueOn),
      where.and([where('b.next_due_on', '=', after.dueOn), where('b.binding_id', '>', after.bindingId)]),
    ]));
  }
  const rows = await query.orderBy('b.next_due_on').orderBy('b.binding_id').limit(limit).execute();
  return rows.map((row) => {
    const { name, interval_unit, interval_length, day_of_month, payments_count, delays, paused, resumed_on, deleted_at_ms, schedule_created_at_ms, ...binding } = row;
    return {
      ...(binding as BindingRow),
      schedule: {
        schedule_id: binding.schedule_id, merchant_id: binding.merchant_id, name, interval_unit, interval_length, day_of_month,
        payments_count, delays, paused, resumed_on, deleted_at_ms, created_at_ms: schedule_created_at_ms, updated_at_ms: schedule_created_at_ms,
      },
    };
  });
}

/** Moves a binding's next date forward (dates skipped by a pause), only if nobody else did. */
export async function moveNextDue(db: Executor, bindingId: string, fromDueOn: string, toDueOn: string, lastIndex: number, nowMs: number): Promise<void> {
  await db.updateTable('schedule_bindings').set({ next_due_on: toDueOn, last_index: lastIndex, updated_at_ms: nowMs })
    .where('binding_id', '=', bindingId).where('next_due_on', '=', fromDueOn).where('status', '=', 'active').execute();
}

export async function endBinding(db: Executor, bindingId: string, status: 'ended' | 'completed', nowMs: number): Promise<void> {
  await db.updateTable('schedule_bindings').set({ status, updated_at_ms: nowMs })
    .where('binding_id', '=', bindingId).where('status', '=', 'active').execute();
}

/**
 * In the transaction that writes the scheduled payment: the charge row (UNIQUE (binding_id,
 * due_on) — a second runner's insert fails here and its whole transaction, payment included,
 * rolls back) and the binding's progress.
 */
export async function recordCharge(
  transaction: Transaction<Database>, charge: ScheduleChargeTable,
  progress: { nextDueOn: string; completed: boolean; nowMs: number },
): Promise<void> {
  await transaction.insertInto('schedule_charges').values(charge).execute();
  await transaction.updateTable('schedule_bindings')
    .set({
      charges_made: sql`charges_made + 1`, last_index: charge.series_index, next_due_on: progress.nextDueOn,
      status: progress.completed ? 'completed' : 'active', updated_at_ms: progress.nowMs,
    })
    .where('binding_id', '=', charge.binding_id).execute();
}

export async function chargesOf(db: Executor, scheduleId: string): Promise<ScheduleChargeTable[]> {
  return db.selectFrom('schedule_charges').selectAll().where('schedule_id', '=', scheduleId).orderBy('due_on').orderBy('charge_id').execute();
}
