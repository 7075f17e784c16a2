import { test } from 'node:test';
import assert from 'node:assert/strict';
import { financialDay } from '../domain/dates.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';
import type { PlatformContext } from '../operations/context.ts';
import { createScheduleHash } from '../protocol/hash.ts';
import { openStorage } from '../storage/database.ts';
import { claimDueBindings } from '../storage/schedules.ts';
import { saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';
import { ScheduleRunner } from './schedule-runner.ts';

const dayMs = 24 * 60 * 60 * 1000;

/** A second node: its own connections to the same database, the same keys and clock. */
async function secondNode(platform: TestPlatform): Promise<PlatformContext> {
  const storage = await openStorage({
    databaseUrl: process.env.DATABASE_URL || undefined, dataDirectory: platform.dataDirectory,
    postgresSchema: platform.postgresSchema,
  });
  return { ...platform.context, storage };
}

async function bindCards(platform: TestPlatform, count: number) {
  const { body } = await platform.post({
    action: 'CREATE_SCHEDULE', client_key: platform.merchant.clientKey, name: 'Claims', interval_length: '1',
    interval_unit: 'day', payments_count: '5', hash: createScheduleHash(platform.merchant.password),
  });
  for (let index = 0; index < count; index += 1) {
    const fields = saleFields(platform.merchant, { recurring_init: 'Y', schedule_id: body.schedule_id });
    const { body: sale } = await platform.post(fields);
    assert.equal(sale.schedule_id, body.schedule_id);
  }
  return body.schedule_id as string;
}

async function chargeKeys(platform: TestPlatform, scheduleId: string) {
  const rows = await platform.context.storage.db.selectFrom('schedule_charges').select(['binding_id', 'due_on'])
    .where('schedule_id', '=', scheduleId).execute();
  return rows.map((row) => `${row.binding_id} ${row.due_on}`);
}

test('two scheduler nodes with leases split the due bindings: each charges a share, none collides, each charge once', {
  timeout: 120_000,
}, async (t) => {
  // PREPARE written before the bank call, as for a real bank: the charge row commits first.
  const platform = await startTestPlatform({ acquirer: new TestEngineConnector({ recordPrepare: true }) });
  const other = await secondNode(platform);
  t.after(async () => {
    await other.storage.close();
    await platform.close();
  });
  const scheduleId = await bindCards(platform, 40);
  platform.clock.advance(dayMs);
  const options = { batchSize: 4, concurrency: 4 };
  const [first, second] = await Promise.all([platform.context, other]
    .map((context) => new ScheduleRunner(context, options).runOnce()));
  assert.equal(first.charged + second.charged, 40);
  assert.ok(first.charged > 0 && second.charged > 0, `both nodes charged: ${first.charged} and ${second.charged}`);
  assert.equal(first.collided + second.collided, 0, 'no node tried a charge the other was making');
  const keys = await chargeKeys(platform, scheduleId);
  assert.equal(keys.length, 40);
  assert.equal(new Set(keys).size, 40);
});

test('bindings claimed by a node that stopped are charged by another once the lease ends, not before', {
  timeout: 60_000,
}, async (t) => {
  const platform = await startTestPlatform();
  const other = await secondNode(platform);
  t.after(async () => {
    await other.storage.close();
    await platform.close();
  });
  const scheduleId = await bindCards(platform, 3);
  platform.clock.advance(dayMs);
  const wallMs = 1_000_000;
  // The first node claims them and stops before charging (a crash between claim and charge).
  const today = financialDay(platform.clock.nowMs(), platform.context.timeZone);
  const claim = { today, nowMs: wallMs, leaseUntilMs: wallMs + 60_000, limit: 10 };
  const claimed = await claimDueBindings(platform.context.storage, claim);
  assert.equal(claimed.length, 3);
  const duringLease = await new ScheduleRunner(other, { wallClockMs: () => wallMs + 59_000 }).runOnce();
  assert.equal(duringLease.charged, 0, 'leased to the stopped node');
  assert.deepEqual(await chargeKeys(platform, scheduleId), []);
  const afterLease = await new ScheduleRunner(other, { wallClockMs: () => wallMs + 60_000 }).runOnce();
  assert.equal(afterLease.charged, 3);
  assert.equal(new Set(await chargeKeys(platform, scheduleId)).size, 3);
});

test('a binding held back by an unfinished payment is given back at the end of the run and charged by the next', {
  timeout: 60_000,
}, async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const scheduleId = await bindCards(platform, 1);
  const binding = await platform.context.storage.db.selectFrom('schedule_bindings').select('initiating_trans_id')
    .where('schedule_id', '=', scheduleId).executeTakeFirstOrThrow();
  // The order's initiating payment is put back in 3-D Secure: the binding waits for it.
  await platform.context.storage.db.updateTable('payments').set({ status: '3DS' })
    .where('trans_id', '=', binding.initiating_trans_id).execute();
  platform.clock.advance(dayMs);
  const runner = new ScheduleRunner(platform.context);
  assert.equal((await runner.runOnce()).charged, 0);
  const lease = await platform.context.storage.db.selectFrom('schedule_bindings').select('claimed_until_ms')
    .where('schedule_id', '=', scheduleId).executeTakeFirstOrThrow();
  assert.equal(lease.claimed_until_ms, null, 'no lease left behind');
  await platform.context.storage.db.updateTable('payments').set({ status: 'SETTLED' })
    .where('trans_id', '=', binding.initiating_trans_id).execute();
  assert.equal((await runner.runOnce()).charged, 1);
  assert.equal((await chargeKeys(platform, scheduleId)).length, 1);
});
