import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { protocolErrors } from '../protocol/errors.ts';
import { voidDeclineReasons } from '../operations/void.ts';

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

const statusOf = async (transId: string) =>
  (await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', transId))).body.status;
const send = async (action: string, transId: string, extra: Record<string, string> = {}) =>
  (await platform.post(transactionFields(platform.merchant, action, transId, extra))).body;
const newPayment = async (overrides: Record<string, string> = {}) =>
  (await platform.post(saleFields(platform.merchant, { order_amount: '10.00', ...overrides }))).body;

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR', JSON.stringify(body));
  assert.equal(body.error_code, protocolErrors[name].code);
  assert.equal(body.error_message, protocolErrors[name].message);
}

test('CAPTURE of an AUTH in full settles it with every spec field', async () => {
  const auth = await newPayment({ auth: 'Y' });
  const body = await send('CAPTURE', auth.trans_id);
  assert.deepEqual(body, {
    action: 'CAPTURE', result: 'SUCCESS', status: 'SETTLED', amount: '10.00', order_id: auth.order_id, trans_id: auth.trans_id,
    trans_date: '2026-11-23 10:00:00', descriptor: 'SHOP.TEST', currency: 'USD',
  });
  assert.equal(await statusOf(auth.trans_id), 'SETTLED');
  assertError(await send('CAPTURE', auth.trans_id), 'captureNotPending');
});

test('one partial CAPTURE is allowed; more than authorized is 208004; a SALE cannot be captured', async () => {
  const auth = await newPayment({ auth: 'Y' });
  assertError(await send('CAPTURE', auth.trans_id, { amount: '10.01' }), 'captureTooLarge');
  assert.equal((await send('CAPTURE', auth.trans_id, { amount: '4.00' })).amount, '4.00');
  assertError(await send('CAPTURE', auth.trans_id, { amount: '1.00' }), 'captureNotPending');
  assertError(await send('CAPTURE', (await newPayment()).trans_id), 'captureNotPending');
  const refundTooMuch = await send('CREDITVOID', auth.trans_id, { amount: '4.01' });
  assertError(refundTooMuch, 'refundTooLarge');
});

test('test card 03/2025: AUTH succeeds, CAPTURE is declined and the payment stays PENDING', async () => {
  const auth = await newPayment({ auth: 'Y', card_exp_month: '03' });
  assert.equal(auth.status, 'PENDING');
  const body = await send('CAPTURE', auth.trans_id);
  assert.equal(body.result, 'DECLINED');
  assert.equal(body.status, 'PENDING');
  assert.equal(body.decline_reason, 'Capture declined by processing');
  assert.equal(await statusOf(auth.trans_id), 'PENDING');
  // Declined capture leaves the AUTH reversible.
  assert.equal((await send('CREDITVOID', auth.trans_id)).result, 'ACCEPTED');
  assert.equal(await statusOf(auth.trans_id), 'REVERSAL');
});

test('CREDITVOID refunds in parts; the payment stays SETTLED until everything is refunded', async () => {
  const payment = await newPayment();
  const accepted = await send('CREDITVOID', payment.trans_id, { amount: '3.00' });
  assert.deepEqual(accepted, { action: 'CREDITVOID', result: 'ACCEPTED', order_id: payment.order_id, trans_id: payment.trans_id });
  assert.equal(await statusOf(payment.trans_id), 'SETTLED');
  assert.equal((await send('CREDITVOID', payment.trans_id, { amount: '6.00' })).result, 'ACCEPTED');
  assertError(await send('CREDITVOID', payment.trans_id, { amount: '1.01' }), 'refundTooLarge');
  // No amount: the rest.
  assert.equal((await send('CREDITVOID', payment.trans_id)).result, 'ACCEPTED');
  assert.equal(await statusOf(payment.trans_id), 'REFUND');
  assertError(await send('CREDITVOID', payment.trans_id, { amount: '0.01' }), 'refundNotAllowed');
});

