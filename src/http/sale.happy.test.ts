import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { orderFields, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { declineReasons } from '../acquirers/test-engine.ts';
import { cardHashPart, saleHash } from '../protocol/hash.ts';

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

test('an approved SALE answers every field of the spec, amounts as strings', async () => {
  const fields = saleFields(platform.merchant, { order_id: 'ORDER-12345' });
  const { statusCode, body } = await platform.post(fields);
  assert.equal(statusCode, 200);
  assert.deepEqual(Object.keys(body), ['action', 'result', 'status', 'order_id', 'trans_id', 'trans_date', 'descriptor', 'amount', 'currency']);
  assert.equal(body.action, 'SALE');
  assert.equal(body.result, 'SUCCESS');
  assert.equal(body.status, 'SETTLED');
  assert.equal(body.order_id, 'ORDER-12345');
  assert.match(body.trans_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(body.trans_date, '2026-11-23 10:00:00');
  assert.equal(body.descriptor, 'SHOP.TEST');
  assert.equal(body.amount, '1.99');
  assert.equal(body.currency, 'USD');
});

test('AUTH (auth=Y) holds the funds: SUCCESS with status PENDING', async () => {
  const { body } = await platform.post(saleFields(platform.merchant, { auth: 'Y' }));
  assert.equal(body.result, 'SUCCESS');
  assert.equal(body.status, 'PENDING');
});

test('test card 02/2025 is declined by processing, with the spec decline shape', async () => {
  const { body } = await platform.post(saleFields(platform.merchant, { card_exp_month: '02' }));
  assert.equal(body.result, 'DECLINED');
  assert.equal(body.status, 'DECLINED');
  assert.equal(body.decline_reason, 'Declined by processing');
  const status = await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', body.trans_id));
  assert.deepEqual(status.body, {
    action: 'GET_TRANS_STATUS', result: 'SUCCESS', status: 'DECLINED', order_id: body.order_id, trans_id: body.trans_id,
    decline_reason: 'Declined by processing',
  });
});

test('each refusal case of the terms pages has its own decline reason', async () => {
  const cases: [string, string, string][] = [
    ['4000000000009995', '12', declineReasons.insufficientFunds],
    ['4000000000000002', '12', declineReasons.notEnabledOnline],
    ['4000000000000127', '12', declineReasons.incorrectDetails],
    ['4000000000000069', '12', declineReasons.expired],
  ];
  for (const [card, month, reason] of cases) {
    const { body } = await platform.post(saleFields(platform.merchant, { card_number: card, card_exp_month: month, card_exp_year: '2030' }));
    assert.equal(body.result, 'DECLINED', card);
    assert.equal(body.decline_reason, reason, card);
  }
});

test('a real card past its expiry is declined as expired; a test-table card never is', async () => {
  const expired = await platform.post(saleFields(platform.merchant, { card_number: '5555555555554444', card_exp_month: '10', card_exp_year: '2026' }));
  assert.equal(expired.body.decline_reason, declineReasons.expired);
  const valid = await platform.post(saleFields(platform.merchant, { card_number: '5555555555554444', card_exp_month: '11', card_exp_year: '2026' }));
  assert.equal(valid.body.status, 'SETTLED');
  for (const month of ['01', '05', '12']) {
    const { body } = await platform.post(saleFields(platform.merchant, { card_exp_month: month, card_exp_year: '2025' }));
    assert.equal(body.status, 'SETTLED', `4111111111111111 ${month}/2025`);
  }
});

test('the same answers come from /, /post and /v2/post, and from a multipart body with parameters[x]', async () => {
  for (const path of ['/', '/post', '/v2/post']) {
    const { body } = await platform.post(saleFields(platform.merchant), { path });
    assert.equal(body.result, 'SUCCESS', path);
  }
  const fields = saleFields(platform.merchant, { 'parameters[param1]': 'value1', 'parameters[param2]': 'value2' });
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  const request = new Request('http://x/', { method: 'POST', body: form });
  const response = await platform.app.inject({
    method: 'POST', url: '/', headers: { 'content-type': request.headers.get('content-type')! },
    payload: Buffer.from(await request.arrayBuffer()),
  });
  assert.equal(response.statusCode, 200);
  assert.equal(response.json().result, 'SUCCESS');
  const stored = await platform.context.storage.db.selectFrom('payments').select('parameters_json')
    .where('trans_id', '=', response.json().trans_id).executeTakeFirstOrThrow();
  assert.deepEqual(JSON.parse(stored.parameters_json!), { param1: 'value1', param2: 'value2' });
});

test('amounts follow the currency exponent: JPY as XX.XX, KWD with three decimals', async () => {
  const jpy = await platform.post(saleFields(platform.merchant, { order_amount: '100.00', order_currency: 'JPY' }));
  assert.equal(jpy.body.amount, '100.00');
  const kwd = await platform.post(saleFields(platform.merchant, { order_amount: '100.999', order_currency: 'KWD' }));
  assert.equal(kwd.body.amount, '100.999');
  const stored = await platform.context.storage.db.selectFrom('payments').select('amount_minor')
    .where('trans_id', '=', kwd.body.trans_id).executeTakeFirstOrThrow();
  assert.equal(Number(stored.amount_minor), 100999);
});

test('GET_TRANS_DETAILS lists the payer and the upper-case history; BY_ORDER gives the newest payment', async () => {
  const orderId = 'ORDER-HISTORY';
  const first = await platform.post(saleFields(platform.merchant, { order_id: orderId, card_exp_month: '02' }));
  assert.equal(first.body.result, 'DECLINED');
  const second = await platform.post(saleFields(platform.merchant, { order_id: orderId, auth: 'Y' }));
  const capture = await platform.post(transactionFields(platform.merchant, 'CAPTURE', second.body.trans_id, { amount: '1.50' }));
  assert.equal(capture.body.result, 'SUCCESS');
  const refund = await platform.post(transactionFields(platform.merchant, 'CREDITVOID', second.body.trans_id, { amount: '0.50' }));
  assert.equal(refund.body.result, 'ACCEPTED');

  const details = await platform.post(transactionFields(platform.merchant, 'GET_TRANS_DETAILS', second.body.trans_id));
  assert.deepEqual(details.body, {
    action: 'GET_TRANS_DETAILS', result: 'SUCCESS', status: 'SETTLED', order_id: orderId, trans_id: second.body.trans_id,
    name: 'John Doe', mail: 'doe@example.com', ip: '123.123.123.123', amount: '1.99', currency: 'USD', card: '411111******1111',
    transactions: [
      { type: 'AUTH', status: 'success', date: '2026-11-23 10:00:00', amount: '1.99' },
      { type: 'CAPTURE', status: 'success', date: '2026-11-23 10:00:00', amount: '1.50' },
      { type: 'REFUND', status: 'success', date: '2026-11-23 10:00:00', amount: '0.50' },
    ],
  });
  platform.clock.advance(1000);
  const third = await platform.post(saleFields(platform.merchant, { order_id: orderId, card_exp_month: '02', order_amount: '3.00' }));
  const byOrder = await platform.post(orderFields(platform.merchant, orderId));
  assert.equal(byOrder.body.action, 'GET_TRANS_STATUS_BY_ORDER');
  assert.equal(byOrder.body.trans_id, third.body.trans_id);
  assert.equal(byOrder.body.status, 'DECLINED');
});

test('a non-ASCII e-mail is signed as PHP signs it', async () => {
  const email = 'jürgen@exämple.de';
  const fields = saleFields(platform.merchant, { payer_email: email });
  fields.hash = saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart(fields.card_number) });
  const { body } = await platform.post(fields);
  assert.equal(body.result, 'SUCCESS');
});

test('a merchant created while the server runs is served at once', async () => {
  const late = await platform.addMerchant({ email: 'late@shop.test' });
  const { body } = await platform.post(saleFields(late));
  assert.equal(body.result, 'SUCCESS');
});
