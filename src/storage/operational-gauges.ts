import { sql } from 'kysely';
import type { Storage } from './database.ts';

/**
 * What /metrics reads from the database, on scrape only (never on the hot path). Every count is
 * bounded (`countCap`): a backlog of millions must not turn a scrape into a table scan, and a
 * gauge at the cap says "at least this many", which is what an alert needs. Each query walks a
 * partial or leading-column index: outbox_pending, payments_one_open_per_order,
 * schedule_bindings_due, the callback_url_blocks key.
 */
export interface OperationalGauges {
  callbacksPending: number;
  /** Creation time of the oldest callback not yet delivered nor given up; null: none. */
  oldestPendingCallbackCreatedAtMs: number | null;
  blockedCallbackUrls: number;
  /** Payments in PREPARE: an acquirer answer not yet known, awaiting reconciliation. */
  paymentsAwaitingReconciliation: number;
  /** Active schedule bindings whose next date is before `today` (the runner is behind). */
  overdueScheduleBindings: number;
}

export const gaugeCountCap = 100_000;

async function cappedCount(storage: Storage, query: ReturnType<typeof sql>): Promise<number> {
  const result = await sql<{ count: number | string }>`select count(*) as count from (${query}) as capped`
    .execute(storage.db);
  return Number(result.rows[0]?.count ?? 0);
}

export async function readOperationalGauges(
  storage: Storage, nowMs: number, today: string,
): Promise<OperationalGauges> {
  const cap = gaugeCountCap;
  const [callbacksPending, oldest, blockedCallbackUrls, paymentsAwaitingReconciliation, overdueScheduleBindings] =
    await Promise.all([
      cappedCount(storage,
        sql`select 1 from outbox where delivered_at_ms is null and failed_at_ms is null limit ${cap}`),
      // min(outbox_id) is read from the partial index outbox_pending alone; v7 ids carry their
      // creation time, so no row of the (possibly long) delivered history is touched.
      storage.db.selectFrom('outbox').select(sql<string | null>`min(outbox_id)`.as('first'))
        .where('delivered_at_ms', 'is', null).where('failed_at_ms', 'is', null).executeTakeFirst(),
      cappedCount(storage, sql`select 1 from callback_url_blocks where blocked_until_ms > ${nowMs} limit ${cap}`),
      cappedCount(storage, sql`select 1 from payments where status = 'PREPARE' limit ${cap}`),
      cappedCount(storage,
        sql`select 1 from schedule_bindings where status = 'active' and next_due_on < ${today} limit ${cap}`),
    ]);
  return {
    callbacksPending,
    oldestPendingCallbackCreatedAtMs: oldest?.first ? timeOfId(oldest.first) : null,
    blockedCallbackUrls,
    paymentsAwaitingReconciliation,
    overdueScheduleBindings,
  };
}

/** Whether anything encrypted may be stored: a merchant exists (its password is encrypted). */
export async function databaseHoldsData(storage: Storage): Promise<boolean> {
  const row = await storage.db.selectFrom('merchants').select('merchant_id').limit(1).executeTakeFirst();
  return row !== undefined;
}

/** The millisecond a UUIDv7 was made (its first 48 bits). */
export function timeOfId(id: string): number {
  return Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
}
