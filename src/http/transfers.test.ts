import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { declineReasons, TestEngineConnector } from '../acquirers/test-engine.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { protocolErrors } from '../protocol/errors.ts';
import { cardHashPart, creditToCardHash, creditToCardTransactionHash, saleHash } from '../protocol/hash.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

const email = 'doe@example.com';
const testPan = '4111111111111111';
const payeePan = '5555555555554444';
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;
let threeDsMerchant: { clientKey: string; password: string; merchantId: string };

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') } });
  threeDsMerchant = await platform.addMerchant({ threeDsEnabled: true, callbackUrl: receiver.url('/three-ds') });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

type Merchant = { clientKey: string; password: string };
const orderId = () => `T-${Math.random().toString(36).slice(2)}`;

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR', JSON.stringify(body));
  assert.equal(body.error_code, protocolErrors[name].code, JSON.stringify(body));
  assert.equal(body.error_message, protocolErrors[name].message);
}

/** DEBIT as the spec's table lists it: only the required fields unless overridden. */
function debitFields(overrides: Record<string, string> = {}, merchant: Merchant = platform.merchant): Record<string, string> {
  const fields: Record<string, string> = {
    action: 'DEBIT', client_key: merchant.clientKey, order_id: orderId(), order_amount: '12.50', order_currency: 'USD',
    order_description: 'Transfer', term_url_3ds: 'https://shop.test/return', card_number: testPan, card_exp_month: '01',
    card_exp_year: '2025', card_cvv2: '000', payer_ip: '123.123.123.123', ...overrides,
  };
  if (!('hash' in overrides)) {
    fields.hash = saleHash({ email: fields.payer_email, password: merchant.password, cardDigits: cardHashPart(fields.card_number) });
  }
  return fields;
}

function creditFields(overrides: Record<string, string> = {}, merchant: Merchant = platform.merchant): Record<string, string> {
  const fields: Record<string, string> = {
    action: 'CREDIT2CARD', client_key: merchant.clientKey, order_id: orderId(), order_amount: '1.03', order_currency: 'USD',
    order_description: 'wine', card_number: testPan, ...overrides,
  };
  if (!('hash' in overrides)) fields.hash = creditToCardHash(merchant.password, cardHashPart(fields.card_number ?? ''));
  return fields;
}

function cardToCardFields(overrides: Record<string, string> = {}, merchant: Merchant = platform.merchant): Record<string, string> {
  const fields: Record<string, string> = {
    action: 'CARD2CARD', client_key: merchant.clientKey, order_id: orderId(), order_amount: '1000.99', order_currency: 'USD',
    order_description: 'Product', payer_card_number: testPan, payer_card_exp_month: '01', payer_card_exp_year: '2025',
    payer_card_cvv2: '000', payer_email: email, payer_ip: '123.123.123.123', payee_card_number: payeePan,
    payee_first_name: 'Jane', payee_last_name: 'Doe', term_url_3ds: 'https://shop.test/return', ...overrides,
  };
  if (!('hash' in overrides)) {
    fields.hash = saleHash({ email: fields.payer_email, password: merchant.password, cardDigits: cardHashPart(fields.payer_card_number) });
  }
  return fields;
}

const post = async (fields: Record<string, string>) => (await platform.post(fields)).body;

/** Formula 6 for CREDIT2CARD's status queries. */
function creditQuery(action: string, transId: string, merchant: Merchant = platform.merchant, card = testPan) {
  return { action, client_key: merchant.clientKey, trans_id: transId, hash: creditToCardTransactionHash(merchant.password, transId, cardHashPart(card)) };
}

async function callbackFor(transId: string, status: string) {
  await dispatcher.runOnce();
  const found = receiver.received.find((received) => received.fields.trans_id === transId && received.fields.status === status);
  assert.ok(found, `a ${status} callback for ${transId}`);
  return found.fields;
}

const successKeys = ['action', 'result', 'status', 'order_id', 'trans_id', 'trans_date', 'descriptor', 'amount', 'currency'];
const declinedKeys = [...successKeys, 'decline_reason'];

// ---------------------------------------------------------------- DEBIT

