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

/** A second node: its own connections to the same database (same SQLite file or PostgreSQL
 * schema), the same keys and clock. */
async function secondNode(platform: TestPlatform, acquirer = platform.context.acquirer): Promise<PlatformContext> {
  const storage = await openStorage({
    databaseUrl: process.env.DATABASE_URL || undefined, dataDirectory: platform.dataDirectory, postgresSchema: platform.postgresSchema,
  });
  return { ...platform.context, storage, acquirer };
}

async function bindCards(platform: TestPlatform, count: number, schedule: Record<string, string>) {
  const { body } = await platform.post({
    action: 'CREATE_SCHEDULE', client_key: platform.merchant.clientKey, name: 'Race', hash: createScheduleHash(platform.merchant.password), ...schedule,
  });
  for (let index = 0; index < count; index += 1) {
    const { body: sale } = await platform.post(saleFields(platform.merchant, { recurring_init: 'Y', schedule_id: body.schedule_id }));
    assert.equal(sale.schedule_id, body.schedule_id);
  }
  return body.schedule_id as string;
}

async function scheduledPayments(platform: TestPlatform, scheduleId: string) {
  const db = platform.context.storage.db;
  const payments = await db.selectFrom('payments').select(['trans_id', 'status']).where('schedule_id', '=', scheduleId)
    .where('action', '=', 'RECURRING_SALE').execute();
  const charges = await db.selectFrom('schedule_charges').select(['binding_id', 'due_on', 'trans_id']).where('schedule_id', '=', scheduleId).execute();
  return { payments, charges };
}

test('two scheduler nodes racing on one database charge every (card, due date) exactly once', { timeout: 120_000 }, async (t) => {
  const platform = await startTestPlatform();
  const other = await secondNode(platform);
  t.after(async () => {
    await other.storage.close();
    await platform.close();
  });
  const scheduleId = await bindCards(platform, 12, { interval_length: '1', interval_unit: 'day', payments_count: '3' });
  // Leases that end at once: both nodes claim the same bindings, as they would if leases were
  // lost (a node paused past its lease), so the charge row's unique key alone must decide.
  const options = { batchSize: 5, claimLeaseMs: 0 };
  const runners = [new ScheduleRunner(platform.context, options), new ScheduleRunner(other, options)];
  let collided = 0;
  let charged = 0;
  for (let day = 0; day < 4; day += 1) {
    platform.clock.advance(dayMs);
    // Both nodes wake at the same moment, twice, as two pollers would.
    const results = await Promise.all([...runners, ...runners].map((runner) => runner.runOnce()));
    for (const counts of results) {
      collided += counts.collided;
      charged += counts.charged;
    }
  }
  const { payments, charges } = await scheduledPayments(platform, scheduleId);
  assert.equal(charged, 36, 'each of the 12 cards charged on 3 days');
  assert.equal(payments.length, 36);
  assert.equal(charges.length, 36);
  assert.equal(new Set(charges.map((charge) => `${charge.binding_id} ${charge.due_on}`)).size, 36);
  assert.deepEqual([...new Set(charges.map((charge) => charge.due_on))].sort(), ['2026-11-24', '2026-11-25', '2026-11-26']);
  assert.ok(collided > 0, 'the runners really raced for the same charges');
  const bindings = await platform.context.storage.db.selectFrom('schedule_bindings').select(['status', 'charges_made'])
    .where('schedule_id', '=', scheduleId).execute();
  assert.deepEqual(new Set(bindings.map((binding) => `${binding.status}/${binding.charges_made}`)), new Set(['completed/3']));
});

/** A bank connector (PREPARE written before the call) whose process "dies" during the call. */
class CrashingBank extends TestEngineConnector {
  crashes = 1;
  constructor() {
    super({ recordPrepare: true });
  }
  override async authorize(request: AuthorizationRequest) {
    if (this.crashes > 0) {
      this.crashes -= 1;
      throw new Error('connection reset: node crashed mid-call');
    }
    return super.authorize(request);
  }
}

test('after a crash during the bank call, a restarted scheduler does not charge that due date again', { timeout: 60_000 }, async (t) => {
  const platform = await startTestPlatform();
  const bank = new CrashingBank();
  const crashedNode = await secondNode(platform, bank);
  t.after(async () => {
    await crashedNode.storage.close();
    await platform.close();
  });
  const scheduleId = await bindCards(platform, 1, { interval_length: '1', interval_unit: 'day', payments_count: '2' });
  platform.clock.advance(dayMs);
  await new ScheduleRunner(crashedNode).runOnce();
  let { payments, charges } = await scheduledPayments(platform, scheduleId);
  assert.deepEqual(payments.map((payment) => payment.status), ['PREPARE'], 'the charge in flight is on record');
  assert.equal(charges.length, 1);
  // The restarted node (and the other node) find the due date taken.
  const restartedNode = await secondNode(platform, new TestEngineConnector({ recordPrepare: true }));
  t.after(() => restartedNode.storage.close());
  assert.equal((await new ScheduleRunner(restartedNode).runOnce()).charged, 0);
  assert.equal((await new ScheduleRunner(platform.context).runOnce()).charged, 0);
  // The next date waits while the crashed charge's outcome is unknown (as a merchant's SALE on
  // that order would get "Previous payment not completed"), then goes ahead once it is settled.
  platform.clock.advance(dayMs);
  assert.deepEqual(await new ScheduleRunner(platform.context).runOnce(), { charged: 0, declined: 0, collided: 0, held: 1, ended: 0, skipped: 0 });
  await platform.context.storage.db.updateTable('payments').set({ status: 'DECLINED', decline_reason: 'reconciled' })
    .where('trans_id', '=', payments[0].trans_id).execute();
  assert.equal((await new ScheduleRunner(platform.context).runOnce()).charged, 1);
  ({ payments, charges } = await scheduledPayments(platform, scheduleId));
  assert.equal(payments.length, 2);
  assert.deepEqual(charges.map((charge) => charge.due_on).sort(), ['2026-11-24', '2026-11-25']);
});
