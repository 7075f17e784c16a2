import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEngineConnector } from '../acquirers/test-engine.ts';
import type { AuthorizationRequest } from '../acquirers/connector.ts';
import type { PlatformContext } from '../operations/context.ts';
import { createScheduleHash } from '../protocol/hash.ts';
import { openStorage } from '../storage/database.ts';
import { saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';
import { ScheduleRunner } from './schedule-runner.ts';

const dayMs = 24 * 60 * 60 * 1000;

/** A remote bank (PREPARE written before the call) that records every scheduled charge's call
 * and holds each call until `bound` calls are in flight (or a moment passed): so the bound is
 * reached whenever the runner can reach it, and exceeding it would be seen. */
class RecordingBank extends TestEngineConnector {
  inFlight = 0;
  inFlightMax = 0;
  /** Scheduled charges' trans_ids, in call order, with the call's start and end on one counter. */
  readonly calls: { transId: string; startedAt: number; endedAt: number }[] = [];
  #tick = 0;
  #waiting: (() => void)[] = [];

  constructor(private readonly bound: number) {
    super({ recordPrepare: true });
  }

  override async authorize(request: AuthorizationRequest) {
    if (!request.merchantInitiated) return super.authorize(request);
    this.#tick += 1;
    const call = { transId: request.transId, startedAt: this.#tick, endedAt: 0 };
    this.calls.push(call);
    this.inFlight += 1;
    this.inFlightMax = Math.max(this.inFlightMax, this.inFlight);
    if (this.inFlight >= this.bound) for (const release of this.#waiting.splice(0)) release();
    else await new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      setTimeout(resolve, 50);
    });
    this.inFlight -= 1;
    this.#tick += 1;
    call.endedAt = this.#tick;
    return super.authorize(request);
  }
}

async function bindCards(platform: TestPlatform, count: number, schedule: Record<string, string>) {
  const { body } = await platform.post({
    action: 'CREATE_SCHEDULE', client_key: platform.merchant.clientKey, name: 'Scale',
    hash: createScheduleHash(platform.merchant.password), ...schedule,
  });
  for (let index = 0; index < count; index += 1) {
    const fields = saleFields(platform.merchant, { recurring_init: 'Y', schedule_id: body.schedule_id });
    const { body: sale } = await platform.post(fields);
    assert.equal(sale.status, 'SETTLED');
  }
  return body.schedule_id as string;
}

async function chargesByBinding(platform: TestPlatform, scheduleId: string) {
  const rows = await platform.context.storage.db.selectFrom('schedule_charges')
    .select(['binding_id', 'due_on', 'trans_id'])
    .where('schedule_id', '=', scheduleId).execute();
  const byBinding = new Map<string, { dueOn: string; transId: string }[]>();
  for (const row of rows) {
    const list = byBinding.get(row.binding_id) ?? [];
    list.push({ dueOn: row.due_on, transId: row.trans_id });
    byBinding.set(row.binding_id, list);
  }
  return { rows, byBinding };
}

test('due charges run concurrently up to the bound, never two of one card at once, each card\'s dates in order', {
  timeout: 120_000,
}, async (t) => {
  const bank = new RecordingBank(3);
  const platform = await startTestPlatform({ acquirer: bank });
  t.after(() => platform.close());
  const scheduleId = await bindCards(platform, 8, { interval_length: '1', interval_unit: 'day', payments_count: '4' });
  // Three days pass while the scheduler is down: 3 dates due for each of the 8 cards.
  platform.clock.advance(3 * dayMs);
  const counts = await new ScheduleRunner(platform.context, { concurrency: 3, batchSize: 4 }).runOnce();
  assert.equal(counts.charged, 24, 'all missed dates caught up in one run');
  assert.equal(bank.inFlightMax, 3, 'three charges at once, never more');

  const { rows, byBinding } = await chargesByBinding(platform, scheduleId);
  assert.equal(rows.length, 24);
  const callOf = new Map(bank.calls.map((call) => [call.transId, call]));
  for (const [bindingId, charges] of byBinding) {
    const calls = charges.map((charge) => ({ ...charge, ...callOf.get(charge.transId)! }))
      .sort((left, right) => left.startedAt - right.startedAt);
    const dates = calls.map((call) => call.dueOn);
    assert.deepEqual(dates, ['2026-11-24', '2026-11-25', '2026-11-26'], `dates of ${bindingId} in order`);
    for (let index = 1; index < calls.length; index += 1) {
      const after = calls[index].startedAt > calls[index - 1].endedAt;
      assert.ok(after, `${bindingId}: a date is charged after the previous one ended`);
    }
  }
});

test('two nodes, each running charges concurrently, catch up missed dates: exactly one charge per card and date', {
  timeout: 120_000,
}, async (t) => {
  const platform = await startTestPlatform({ acquirer: new TestEngineConnector({ recordPrepare: true }) });
  const storage = await openStorage({
    databaseUrl: process.env.DATABASE_URL || undefined, dataDirectory: platform.dataDirectory,
    postgresSchema: platform.postgresSchema,
  });
  const other: PlatformContext = { ...platform.context, storage };
  t.after(async () => {
    await storage.close();
    await platform.close();
  });
  const scheduleId = await bindCards(platform, 10, { interval_length: '1', interval_unit: 'day', payments_count: '3' });
  platform.clock.advance(3 * dayMs);
  const options = { concurrency: 6, batchSize: 4 };
  const results = await Promise.all([platform.context, other, platform.context, other]
    .map((context) => new ScheduleRunner(context, options).runOnce()));
  const charged = results.reduce((sum, counts) => sum + counts.charged, 0);
  const { rows, byBinding } = await chargesByBinding(platform, scheduleId);
  assert.equal(charged, 30, 'each of the 10 cards charged on its 3 dates, by one node or the other');
  assert.equal(rows.length, 30);
  assert.equal(new Set(rows.map((row) => `${row.binding_id} ${row.due_on}`)).size, 30);
  const payments = await platform.context.storage.db.selectFrom('payments').select('trans_id')
    .where('schedule_id', '=', scheduleId).where('action', '=', 'RECURRING_SALE').execute();
  assert.equal(payments.length, 30, 'no payment beyond the 30 charges: every loser rolled back');
  for (const charges of byBinding.values()) assert.equal(charges.length, 3);
});