test('DEBIT without payer_email: Formula 1 drops the e-mail; SETTLED, a DEBIT sub-transaction and a Formula 2 callback without e-mail', async () => {
  const fields = debitFields();
  assert.equal(fields.hash, creditToCardHash(platform.merchant.password, cardHashPart(testPan)), 'the notes: Formula 1 with no e-mail is Formula 5');
  const body = await post(fields);
  assert.deepEqual(Object.keys(body), successKeys);
  assert.equal(body.action, 'DEBIT');
  assert.equal(body.result, 'SUCCESS');
  assert.equal(body.status, 'SETTLED');
  assert.equal(body.amount, '12.50');

  const status = await post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', body.trans_id, {}, testPan, ''));
  assert.equal(status.status, 'SETTLED');
  const details = await post(transactionFields(platform.merchant, 'GET_TRANS_DETAILS', body.trans_id, {}, testPan, ''));
  assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['DEBIT:success']);
  assert.equal(details.mail, '');

  const callback = await callbackFor(body.trans_id, 'SETTLED');
  assert.equal(callback.action, 'DEBIT');
  assert.equal(verifyCallback(callback, { password: platform.merchant.password }), true);
});

test('DEBIT with payer_email signs it; a declined card answers DECLINED and its callback carries descriptor, amount and currency', async () => {
  const body = await post(debitFields({ payer_email: email, card_number: '4000000000009995', card_exp_year: '2031' }));
  assert.deepEqual(Object.keys(body), declinedKeys);
  assert.equal(body.decline_reason, declineReasons.insufficientFunds);
  const callback = await callbackFor(body.trans_id, 'DECLINED');
  assert.deepEqual(Object.keys(callback).filter((key) => !['card', 'card_expiration_date', 'hash'].includes(key)), declinedKeys);
  assert.equal(verifyCallback(callback, { password: platform.merchant.password, email }), true);
  assert.equal(verifyCallback(callback, { password: platform.merchant.password }), false, 'the e-mail is part of the hash when sent');
});

test('DEBIT errors: blank required fields (Symfony messages), a wrong hash, a replay', async () => {
  const blank = await post({ action: 'DEBIT', client_key: platform.merchant.clientKey });
  assertError(blank, 'requestInvalid');
  assert.deepEqual(blank.errors.map((error: any) => error.error_message), [
    'order_id: This value should not be blank.', 'order_amount: This value should not be blank.',
    'order_currency: This value should not be blank.', 'order_description: This value should not be blank.',
    'term_url_3ds: This value should not be blank.', 'card_number: This value should not be blank.',
    'card_exp_month: This value should not be blank.', 'card_exp_year: This value should not be blank.',
    'card_cvv2: This value should not be blank.', 'payer_ip: This value should not be blank.', 'hash: This value should not be blank.',
  ]);
  const tooLong = await post(debitFields({ payer_city: 'x'.repeat(33), payer_email: 'not-an-email' }));
  assert.deepEqual(tooLong.errors.map((error: any) => error.error_message), [
    'payer_city: This value is too long. It should have 32 characters or less.', 'payer_email: This value is not a valid email address.',
  ]);
  assertError(await post(debitFields({ payer_email: email, hash: saleHash({ password: platform.merchant.password, cardDigits: cardHashPart(testPan) }) })), 'hashInvalid');
  const fields = debitFields();
  assert.equal((await post(fields)).result, 'SUCCESS');
  assertError(await post(fields), 'duplicateRequest');
});

/** Walk the emulated issuer page with the sandbox code, as a cardholder would. */
async function passThreeDs(redirect: { redirect_url: string; redirect_params: Record<string, string> }) {
  const form = async (url: string, fields: Record<string, string>) => platform.app.inject({
    method: 'POST', url: new URL(url, 'http://kassa.test').pathname,
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString(),
  });
  const hidden = (page: string) => {
    const values: Record<string, string> = {};
    for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      values[match[1]] = match[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    }
    return values;
  };
  const acs = await form(redirect.redirect_url, redirect.redirect_params);
  const right = await form('/emulator/acs/verify', { ...hidden(acs.body), code: '123456', decision: 'confirm' });
  const back = await form(redirect.redirect_params.TermUrl, hidden(right.body));
  assert.equal(back.statusCode, 200);
}