test('CREDITVOID of an AUTH is a full REVERSAL only (208009 partial, 208008 larger)', async () => {
  const auth = await newPayment({ auth: 'Y' });
  assertError(await send('CREDITVOID', auth.trans_id, { amount: '5.00' }), 'reversalPartial');
  assertError(await send('CREDITVOID', auth.trans_id, { amount: '10.01' }), 'reversalTooLarge');
  assert.equal((await send('CREDITVOID', auth.trans_id, { amount: '10.00' })).result, 'ACCEPTED');
  assert.equal(await statusOf(auth.trans_id), 'REVERSAL');
  assertError(await send('CAPTURE', auth.trans_id), 'captureNotPending');
});

test('a declined payment cannot be refunded (208005); bad amounts are validation errors', async () => {
  const declined = await newPayment({ card_exp_month: '02' });
  assertError(await send('CREDITVOID', declined.trans_id), 'refundNotAllowed');
  const payment = await newPayment();
  const body = await send('CREDITVOID', payment.trans_id, { amount: '-1' });
  assertError(body, 'requestInvalid');
  assertError(await send('CREDITVOID', payment.trans_id, { amount: '0.00' }), 'requestInvalid');
});

test('VOID cancels a SETTLED payment on its financial day only', async () => {
  const payment = await newPayment();
  assert.deepEqual(await send('VOID', payment.trans_id), {
    action: 'VOID', result: 'SUCCESS', status: 'VOID', order_id: payment.order_id, trans_id: payment.trans_id,
    trans_date: '2026-11-23 10:00:00',
  });
  assert.equal(await statusOf(payment.trans_id), 'VOID');
  const again = await send('VOID', payment.trans_id);
  assert.equal(again.result, 'DECLINED');
  assert.equal(again.status, 'VOID');
  assert.equal(again.decline_reason, voidDeclineReasons.notSettled);

  const refunded = await newPayment();
  await send('CREDITVOID', refunded.trans_id, { amount: '1.00' });
  assert.equal((await send('VOID', refunded.trans_id)).decline_reason, voidDeclineReasons.refunded);

  const pending = await newPayment({ auth: 'Y' });
  const pendingVoid = await send('VOID', pending.trans_id);
  assert.equal(pendingVoid.status, 'PENDING');
  assert.equal(pendingVoid.decline_reason, voidDeclineReasons.notSettled);

  const yesterday = await newPayment();
  platform.clock.advance(14 * 60 * 60 * 1000); // 10:00 → 00:00 the next day
  const late = await send('VOID', yesterday.trans_id);
  assert.equal(late.result, 'DECLINED');
  assert.equal(late.status, 'SETTLED');
  assert.equal(late.decline_reason, voidDeclineReasons.otherDay);
  assert.equal(await statusOf(yesterday.trans_id), 'SETTLED');
});

test('follow-up requests check the Formula 2 hash of the original payment and the owner', async () => {
  const payment = await newPayment({ payer_email: 'other@example.com' });
  // Signed with the default e-mail, not the payment's: refused.
  assertError(await send('GET_TRANS_STATUS', payment.trans_id), 'hashInvalid');
  const right = transactionFields(platform.merchant, 'GET_TRANS_STATUS', payment.trans_id, {}, '4111111111111111', 'other@example.com');
  assert.equal((await platform.post(right)).body.status, 'SETTLED');
  const stranger = await platform.addMerchant();
  assertError((await platform.post(transactionFields(stranger, 'GET_TRANS_STATUS', payment.trans_id))).body, 'paymentNotFound');
  assertError(await send('GET_TRANS_STATUS', '00000000-0000-4000-8000-000000000000'), 'paymentNotFound');
  const malformed = await send('GET_TRANS_STATUS', 'not-a-uuid');
  assert.deepEqual(malformed.errors, [{ error_code: 100000, error_message: 'trans_id: This is not a valid UUID.' }]);
});
