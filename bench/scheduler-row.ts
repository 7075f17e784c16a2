/**
 * The bench's scheduler row: N schedule bindings due at once, charged by the running Kassa
 * server's own scheduler on the sandbox clock, timed from outside.
 *
 * One card is bound for real (CREATE_SCHEDULE, then SALE with recurring_init=Y and schedule_id
 * over HTTP); the binding and its schedule are then copied N−1 times in SQL (one INSERT … SELECT
 * per table, rows shaped like real ones: own schedule, own order_id, the same stored card), the
 * sandbox clock is moved one day with `kassa clock advance 1d`, and the bench counts
 * schedule_charges rows until all N are there. charges/s = N ÷ (time from the clock move to
 * the last charge); the poll interval (1 s) is inside that time, as it is for a real PSP.
 */
import SqliteDatabase from 'better-sqlite3';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createScheduleHash } from '../src/protocol/hash.ts';

export interface SchedulerRowSetup {
  storage: 'sqlite' | 'postgres';
  kassaUrl: string;
  dataDirectory: string;
  postgresUrl: string;
  postgresSchema: string | undefined;
  clientKey: string;
  password: string;
  /** The SALE form of bench.ts for one order_id (approved test card, 3-D Secure off). */
  saleBody: (orderId: string) => string;
  /** `kassa clock advance 1d` with the server's settings. */
  advanceClockOneDay: () => Promise<unknown>;
  dueCount: number;
  deadlineMs: number;
}

export interface SchedulerRowResult {
  dueCount: number;
  charged: number;
  /** Distinct (binding, due date) among the charges: equal to charged when each was made once. */
  distinct: number;
  seconds: number;
  chargesPerSecond: number;
}

interface Sql {
  run(text: string): Promise<void>;
  count(text: string): Promise<number>;
  close(): Promise<void>;
}

async function openSql(setup: SchedulerRowSetup): Promise<Sql> {
  if (setup.storage === 'sqlite') {
    const file = new SqliteDatabase(join(setup.dataDirectory, 'kassa.sqlite'));
    file.pragma('busy_timeout = 10000');
    return {
      run: async (text) => {
        file.exec(text);
      },
      count: async (text) => Number((file.prepare(text).get() as { n: number }).n),
      close: async () => {
        file.close();
      },
    };
  }
  const client = new pg.Client({
    connectionString: setup.postgresUrl, options: `-c search_path=${setup.postgresSchema}`,
  });
  await client.connect();
  return {
    run: async (text) => {
      await client.query(text);
    },
    count: async (text) => Number((await client.query(text)).rows[0].n),
    close: () => client.end(),
  };
}

async function post(url: string, body: string): Promise<Record<string, string>> {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const response = await fetch(url, { method: 'POST', headers, body });
  return (await response.json()) as Record<string, string>;
}

/** The one real binding: its schedule_id. */
async function bindOneCard(setup: SchedulerRowSetup): Promise<string> {
  const schedule = await post(setup.kassaUrl, new URLSearchParams({
    action: 'CREATE_SCHEDULE', client_key: setup.clientKey, name: 'Bench monthly', interval_length: '1',
    interval_unit: 'day', payments_count: '1000', hash: createScheduleHash(setup.password),
  }).toString());
  if (!schedule.schedule_id) throw new Error(`CREATE_SCHEDULE failed: ${JSON.stringify(schedule)}`);
  const saleForm = setup.saleBody(`bench-schedule-${Date.now()}`);
  const sale = await post(setup.kassaUrl, `${saleForm}&recurring_init=Y&schedule_id=${schedule.schedule_id}`);
  if (sale.schedule_id !== schedule.schedule_id) throw new Error(`binding SALE failed: ${JSON.stringify(sale)}`);
  return schedule.schedule_id;
}

/** The copies: N−1 schedules and bindings like the real one, numbered. */
function copyStatements(storage: SchedulerRowSetup['storage'], scheduleId: string, copies: number): string[] {
  if (!/^[\w-]+$/.test(scheduleId)) throw new Error(`unexpected schedule_id ${scheduleId}`);
  const sequence = storage === 'sqlite'
    ? `(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${copies}) SELECT n FROM seq)`
    : `(SELECT generate_series(1, ${copies}) AS n)`;
  const text = (column: string) => (storage === 'sqlite' ? column : `${column}::text`);
  return [
    `INSERT INTO schedules (schedule_id, merchant_id, name, interval_unit, interval_length, day_of_month,
       payments_count, delays, paused, resumed_on, deleted_at_ms, created_at_ms, updated_at_ms)
     SELECT 'bench-s-' || ${text('seq.n')}, merchant_id, name, interval_unit, interval_length, day_of_month,
       payments_count, delays, paused, resumed_on, deleted_at_ms, created_at_ms, updated_at_ms
     FROM schedules, ${sequence} seq WHERE schedule_id = '${scheduleId}'`,
    `INSERT INTO schedule_bindings (binding_id, schedule_id, merchant_id, initiating_trans_id, source_trans_id,
       anchor_on, amount_minor, currency, order_id, status, charges_made, last_index, next_due_on, created_at_ms,
       updated_at_ms)
     SELECT 'bench-b-' || ${text('seq.n')}, 'bench-s-' || ${text('seq.n')}, merchant_id, initiating_trans_id,
       source_trans_id, anchor_on, amount_minor, currency, order_id || '-' || ${text('seq.n')}, status, charges_made,
       last_index, next_due_on, created_at_ms, updated_at_ms
     FROM schedule_bindings, ${sequence} seq WHERE schedule_id = '${scheduleId}'`,
  ];
}

export async function benchScheduler(setup: SchedulerRowSetup): Promise<SchedulerRowResult> {
  const scheduleId = await bindOneCard(setup);
  const sql = await openSql(setup);
  try {
    for (const statement of copyStatements(setup.storage, scheduleId, setup.dueCount - 1)) await sql.run(statement);
    const before = await sql.count('SELECT COUNT(*) AS n FROM schedule_charges');
    await setup.advanceClockOneDay();
    const startedAt = performance.now();
    const deadline = startedAt + setup.deadlineMs;
    let charged = 0;
    while (performance.now() < deadline) {
      charged = (await sql.count('SELECT COUNT(*) AS n FROM schedule_charges')) - before;
      if (charged >= setup.dueCount) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (performance.now() - startedAt) / 1_000;
    const distinct = await sql.count(
      'SELECT COUNT(*) AS n FROM (SELECT DISTINCT binding_id, due_on FROM schedule_charges) AS charges',
    ) - before;
    return { dueCount: setup.dueCount, charged, distinct, seconds, chargesPerSecond: charged / seconds };
  } finally {
    await sql.close();
  }
}