test('DEBIT with 3-D Secure (card 05/2025): REDIRECT/3DS, then SETTLED with 3DS and DEBIT sub-transactions and signed callbacks', async () => {
  const body = await post(debitFields({ card_exp_month: '05' }, threeDsMerchant));
  assert.equal(body.result, 'REDIRECT');
  assert.equal(body.status, '3DS');
  assert.deepEqual(Object.keys(body), [...successKeys, 'redirect_url', 'redirect_params', 'redirect_method']);
  await passThreeDs(body);
  const details = await post(transactionFields(threeDsMerchant, 'GET_TRANS_DETAILS', body.trans_id, {}, testPan, ''));
  assert.equal(details.status, 'SETTLED');
  assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['3DS:success', 'DEBIT:success']);
  const settled = await callbackFor(body.trans_id, 'SETTLED');
  assert.equal(settled.action, 'DEBIT');
  assert.equal(verifyCallback(settled, { password: threeDsMerchant.password }), true);
  assert.equal(verifyCallback(await callbackFor(body.trans_id, '3DS'), { password: threeDsMerchant.password }), true);
});

// ---------------------------------------------------------------- CREDIT2CARD

test('CREDIT2CARD: Formula 5, SETTLED with the spec fields, a CREDIT sub-transaction, status and details by Formula 6, a Formula 6 callback', async () => {
  const body = await post(creditFields({ payee_first_name: 'John', payer_email: email }));
  assert.deepEqual(Object.keys(body), ['action', 'result', 'status', 'order_id', 'trans_id', 'trans_date', 'descriptor']);
  assert.equal(body.action, 'CREDIT2CARD');
  assert.equal(body.status, 'SETTLED');

  const status = await post(creditQuery('GET_TRANS_STATUS', body.trans_id));
  assert.deepEqual(status, { action: 'GET_TRANS_STATUS', result: 'SUCCESS', status: 'SETTLED', order_id: body.order_id, trans_id: body.trans_id });
  const details = await post(creditQuery('GET_TRANS_DETAILS', body.trans_id));
  assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['CREDIT:success']);
  // Formula 2 is not accepted for a CREDIT2CARD payment.
  assertError(await post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', body.trans_id, {}, testPan, email)), 'hashInvalid');

  const callback = await callbackFor(body.trans_id, 'SETTLED');
  assert.deepEqual(Object.keys(callback), ['action', 'result', 'status', 'order_id', 'trans_id', 'trans_date', 'card', 'hash']);
  assert.equal(callback.hash, creditToCardTransactionHash(platform.merchant.password, body.trans_id, cardHashPart(testPan)));
  assert.equal(verifyCallback(callback, { password: platform.merchant.password }), true);
});

test('CREDIT2CARD to a refusal card is DECLINED with decline_reason; its callback is signed by Formula 6', async () => {
  const body = await post(creditFields({ card_number: '4000000000000002' }));
  assert.deepEqual(Object.keys(body), ['action', 'result', 'status', 'order_id', 'trans_id', 'trans_date', 'decline_reason']);
  assert.equal(body.decline_reason, declineReasons.notEnabledOnline);
  const callback = await callbackFor(body.trans_id, 'DECLINED');
  assert.equal(callback.action, 'CREDIT2CARD');
  assert.equal(callback.decline_reason, declineReasons.notEnabledOnline);
  assert.equal(verifyCallback(callback, { password: platform.merchant.password }), true);
});

