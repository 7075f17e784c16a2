import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { protocolErrors } from '../protocol/errors.ts';
import { cardHashPart, createScheduleHash, saleHash, scheduleHash } from '../protocol/hash.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';
import { ScheduleRunner } from '../workers/schedule-runner.ts';

const email = 'doe@example.com';
const dayMs = 24 * 60 * 60 * 1000;
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;
let runner: ScheduleRunner;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  runner = new ScheduleRunner(platform.context);
});
after(async () => {
  await runner.stop();
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR', JSON.stringify(body));
  assert.equal(body.error_code, protocolErrors[name].code, JSON.stringify(body));
}

async function createSchedule(fields: Record<string, string>, merchant = platform.merchant) {
  return (await platform.post({
    action: 'CREATE_SCHEDULE', client_key: merchant.clientKey, name: 'Plan', hash: createScheduleHash(merchant.password), ...fields,
  })).body;
}
const scheduleAction = async (action: string, scheduleId: string, extra: Record<string, string> = {}, merchant = platform.merchant) =>
  (await platform.post({ action, client_key: merchant.clientKey, schedule_id: scheduleId, hash: scheduleHash(scheduleId, merchant.password), ...extra })).body;
const sale = async (overrides: Record<string, string> = {}) =>
  (await platform.post(saleFields(platform.merchant, { order_amount: '9.99', ...overrides }))).body;

/** Moves the clock a day at a time to `lastDay` (10:00 UTC), running the scheduler and the
 * callback dispatcher each day, as a running server would. */
async function liveUntil(lastDay: string) {
  const end = Date.parse(`${lastDay}T10:00:00Z`);
  while (platform.clock.nowMs() < end) {
    platform.clock.advance(dayMs);
    await runner.runOnce();
    await dispatcher.runOnce();
  }
}

/** RECURRING_SALE callbacks the merchant received for this schedule, hash-verified. */
function scheduledCallbacks(scheduleId: string) {
  return receiver.received
    .filter((callback) => callback.fields.schedule_id === scheduleId && callback.fields.action === 'RECURRING_SALE')
    .map((callback) => {
      assert.equal(verifyCallback(callback.fields, { password: platform.merchant.password, email }), true, callback.rawBody);
      return callback.fields;
    });
}

test('a monthly schedule on day 31 with 2 delays and 6 payments charges exactly on its dates across a leap February, one callback each', { timeout: 120_000 }, async () => {
  platform.clock.set(Date.UTC(2027, 10, 20, 10, 0, 0));
  const created = await createSchedule({ name: 'Gym', interval_length: '1', interval_unit: 'month', day_of_month: '31', payments_count: '6', delays: '2' });
  assert.deepEqual(Object.keys(created), ['action', 'result', 'schedule_id']);
  assert.equal(created.result, 'SUCCESS');
  assert.deepEqual(await scheduleAction('SCHEDULE_INFO', created.schedule_id), {
    action: 'SCHEDULE_INFO', result: 'SUCCESS', name: 'Gym', interval_length: 1, interval_unit: 'month', day_of_month: 31,
    payments_count: 6, delays: 2, paused: 'N',
  });
  const first = await sale({ recurring_init: 'Y', schedule_id: created.schedule_id });
  assert.equal(first.status, 'SETTLED');
  assert.equal(first.schedule_id, created.schedule_id);
  assert.ok(first.recurring_token);

  await liveUntil('2028-09-15');
  const callbacks = scheduledCallbacks(created.schedule_id);
  assert.deepEqual(callbacks.map((fields) => fields.trans_date.slice(0, 10)),
    ['2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31', '2028-06-30', '2028-07-31']);
  for (const fields of callbacks) {
    assert.equal(fields.result, 'SUCCESS');
    assert.equal(fields.status, 'SETTLED');
    assert.equal(fields.amount, '9.99');
    assert.equal(fields.order_id, first.order_id);
    assert.equal(fields.card, '411111******1111');
    const status = (await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', fields.trans_id))).body;
    assert.equal(status.status, 'SETTLED');
  }
  assert.equal(new Set(callbacks.map((fields) => fields.trans_id)).size, 6);
  // The initiating SALE's own callback carries the schedule too.
  assert.equal(receiver.received.find((callback) => callback.fields.trans_id === first.trans_id)!.fields.schedule_id, created.schedule_id);
});

test('PAUSE skips the dates that fall in the pause; RUN goes on from there; DELETE stops it; the spec\'s state rules hold', { timeout: 60_000 }, async () => {
  platform.clock.set(Date.UTC(2030, 0, 1, 10, 0, 0));
  const { schedule_id: scheduleId } = await createSchedule({ interval_length: '10', interval_unit: 'day', payments_count: '5' });
  const first = await sale({ recurring_init: 'Y', schedule_id: scheduleId });
  await liveUntil('2030-01-15'); // 11 Jan charged
  assert.equal((await scheduleAction('PAUSE_SCHEDULE', scheduleId)).result, 'SUCCESS');
  assertError(await scheduleAction('PAUSE_SCHEDULE', scheduleId), 'schedulePaused');
  assert.equal((await scheduleAction('SCHEDULE_INFO', scheduleId)).paused, 'Y');
  assertError(await sale({ recurring_init: 'Y', schedule_id: scheduleId }), 'schedulePaused');
  await liveUntil('2030-02-05'); // 21 and 31 Jan fall in the pause
  assert.deepEqual((await scheduleAction('RUN_SCHEDULE', scheduleId)), { action: 'RUN_SCHEDULE', result: 'SUCCESS' });
  assertError(await scheduleAction('RUN_SCHEDULE', scheduleId), 'scheduleNotPaused');
  await liveUntil('2030-02-25'); // 10 and 20 Feb
  assert.deepEqual((await scheduleAction('DELETE_SCHEDULE', scheduleId)), { action: 'DELETE_SCHEDULE', result: 'SUCCESS' });
  await liveUntil('2030-04-30');
  assert.deepEqual(scheduledCallbacks(scheduleId).map((fields) => fields.trans_date.slice(0, 10)), ['2030-01-11', '2030-02-10', '2030-02-20']);
  assertError(await scheduleAction('SCHEDULE_INFO', scheduleId), 'scheduleNotFound');
  assertError(await scheduleAction('DELETE_SCHEDULE', scheduleId), 'scheduleNotFound');
  assertError(await sale({ recurring_init: 'Y', schedule_id: scheduleId }), 'scheduleNotFound');
  assert.equal(first.schedule_id, scheduleId);
});

test('RECURRING_SALE with schedule_id binds the card too; DESCHEDULE stops one card and leaves the others', { timeout: 60_000 }, async () => {
  platform.clock.set(Date.UTC(2031, 0, 1, 10, 0, 0));
  const { schedule_id: scheduleId } = await createSchedule({ interval_length: '1', interval_unit: 'month', payments_count: '12' });
  const one = await sale({ recurring_init: 'Y', schedule_id: scheduleId });
  const two = await sale({ recurring_init: 'Y' });
  const { body: bound } = await platform.post({
    action: 'RECURRING_SALE', client_key: platform.merchant.clientKey, order_id: 'SUB-2', order_amount: '2.50', order_description: 'Plan',
    recurring_first_trans_id: two.trans_id, recurring_token: two.recurring_token, schedule_id: scheduleId,
    hash: saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart('4111111111111111') }),
  });
  assert.equal(bound.schedule_id, scheduleId);
  assert.equal(bound.action, 'RECURRING_SALE');
  await liveUntil('2031-02-02');
  assert.deepEqual(await scheduleAction('DESCHEDULE', scheduleId, { recurring_token: one.recurring_token }), { action: 'DESCHEDULE', result: 'SUCCESS' });
  assertError(await scheduleAction('DESCHEDULE', scheduleId, { recurring_token: one.recurring_token }), 'recurringNotBound');
  assertError(await scheduleAction('DESCHEDULE', scheduleId, { recurring_token: '00000000-0000-4000-8000-000000000000' }), 'recurringTokenInvalid');
  await liveUntil('2031-03-05');
  const charged = scheduledCallbacks(scheduleId).map((fields) => [fields.order_id, fields.amount, fields.trans_date.slice(0, 10)]);
  assert.deepEqual(charged, [
    ['SUB-2', '2.50', '2031-01-01'], // the binding RECURRING_SALE itself
    [one.order_id, '9.99', '2031-02-01'], ['SUB-2', '2.50', '2031-02-01'], ['SUB-2', '2.50', '2031-03-01'],
  ]);
});

