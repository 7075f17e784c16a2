import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { listReconciliations } from '../storage/reconciliations.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { SimulatedBankConnector } from '../testing/simulated-bank.ts';
import { CallbackDispatcher } from './callback-dispatcher.ts';
import { Reconciler } from './reconciler.ts';

// A bank with side effects whose answers get lost: SALE commits PREPARE first, the bank acts,
// the answer never arrives. The reconciler must find out, write it and send the callback.
const bank = new SimulatedBankConnector();
const graceMs = 60_000;
const operatorDeadlineMs = 10 * 60_000;
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;
let reconciler: Reconciler;
type TestMerchant = { clientKey: string; password: string; merchantId: string };
/** A 5.2.0 merchant (the default) and one that chose 5.6.x's UNDEFINED (ADR 0067). */
let merchant: TestMerchant;
let merchant56: TestMerchant;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ acquirer: bank });
  merchant = await platform.addMerchant({ callbackUrl: receiver.url('/merchant') });
  merchant56 = await platform.addMerchant({ callbackUrl: receiver.url('/merchant56'), unknownResult: 'undefined' });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  reconciler = new Reconciler(platform.context, { graceMs, operatorDeadlineMs, backoffMs: [30_000] });
});
beforeEach(() => {
  bank.fault = 'none';
  bank.inquiriesUnknownBeforeAnswer = 0;
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const send = async (action: string, transId: string, extra: Record<string, string> = {}, who = merchant) =>
  (await platform.post(transactionFields(who, action, transId, extra))).body;

/** A SALE whose answer the bank loses after acting on it: PREPARE to the merchant. */
async function lostSale(overrides: Record<string, string> = {}, who = merchant): Promise<string> {
  bank.fault = 'answerLost';
  const answer = (await platform.post(saleFields(who, { order_amount: '10.00', ...overrides }))).body;
  bank.fault = 'none';
  assert.equal(answer.status, 'PREPARE', JSON.stringify(answer));
  return answer.trans_id;
}

async function callbacksOf(transId: string): Promise<string[]> {
  await dispatcher.runOnce();
  return receiver.received
    .filter((received) => received.fields.trans_id === transId)
    .map((received) => `${received.fields.result}:${received.fields.status}`);
}

test('a SALE whose answer was lost: left alone in its grace, then asked about until the bank tells', async () => {
  const approvedId = await lostSale();
  const declinedId = await lostSale({ card_exp_month: '02' });
  const before = bank.inquiries.length;
  assert.equal((await reconciler.runOnce()).claimed, 0, "within the grace the operation is still its own call's");
  assert.equal(bank.inquiries.length, before);

  platform.clock.advance(graceMs + 1);
  bank.inquiriesUnknownBeforeAnswer = 2;
  const first = await reconciler.runOnce();
  assert.equal(first.stillUnknown, 2, JSON.stringify(first));
  assert.equal((await send('GET_TRANS_STATUS', approvedId)).status, 'PREPARE', 'unknown stays PREPARE');
  assert.deepEqual(await callbacksOf(approvedId), [], 'no callback while the outcome is unknown');
  assert.equal((await reconciler.runOnce()).claimed, 0, 'backoff: not asked again at once');

  platform.clock.advance(30_000);
  const second = await reconciler.runOnce();
  assert.deepEqual({ approved: second.approved, declined: second.declined }, { approved: 1, declined: 1 });
  assert.equal((await send('GET_TRANS_STATUS', approvedId)).status, 'SETTLED');
  const declined = await send('GET_TRANS_STATUS', declinedId);
  assert.equal(declined.status, 'DECLINED');
  assert.ok(declined.decline_reason, "the bank's reason is kept");
  assert.deepEqual(await callbacksOf(approvedId), ['SUCCESS:SETTLED']);
  assert.deepEqual(await callbacksOf(declinedId), ['DECLINED:DECLINED']);

  platform.clock.advance(60 * 60_000);
  assert.equal((await reconciler.runOnce()).claimed, 0, 'a finished operation is not asked about again');
});

test('a lost refund is reconciled too: the reservation becomes the refund', async () => {
  const sale = (await platform.post(saleFields(merchant, { order_amount: '10.00' }))).body;
  assert.equal(sale.status, 'SETTLED', JSON.stringify(sale));
  bank.fault = 'answerLost';
  const refund = await send('CREDITVOID', sale.trans_id);
  bank.fault = 'none';
  assert.equal(refund.result, 'ACCEPTED', JSON.stringify(refund));
  platform.clock.advance(graceMs + 1);
  assert.equal((await reconciler.runOnce()).approved, 1);
  assert.equal((await send('GET_TRANS_STATUS', sale.trans_id)).status, 'REFUND');
});

test('two reconcilers at once (two nodes) ask about each operation once', async () => {
  const transIds = [await lostSale(), await lostSale(), await lostSale()];
  platform.clock.advance(graceMs + 1);
  const asked = bank.inquiries.length;
  const other = new Reconciler(platform.context, { graceMs, operatorDeadlineMs });
  const [one, two] = await Promise.all([reconciler.runOnce(), other.runOnce()]);
  assert.equal(one.approved + two.approved, 3);
  assert.equal(bank.inquiries.length - asked, 3, 'each operation was asked about exactly once');
  for (const transId of transIds) assert.deepEqual(await callbacksOf(transId), ['SUCCESS:SETTLED']);
});

test("still unknown past the deadline: on the operator's list, never declined; the operator resolves it", async () => {
  const transId = await lostSale({}, merchant56);
  bank.inquiriesUnknownBeforeAnswer = 1_000;
  platform.clock.advance(graceMs + 1);
  await reconciler.runOnce();
  assert.deepEqual(await listReconciliations(platform.context.storage, { operatorNeededOnly: true, limit: 10 }), []);
  assert.deepEqual(await callbacksOf(transId), [], 'before the deadline the merchant hears nothing');
  platform.clock.advance(operatorDeadlineMs);
  const run = await reconciler.runOnce();
  assert.equal(run.toOperator, 1, JSON.stringify(run));
  assert.equal((await send('GET_TRANS_STATUS', transId, {}, merchant56)).status, 'PREPARE', 'never silently declined');
  assert.deepEqual(await callbacksOf(transId), ['UNDEFINED:PREPARE'], "the merchant is told it is undefined");
  const undefinedCallback = receiver.received.find((received) => received.fields.trans_id === transId)!.fields;
  assert.equal(undefinedCallback.action, 'SALE');
  assert.equal(undefinedCallback.amount, '10.00');
  assert.equal(undefinedCallback.card, '411111******1111');
  assert.ok(
    verifyCallback(undefinedCallback, { password: merchant56.password, email: 'doe@example.com' }),
    'signed like every callback: the merchant can verify it',
  );
  assert.equal(undefinedCallback.decline_reason, undefined, 'no decline in it');
  platform.clock.advance(30_000);
  assert.equal((await reconciler.runOnce()).toOperator, 0, 'asked again, still unknown: not escalated twice');
  assert.deepEqual(await callbacksOf(transId), ['UNDEFINED:PREPARE'], 'one UNDEFINED callback per escalation');

  const listed = await runKassa(platform, 'reconciliation', 'list');
  assert.match(listed.stdout, new RegExp(transId));
  assert.match(listed.stdout, /SALE 10\.00 USD/);
  const resolved = await runKassa(
    platform,
    'reconciliation',
    'resolve',
    '--trans-id',
    transId,
    '--outcome',
    'approved',
  );
  assert.match(resolved.stdout, /SETTLED/);
  assert.equal((await send('GET_TRANS_STATUS', transId, {}, merchant56)).status, 'SETTLED');
  assert.deepEqual(await callbacksOf(transId), ['UNDEFINED:PREPARE', 'SUCCESS:SETTLED'], 'then the final one');
  assert.doesNotMatch((await runKassa(platform, 'reconciliation', 'list')).stdout, new RegExp(transId));
  platform.clock.advance(60 * 60_000);
  assert.equal((await reconciler.runOnce()).claimed, 0, "the operator's decision is final");
});

test("a 5.2.0 merchant's escalations in its own words: SUCCESS/PREPARE for a SALE, none for a refund", async () => {
  const transId = await lostSale();
  const sale = (await platform.post(saleFields(merchant, { order_amount: '10.00' }))).body;
  assert.equal(sale.status, 'SETTLED', JSON.stringify(sale));
  bank.fault = 'answerLost';
  assert.equal((await send('CREDITVOID', sale.trans_id, { amount: '4.00' })).result, 'ACCEPTED');
  bank.fault = 'none';
  bank.inquiriesUnknownBeforeAnswer = 1_000;
  platform.clock.advance(graceMs + operatorDeadlineMs + 1);
  assert.equal((await reconciler.runOnce()).toOperator, 2);
  // 5.2.0 knows no UNDEFINED: the SALE's callback repeats its answer's SUCCESS/PREPARE ("final
  // status will be sent in callback"); the refund's ACCEPTED already said a callback would come.
  assert.deepEqual(await callbacksOf(transId), ['SUCCESS:PREPARE']);
  assert.deepEqual(await callbacksOf(sale.trans_id), ['SUCCESS:SETTLED'], 'no callback that could read as refunded');
  for (const id of [transId, sale.trans_id]) {
    await runKassa(platform, 'reconciliation', 'resolve', '--trans-id', id, '--outcome', 'approved');
  }
  assert.deepEqual(await callbacksOf(transId), ['SUCCESS:PREPARE', 'SUCCESS:SETTLED']);
  const refundCallbacks = await callbacksOf(sale.trans_id);
  assert.equal(refundCallbacks.length, 2, `then the refund's final callback: ${refundCallbacks}`);
  assert.match(refundCallbacks[1]!, /^SUCCESS:/);
});

test('a CAPTURE escalated by two nodes at once: one UNDEFINED callback, then the final one', async () => {
  const auth = (await platform.post(saleFields(merchant, { order_amount: '20.00', auth: 'Y' }))).body;
  assert.equal(auth.status, 'PENDING', JSON.stringify(auth));
  bank.fault = 'answerLost';
  const capture = await send('CAPTURE', auth.trans_id, { amount: '15.00' });
  bank.fault = 'none';
  assert.equal(capture.result, 'UNDEFINED', JSON.stringify(capture));
  bank.inquiriesUnknownBeforeAnswer = 2;
  platform.clock.advance(operatorDeadlineMs + 1);
  const other = new Reconciler(platform.context, { graceMs, operatorDeadlineMs, backoffMs: [30_000] });
  const [one, two] = await Promise.all([reconciler.runOnce(), other.runOnce()]);
  assert.equal(one.toOperator + two.toOperator, 1, JSON.stringify([one, two]));
  assert.deepEqual(await callbacksOf(auth.trans_id), ['SUCCESS:PENDING', 'UNDEFINED:PREPARE']);
  const undefinedCallback = receiver.received.filter((received) => received.fields.trans_id === auth.trans_id)[1];
  assert.equal(undefinedCallback.fields.action, 'CAPTURE');
  assert.equal(undefinedCallback.fields.amount, '15.00', "the capture's amount, not the payment's");
  assert.equal((await send('GET_TRANS_STATUS', auth.trans_id)).status, 'PREPARE');

  platform.clock.advance(30_000);
  await reconciler.runOnce(); // the bank still cannot tell: no second UNDEFINED
  platform.clock.advance(30_000);
  assert.equal((await reconciler.runOnce()).approved, 1, 'the bank tells at last');
  assert.equal((await send('GET_TRANS_STATUS', auth.trans_id)).status, 'SETTLED');
  assert.deepEqual(await callbacksOf(auth.trans_id), ['SUCCESS:PENDING', 'UNDEFINED:PREPARE', 'SUCCESS:SETTLED']);
  assert.deepEqual(await listReconciliations(platform.context.storage, { operatorNeededOnly: true, limit: 10 })
    .then((views) => views.filter((view) => view.transId === auth.trans_id)), [], 'off the list');
});