test('CREDIT2CARD with card_token: the token variant of Formula 5; unknown and foreign tokens get 205005 and 205007', async () => {
  const first = await post(saleFields(platform.merchant, { req_token: 'Y' }));
  assert.equal(first.card_token.length, 64);
  const fields = creditFields({ card_token: first.card_token, hash: creditToCardHash(platform.merchant.password, first.card_token) });
  delete fields.card_number;
  const body = await post(fields);
  assert.equal(body.status, 'SETTLED', JSON.stringify(body));
  assert.equal((await post(creditQuery('GET_TRANS_STATUS', body.trans_id))).status, 'SETTLED');

  const card = creditFields({ hash: creditToCardHash(platform.merchant.password, first.card_token) });
  assertError(await post({ ...fields, order_id: orderId(), hash: card.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')) }), 'hashInvalid');
  const unknown = 'f'.repeat(64);
  assertError(await post({ ...fields, order_id: orderId(), card_token: unknown, hash: creditToCardHash(platform.merchant.password, unknown) }), 'cardTokenNotFound');
  const other = await platform.addMerchant();
  const foreign = creditFields({ card_token: first.card_token, hash: creditToCardHash(other.password, first.card_token) }, other);
  delete foreign.card_number;
  assertError(await post(foreign), 'cardTokenNotAccessible');
});

test('CREDIT2CARD errors: card_number blank, payee fields checked, a wrong hash (Formula 1 is not Formula 5)', async () => {
  const blank = await post({ action: 'CREDIT2CARD', client_key: platform.merchant.clientKey });
  assertError(blank, 'requestInvalid');
  assert.deepEqual(blank.errors.map((error: any) => error.error_message), [
    'order_id: This value should not be blank.', 'order_amount: This value should not be blank.',
    'order_currency: This value should not be blank.', 'order_description: This value should not be blank.',
    'card_number: This value should not be blank.', 'hash: This value should not be blank.',
  ]);
  const invalid = await post(creditFields({ payee_country: 'XX', payee_email: 'nope', channel_id: 'x'.repeat(17) }));
  assert.deepEqual(invalid.errors.map((error: any) => error.error_message), [
    'channel_id: This value is too long. It should have 16 characters or less.',
    'payee_country: This value is not a valid country.', 'payee_email: This value is not a valid email address.',
  ]);
  assertError(await post(creditFields({ payer_email: email, hash: saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart(testPan) }) })), 'hashInvalid');
});

// ---------------------------------------------------------------- CARD2CARD

test('CARD2CARD: Formula 1 over payer_email and the payer card; one TRANSFER; the payee card is stored masked and encrypted', async () => {
  const body = await post(cardToCardFields());
  assert.deepEqual(Object.keys(body), successKeys);
  assert.equal(body.action, 'CARD2CARD');
  assert.equal(body.status, 'SETTLED');
  assert.equal(body.amount, '1000.99');
  const details = await post(transactionFields(platform.merchant, 'GET_TRANS_DETAILS', body.trans_id));
  assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['TRANSFER:success']);
  assert.equal(details.card, '411111******1111');

  const row = await platform.context.storage.db.selectFrom('payments').selectAll().where('trans_id', '=', body.trans_id).executeTakeFirstOrThrow();
  assert.equal(row.payee_card_mask, '555555******4444');
  assert.equal(platform.context.vault.decrypt(row.payee_card_ciphertext!), payeePan);
  assert.deepEqual(JSON.parse(row.payee_json!), { payee_first_name: 'Jane', payee_last_name: 'Doe' });

  const callback = await callbackFor(body.trans_id, 'SETTLED');
  assert.equal(callback.action, 'CARD2CARD');
  assert.equal(verifyCallback(callback, { password: platform.merchant.password, email }), true);
});

test('CARD2CARD declines for a refusal card on either side', async () => {
  const payer = await post(cardToCardFields({ payer_card_number: '4000000000000127', payer_card_exp_year: '2031' }));
  assert.deepEqual(Object.keys(payer), declinedKeys);
  assert.equal(payer.decline_reason, declineReasons.incorrectDetails);
  const payee = await post(cardToCardFields({ payee_card_number: '4000000000009995' }));
  assert.equal(payee.status, 'DECLINED');
  assert.equal(payee.decline_reason, declineReasons.declinedByProcessing);
  const callback = await callbackFor(payee.trans_id, 'DECLINED');
  assert.equal(verifyCallback(callback, { password: platform.merchant.password, email }), true);
});

