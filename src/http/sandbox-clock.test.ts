import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createScheduleHash } from '../protocol/hash.ts';
import { SandboxClock } from '../storage/sandbox-clock.ts';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { ScheduleRunner } from '../workers/schedule-runner.ts';


function cli(platform: TestPlatform, extraEnvironment: Record<string, string> = {}) {
  return (...args: string[]) => runKassa({ ...platform, environment: extraEnvironment }, ...args);
}

test('`kassa clock advance` in another process moves the server\'s clock: the scheduler charges the days it skipped', { timeout: 90_000 }, async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  assert.ok(platform.context.clock instanceof SandboxClock, 'sandbox mode runs on the sandbox clock');
  const { body: schedule } = await platform.post({
    action: 'CREATE_SCHEDULE', client_key: platform.merchant.clientKey, name: 'Daily', interval_length: '1', interval_unit: 'day',
    payments_count: '3', hash: createScheduleHash(platform.merchant.password),
  });
  const first = (await platform.post(saleFields(platform.merchant, { recurring_init: 'Y', schedule_id: schedule.schedule_id }))).body;
  assert.equal(first.trans_date, '2026-11-23 10:00:00');
  const runner = new ScheduleRunner(platform.context);
  assert.equal((await runner.runOnce()).charged, 0);

  const kassa = cli(platform);
  const moved = JSON.parse((await kassa('clock', 'advance', '30d', '--json')).stdout);
  assert.equal(moved.offset_ms, 30 * 24 * 60 * 60 * 1000);
  assert.equal((await runner.runOnce()).charged, 3, 'the runner reads the new offset before it runs');
  assert.equal(platform.context.clock.nowMs(), Date.UTC(2026, 11, 23, 10, 0, 0));
  const later = (await platform.post(saleFields(platform.merchant))).body;
  assert.equal(later.trans_date, '2026-12-23 10:00:00');
  // Forward only, and advances add up.
  await assert.rejects(kassa('clock', 'advance', '-1d'));
  await kassa('clock', 'advance', '12h');
  assert.match((await kassa('clock', 'show')).stdout, /offset_ms\s+2635200000/);
  const status = (await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', first.trans_id))).body;
  assert.equal(status.status, 'SETTLED');
});

test('the operator endpoint moves the clock with the operator token; production has neither endpoint nor clock control', { timeout: 60_000 }, async (t) => {
  const platform = await startTestPlatform({ config: { operatorToken: 'operator-secret-0123456789' } });
  const production = await startTestPlatform({ config: { mode: 'production', operatorToken: 'operator-secret-0123456789' } });
  t.after(async () => {
    await platform.close();
    await production.close();
  });
  const advance = (target: TestPlatform, authorization: string, duration: string) => target.app.inject({
    method: 'POST', url: '/operator/clock/advance', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `duration=${duration}`,
  });
  assert.equal((await advance(platform, 'Bearer wrong', '30d')).statusCode, 401);
  assert.equal((await advance(platform, 'Bearer operator-secret-0123456789', 'soon')).statusCode, 400);
  const moved = await advance(platform, 'Bearer operator-secret-0123456789', '30d');
  assert.equal(moved.statusCode, 200);
  assert.equal(moved.json().now, '2026-12-23 10:00:00');
  assert.equal((await platform.post(saleFields(platform.merchant))).body.trans_date, '2026-12-23 10:00:00');
  const shown = await platform.app.inject({ method: 'GET', url: '/operator/clock', headers: { authorization: 'Bearer operator-secret-0123456789' } });
  assert.equal(shown.json().offset_ms, 30 * 24 * 60 * 60 * 1000);

  assert.equal((await advance(production, 'Bearer operator-secret-0123456789', '30d')).statusCode, 404);
  assert.ok(!(production.context.clock instanceof SandboxClock));
  await assert.rejects(cli(production, { KASSA_MODE: 'production' })('clock', 'advance', '30d'), /clock control is off in production mode/);
});
