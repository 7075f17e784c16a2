import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolErrors } from '../protocol/errors.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { cardHashPart, saleHash, saleTokenHash } from '../protocol/hash.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { orderFields, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

const email = 'doe@example.com';
const dayMs = 24 * 60 * 60 * 1000;
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') }, config: { cardTokenTtlMs: 30 * dayMs } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR', JSON.stringify(body));
  assert.equal(body.error_code, protocolErrors[name].code, JSON.stringify(body));
  assert.equal(body.error_message, protocolErrors[name].message);
}

const sale = async (overrides: Record<string, string> = {}, merchant = platform.merchant) =>
  (await platform.post(saleFields(merchant, { order_amount: '10.00', ...overrides }))).body;
const query = async (action: string, transId: string) => (await platform.post(transactionFields(platform.merchant, action, transId))).body;

function recurringFields(first: { trans_id: string; recurring_token: string }, overrides: Record<string, string> = {}, merchant = platform.merchant) {
  return {
    action: 'RECURRING_SALE', client_key: merchant.clientKey, order_id: `REC-${Math.random().toString(36).slice(2)}`, order_amount: '4.99',
    order_description: 'Monthly plan', recurring_first_trans_id: first.trans_id, recurring_token: first.recurring_token,
    hash: saleHash({ email, password: merchant.password, cardDigits: cardHashPart('4111111111111111') }),
    ...overrides,
  };
}

function tokenSaleFields(token: string, overrides: Record<string, string> = {}, merchant = platform.merchant) {
  const fields = saleFields(merchant, { order_amount: '3.00', ...overrides });
  delete fields.card_number;
  delete fields.card_exp_month;
  delete fields.card_exp_year;
  return { ...fields, card_token: token, hash: saleTokenHash(email, merchant.password, token) };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('recurring_init=Y on a successful SALE with the test card returns a recurring_token, also in status queries and the callback', async () => {
  const first = await sale({ recurring_init: 'Y' });
  assert.equal(first.status, 'SETTLED');
  assert.match(first.recurring_token, uuid);
  assert.deepEqual(Object.keys(first), [
    'action', 'result', 'status', 'order_id', 'trans_id', 'trans_date', 'descriptor', 'recurring_token', 'amount', 'currency',
  ]);
  assert.equal((await query('GET_TRANS_STATUS', first.trans_id)).recurring_token, first.recurring_token);
  assert.equal((await query('GET_TRANS_DETAILS', first.trans_id)).recurring_token, first.recurring_token);
  assert.equal((await platform.post(orderFields(platform.merchant, first.order_id))).body.recurring_token, first.recurring_token);

  await dispatcher.runOnce();
  const callback = receiver.received.find((received) => received.fields.trans_id === first.trans_id)!;
  assert.equal(verifyCallback(callback.fields, { password: platform.merchant.password, email }), true);
  assert.equal(callback.fields.recurring_token, first.recurring_token);

  // A SALE without recurring_init gets none.
  const plain = await sale();
  assert.equal(plain.recurring_token, undefined);
  assert.equal((await query('GET_TRANS_STATUS', plain.trans_id)).recurring_token, undefined);
});

test('in test mode only the card 4111111111111111 01/2025 starts recurring: other cards are charged without a token', async () => {
  const other = await sale({
    recurring_init: 'Y', card_number: '5555555555554444', card_exp_year: '2031',
    hash: saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart('5555555555554444') }),
  });
  assert.equal(other.status, 'SETTLED');
  assert.equal(other.recurring_token, undefined);
  const declined = await sale({ recurring_init: 'Y', card_exp_month: '02' });
  assert.equal(declined.status, 'DECLINED');
  assert.equal(declined.recurring_token, undefined);
  assert.equal((await query('GET_TRANS_STATUS', declined.trans_id)).recurring_token, undefined);
});

test('RECURRING_SALE charges the stored card (Formula 1 with the first e-mail and card), in the first currency, SALE or AUTH', async () => {
  const first = await sale({ recurring_init: 'Y', order_currency: 'EUR' });
  const { body: repeat } = await platform.post(recurringFields(first));
  assert.deepEqual(repeat, {
    action: 'RECURRING_SALE', result: 'SUCCESS', status: 'SETTLED', order_id: repeat.order_id, trans_id: repeat.trans_id,
    trans_date: '2026-11-23 10:00:00', descriptor: 'SHOP.TEST', amount: '4.99', currency: 'EUR',
  });
  assert.notEqual(repeat.trans_id, first.trans_id);
  const details = await query('GET_TRANS_DETAILS', repeat.trans_id);
  assert.equal(details.card, '411111******1111');
  assert.equal(details.mail, email);
  assert.deepEqual(details.transactions.map((row: any) => [row.type, row.status, row.amount]), [['SALE', 'success', '4.99']]);
  // It can be refunded like any SALE.
  assert.equal((await platform.post(transactionFields(platform.merchant, 'CREDITVOID', repeat.trans_id))).body.result, 'ACCEPTED');
  assert.equal((await query('GET_TRANS_STATUS', repeat.trans_id)).status, 'REFUND');

  const { body: auth } = await platform.post(recurringFields(first, { auth: 'Y', order_amount: '1.00' }));
  assert.equal(auth.status, 'PENDING');
  assert.equal((await platform.post(transactionFields(platform.merchant, 'CAPTURE', auth.trans_id))).body.status, 'SETTLED');

  await dispatcher.runOnce();
  const callback = receiver.received.find((received) => received.fields.trans_id === repeat.trans_id)!;
  assert.equal(callback.fields.action, 'RECURRING_SALE');
  assert.equal(verifyCallback(callback.fields, { password: platform.merchant.password, email }), true);
});