test('CARD2CARD with 3-D Secure: the cardholder passes, the TRANSFER sub-transaction is finished, not a SALE', async () => {
  const body = await post(cardToCardFields({ payer_card_exp_month: '05' }, threeDsMerchant));
  assert.equal(body.action, 'CARD2CARD');
  assert.equal(body.status, '3DS');
  await passThreeDs(body);
  const details = await post(transactionFields(threeDsMerchant, 'GET_TRANS_DETAILS', body.trans_id));
  assert.equal(details.status, 'SETTLED');
  assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['3DS:success', 'TRANSFER:success']);
  const callback = await callbackFor(body.trans_id, 'SETTLED');
  assert.equal(callback.action, 'CARD2CARD');
  assert.equal(verifyCallback(callback, { password: threeDsMerchant.password, email }), true);
});

test('CARD2CARD errors: blank payer and payee cards, a hash over the payee card, a replay', async () => {
  const blank = await post({ action: 'CARD2CARD', client_key: platform.merchant.clientKey });
  assert.deepEqual(blank.errors.map((error: any) => error.error_message), [
    'order_id: This value should not be blank.', 'order_amount: This value should not be blank.',
    'order_currency: This value should not be blank.', 'order_description: This value should not be blank.',
    'payer_card_number: This value should not be blank.', 'payer_card_exp_month: This value should not be blank.',
    'payer_card_exp_year: This value should not be blank.', 'payer_card_cvv2: This value should not be blank.',
    'payer_ip: This value should not be blank.', 'payee_card_number: This value should not be blank.',
    'term_url_3ds: This value should not be blank.', 'hash: This value should not be blank.',
  ]);
  const badCard = await post(cardToCardFields({ payee_card_number: '4111111111111112' }));
  assert.deepEqual(badCard.errors.map((error: any) => error.error_message), ['payee_card_number: Invalid card number.']);
  assertError(await post(cardToCardFields({ hash: saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart(payeePan) }) })), 'hashInvalid');
  const fields = cardToCardFields();
  assert.equal((await post(fields)).result, 'SUCCESS');
  assertError(await post(fields), 'duplicateRequest');
});

// ---------------------------------------------------------------- Appendix C

/** A connector that requires one extra parameter per transfer action, as Appendix C's sets do. */
class RequiringConnector extends TestEngineConnector {
  requiredParametersFor(action: string): readonly string[] {
    if (action === 'DEBIT') return ['payer_identity_id'];
    if (action === 'CREDIT2CARD') return ['payer_account_number'];
    if (action === 'CARD2CARD') return ['payer_type'];
    return [];
  }
}

test('Appendix C: each transfer action names the connector parameter it misses, and passes once it is sent', async () => {
  const requiring = await startTestPlatform({ acquirer: new RequiringConnector() });
  try {
    const cases: [Record<string, string>, string][] = [
      [debitFields({}, requiring.merchant), 'payer_identity_id'],
      [creditFields({}, requiring.merchant), 'payer_account_number'],
      [cardToCardFields({}, requiring.merchant), 'payer_type'],
    ];
    for (const [fields, parameter] of cases) {
      const missing = (await requiring.post(fields)).body;
      assertError(missing, 'requestInvalid');
      assert.deepEqual(missing.errors, [{ error_code: 100000, error_message: `parameters[${parameter}]: This value should not be blank.` }]);
      const sent = (await requiring.post({ ...fields, [`parameters[${parameter}]`]: '0' })).body;
      assert.equal(sent.result, 'SUCCESS', `${fields.action}: ${JSON.stringify(sent)}`);
    }
  } finally {
    await requiring.close();
  }
});

test('transfers are not refunded or voided like a sale: CREDITVOID of a CREDIT2CARD is 208005, VOID of a CARD2CARD declines', async () => {
  const credit = await post(creditFields({ payer_email: email }));
  assert.equal(credit.status, 'SETTLED');
  assertError(await post(creditQuery('CREDITVOID', credit.trans_id)), 'refundNotAllowed');
  const transfer = await post(cardToCardFields());
  assert.equal(transfer.status, 'SETTLED');
  const voided = await post(transactionFields(platform.merchant, 'VOID', transfer.trans_id, {}, testPan, email));
  assert.equal(voided.result, 'DECLINED');
  assert.equal(voided.decline_reason, 'VOID is allowed for SALE, CAPTURE and recurring sale payments only');
  assertError(await post(transactionFields(platform.merchant, 'CREDITVOID', transfer.trans_id, {}, testPan, email)), 'refundNotAllowed');
});