test('schedule requests are validated (spec rules) and signed (Formula 3 and 4); a schedule is one merchant\'s', async () => {
  const invalid = await createSchedule({ name: '', interval_length: '0', interval_unit: 'week', day_of_month: '32', payments_count: 'x', delays: '-1' });
  assertError(invalid, 'requestInvalid');
  assert.deepEqual(invalid.errors.map((error: any) => error.error_message), [
    'name: This value should not be blank.', 'interval_length: This value should be greater than 0.',
    'interval_unit: The value you selected is not a valid choice.', 'day_of_month: This value should be between 1 and 31.',
    'payments_count: This value should be of type integer.', 'delays: This value should be either positive or zero.',
  ]);
  const dayWithDate = await createSchedule({ interval_length: '5', interval_unit: 'day', day_of_month: '3', payments_count: '2' });
  assert.deepEqual(dayWithDate.errors.map((error: any) => error.error_message), ['day_of_month: This value should be blank.']);
  assertError(await createSchedule({ interval_length: '1', interval_unit: 'day', payments_count: '2', hash: 'a'.repeat(32) }), 'hashInvalid');
  const { schedule_id: scheduleId } = await createSchedule({ interval_length: '1', interval_unit: 'day', payments_count: '2' });
  assertError(await scheduleAction('PAUSE_SCHEDULE', scheduleId, { hash: createScheduleHash(platform.merchant.password) }), 'hashInvalid');
  const other = await platform.addMerchant();
  assertError(await scheduleAction('SCHEDULE_INFO', scheduleId, {}, other), 'scheduleNotFound');
  // schedule_id needs recurring_init=Y.
  const unbound = await sale({ schedule_id: scheduleId });
  assert.deepEqual(unbound.errors.map((error: any) => error.error_message), ['schedule_id: A schedule can be used only with recurring_init=Y.']);
  // A card that cannot start recurring is charged, but not bound.
  const otherCard = await sale({
    recurring_init: 'Y', schedule_id: scheduleId, card_number: '5555555555554444', card_exp_year: '2040',
    hash: saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart('5555555555554444') }),
  });
  assert.equal(otherCard.status, 'SETTLED');
  assert.equal(otherCard.schedule_id, undefined);
  assert.equal((await platform.context.storage.db.selectFrom('schedule_bindings').selectAll().where('schedule_id', '=', scheduleId).execute()).length, 0);
});