test('RECURRING_SALE refuses a wrong token, an unknown or foreign first transaction, a wrong hash, a payment that did not start recurring', async () => {
  const first = await sale({ recurring_init: 'Y' });
  assertError((await platform.post(recurringFields(first, { recurring_token: '00000000-0000-4000-8000-000000000000' }))).body, 'recurringTokenInvalid');
  assertError((await platform.post(recurringFields({ ...first, trans_id: '00000000-0000-7000-8000-000000000000' }))).body, 'paymentNotFound');
  assertError((await platform.post(recurringFields(first, { hash: 'f'.repeat(32) }))).body, 'hashInvalid');
  const plain = await sale();
  assertError((await platform.post(recurringFields({ trans_id: plain.trans_id, recurring_token: first.recurring_token }))).body, 'recurringTokenInvalid');
  const other = await platform.addMerchant();
  assertError((await platform.post(recurringFields(first, {}, other))).body, 'paymentNotFound');
  const invalid = (await platform.post(recurringFields(first, { order_amount: '', recurring_token: 'x' }))).body;
  assertError(invalid, 'requestInvalid');
  assert.deepEqual(invalid.errors.map((error: any) => error.error_message), [
    'order_amount: This value should not be blank.', 'recurring_token: This is not a valid UUID.',
  ]);
  // An exact replay is refused like a SALE's.
  const fields = recurringFields(first);
  assert.equal((await platform.post(fields)).body.result, 'SUCCESS');
  assertError((await platform.post(fields)).body, 'duplicateRequest');
});

test('req_token=Y returns a 64-character card_token; a SALE with it (token formula) charges the same card', async () => {
  const issuing = await sale({ req_token: 'Y' });
  assert.match(issuing.card_token, /^[0-9a-f]{64}$/);
  const again = await sale({ req_token: 'Y' });
  assert.notEqual(again.card_token, issuing.card_token, 'a token is random, not derived from the card');

  const { body: charged } = await platform.post(tokenSaleFields(issuing.card_token));
  assert.equal(charged.status, 'SETTLED', JSON.stringify(charged));
  assert.equal(charged.amount, '3.00');
  assert.equal(charged.card_token, undefined);
  assert.equal((await query('GET_TRANS_DETAILS', charged.trans_id)).card, '411111******1111');
  // Formula 1 with the card digits is not the token formula.
  assertError((await platform.post({ ...tokenSaleFields(issuing.card_token), hash: saleHash({ email, password: platform.merchant.password, cardDigits: '4111111111' }) })).body, 'hashInvalid');
  // Card data present: the token is ignored, even an unknown one.
  const withCard = await sale({ card_token: 'a'.repeat(64) });
  assert.equal(withCard.status, 'SETTLED');

  await dispatcher.runOnce();
  const callback = receiver.received.find((received) => received.fields.trans_id === issuing.trans_id)!;
  assert.equal(callback.fields.card_token, issuing.card_token);
  assert.equal(verifyCallback(callback.fields, { password: platform.merchant.password, email }), true);

  // The token is nowhere in the database in plain: the table holds a keyed fingerprint.
  const tokenRows = await platform.context.storage.db.selectFrom('card_tokens').selectAll().execute();
  const paymentRows = await platform.context.storage.db.selectFrom('payments').selectAll().execute();
  assert.ok(tokenRows.length >= 2);
  assert.ok(!JSON.stringify(tokenRows).includes(issuing.card_token));
  assert.ok(!JSON.stringify(paymentRows).includes(issuing.card_token));
});

test('card tokens: unknown 205005, another merchant 205007, expired 205006; a declined payment issues none', async () => {
  assertError((await platform.post(tokenSaleFields('b'.repeat(64)))).body, 'cardTokenNotFound');
  const issuing = await sale({ req_token: 'Y' });
  const other = await platform.addMerchant();
  assertError((await platform.post(tokenSaleFields(issuing.card_token, {}, other))).body, 'cardTokenNotAccessible');
  const declined = await sale({ req_token: 'Y', card_exp_month: '02' });
  assert.equal(declined.card_token, undefined);
  const malformed = (await platform.post(tokenSaleFields('short'))).body;
  assertError(malformed, 'requestInvalid');
  assert.deepEqual(malformed.errors.map((error: any) => error.error_message), ['card_token: This value should have exactly 64 characters.']);

  platform.clock.advance(30 * dayMs);
  try {
    assertError((await platform.post(tokenSaleFields(issuing.card_token))).body, 'cardTokenExpired');
  } finally {
    platform.clock.set(Date.UTC(2026, 10, 23, 10, 0, 0));
  }
  assert.equal((await platform.post(tokenSaleFields(issuing.card_token))).body.status, 'SETTLED');
});
