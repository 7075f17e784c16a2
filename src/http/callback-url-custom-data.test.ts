import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { paymentExtrasOf } from '../operations/payment-extras.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import type { FieldError } from '../protocol/errors.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

/**
 * 5.6.x `callback_url` and `custom_data[...]` (docs/adr/0075), black-box: what the merchant's
 * endpoints receive, over real HTTP from the dispatcher.
 */
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const send = async (action: string, transId: string, extra: Record<string, string> = {}) =>
  (await platform.post(transactionFields(platform.merchant, action, transId, extra))).body;
const callbacksOf = (transId: string) => receiver.received.filter((callback) => callback.fields.trans_id === transId);

test('callback_url takes every callback of its payment, refunds too; custom_data is echoed with bracket keys', {
  timeout: 60_000,
}, async () => {
  const sale = (
    await platform.post(
      saleFields(platform.merchant, {
        order_amount: '10.00',
        callback_url: receiver.url('/per-payment'),
        'custom_data[basket]': 'B-17',
        'custom_data[note]': 'gift wrap',
      }),
    )
  ).body;
  assert.equal(sale.status, 'SETTLED');
  assert.equal((await send('CREDITVOID', sale.trans_id, { amount: '4.00' })).result, 'ACCEPTED');
  await dispatcher.runOnce();
  await dispatcher.runOnce();

  const received = callbacksOf(sale.trans_id);
  assert.deepEqual(
    received.map((callback) => [callback.path, callback.fields.action]),
    [
      ['/per-payment', 'SALE'],
      ['/per-payment', 'CREDITVOID'],
    ],
  );
  for (const callback of received) {
    assert.deepEqual(callback.fields.custom_data, { basket: 'B-17', note: 'gift wrap' });
    assert.match(callback.rawBody, /(^|&)custom_data%5Bbasket%5D=B-17(&|$)/);
    assert.match(callback.rawBody, /(^|&)custom_data%5Bnote%5D=gift\+wrap(&|$)/);
    assert.equal(
      verifyCallback(callback.fields, { password: platform.merchant.password, email: 'doe@example.com' }),
      true,
    );
  }
});

test('a 5.2.0 SALE (neither field) still goes to the merchant URL, with the same fields as before', {
  timeout: 60_000,
}, async () => {
  const sale = (await platform.post(saleFields(platform.merchant))).body;
  await dispatcher.runOnce();
  const [callback] = callbacksOf(sale.trans_id);
  assert.equal(callback.path, '/merchant');
  assert.deepEqual(Object.keys(callback.fields).sort(), [
    'action',
    'amount',
    'card',
    'card_expiration_date',
    'currency',
    'descriptor',
    'hash',
    'order_id',
    'result',
    'status',
    'trans_date',
    'trans_id',
  ]);
});

test('a merchant without a callback URL still gets the callbacks of a payment that named one', {
  timeout: 60_000,
}, async () => {
  const merchant = await platform.addMerchant({ callbackUrl: null, threeDsEnabled: false });
  const sale = (await platform.post(saleFields(merchant, { callback_url: receiver.url('/only-this-payment') }))).body;
  assert.equal(sale.status, 'SETTLED');
  await dispatcher.runOnce();
  assert.deepEqual(
    callbacksOf(sale.trans_id).map((callback) => callback.path),
    ['/only-this-payment'],
  );
});

test("a bad callback_url or custom_data is a validation error; a card number is never echoed", async () => {
  const answer = (
    await platform.post(
      saleFields(platform.merchant, {
        callback_url: 'ftp://shop.test/cb',
        'custom_data[card]': '4111 1111 1111 1111',
        'custom_data[ok]': 'fine',
      }),
    )
  ).body;
  assert.equal(answer.error_code, 100000);
  assert.deepEqual(
    answer.errors.map((error: { error_message: string }) => error.error_message),
    ['callback_url: This value is not a valid URL.', 'custom_data[card]: This value must not be a card number.'],
  );
  assert.doesNotMatch(JSON.stringify(answer), /4111/);
  const long = (
    await platform.post(saleFields(platform.merchant, { callback_url: `https://shop.test/${'a'.repeat(240)}` }))
  ).body;
  assert.deepEqual(
    long.errors.map((error: { error_message: string }) => error.error_message),
    ['callback_url: This value is too long. It should have 255 characters or less.'],
  );
});

test('production refuses a callback_url at a private or loopback literal; sandbox and host names pass', () => {
  const check = (mode: 'sandbox' | 'production', url: string) => {
    const errors: FieldError[] = [];
    const extras = paymentExtrasOf({ mode }, { callback_url: url }, {}, errors);
    return errors.length > 0 ? errors.map((error) => error.message).join() : extras.callbackUrl;
  };
  assert.equal(check('production', 'http://10.1.2.3/cb'), 'This URL is not allowed: a private address.');
  assert.equal(check('production', 'http://[::1]:8080/cb'), 'This URL is not allowed: a loopback address.');
  assert.equal(check('production', 'http://169.254.169.254/latest'), 'This URL is not allowed: a link-local address.');
  assert.equal(check('production', 'https://shop.example/cb'), 'https://shop.example/cb');
  assert.equal(check('sandbox', 'http://127.0.0.1:9/cb'), 'http://127.0.0.1:9/cb');
});
