import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCallbackReceiver, type CallbackReceiver } from '../../../src/testing/callback-receiver.ts';
import { startTestPlatform, testCard, type TestPlatform } from '../../../src/testing/harness.ts';
import { CallbackDispatcher } from '../../../src/workers/callback-dispatcher.ts';
import { isError, KassaClient, verifyCallback, type PaymentAnswer, type SaleRequest } from '../src/index.ts';

/**
 * The SDK against the real platform over real HTTP (a listening Fastify, a real database): every
 * action once, signed by the client, answered as the server answers it.
 */
let platform: TestPlatform;
let receiver: CallbackReceiver;
let client: KassaClient;
let threeDsClient: KassaClient;
let password: string;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/sdk') } });
  const address = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  password = platform.merchant.password;
  client = new KassaClient({ url: `${address}/post`, clientKey: platform.merchant.clientKey, password });
  const threeDs = await platform.addMerchant({ threeDsEnabled: true });
  threeDsClient = new KassaClient({ url: `${address}/post`, clientKey: threeDs.clientKey, password: threeDs.password });
});
after(async () => {
  await platform.close();
  await receiver.close();
});

const email = 'doe@example.com';
const payment = { email, card: testCard.number };
let orderNumber = 0;
function saleRequest(overrides: Partial<SaleRequest> = {}): SaleRequest {
  orderNumber += 1;
  return {
    order_id: `SDK-${Date.now()}-${orderNumber}`, order_amount: '10.00', order_currency: 'USD', order_description: 'Product',
    card_number: testCard.number, card_exp_month: testCard.month, card_exp_year: testCard.year, card_cvv2: testCard.cvv,
    payer_first_name: 'John', payer_last_name: 'Doe', payer_address: 'Big street', payer_country: 'US', payer_city: 'City',
    payer_zip: '123456', payer_email: email, payer_phone: '199999999', payer_ip: '123.123.123.123',
    term_url_3ds: 'https://shop.test/return', ...overrides,
  };
}

function success(answer: PaymentAnswer) {
  assert.equal(answer.result, 'SUCCESS', JSON.stringify(answer));
  if (answer.result !== 'SUCCESS') throw new Error('unreachable');
  return answer;
}

test('SALE, GET_TRANS_STATUS, GET_TRANS_DETAILS, by order, CREDITVOID: signed by the client, typed answers', async () => {
  const sale = success(await client.sale(saleRequest()));
  assert.equal(sale.status, 'SETTLED');
  assert.equal(sale.amount, '10.00');
  const status = await client.getTransStatus({ trans_id: sale.trans_id }, payment);
  assert.deepEqual(status, { action: 'GET_TRANS_STATUS', result: 'SUCCESS', status: 'SETTLED', order_id: sale.order_id, trans_id: sale.trans_id });
  const details = await client.getTransDetails({ trans_id: sale.trans_id }, { email, card: '411111******1111' });
  assert.ok(!isError(details) && details.card === '411111******1111' && details.transactions.length === 1);
  const byOrder = await client.getTransStatusByOrder({ order_id: sale.order_id }, payment);
  assert.ok(!isError(byOrder) && byOrder.trans_id === sale.trans_id);
  const refund = await client.creditvoid({ trans_id: sale.trans_id, amount: '4.00' }, payment);
  assert.deepEqual(refund, { action: 'CREDITVOID', result: 'ACCEPTED', order_id: sale.order_id, trans_id: sale.trans_id });
  const wrongKey = await client.getTransStatus({ trans_id: sale.trans_id }, { email: 'other@example.com', card: testCard.number });
  assert.ok(isError(wrongKey) && wrongKey.error_code === 900003, 'the e-mail is part of Formula 2');
});

test('AUTH then CAPTURE, SALE then VOID, and a declined card', async () => {
  const auth = success(await client.sale(saleRequest({ auth: 'Y' })));
  assert.equal(auth.status, 'PENDING');
  assert.equal(success(await client.capture({ trans_id: auth.trans_id, amount: '6.00' }, payment)).status, 'SETTLED');
  const second = success(await client.sale(saleRequest()));
  const voided = await client.void({ trans_id: second.trans_id }, payment);
  assert.equal(voided.result, 'SUCCESS', JSON.stringify(voided));
  const declined = await client.sale(saleRequest({ card_exp_month: '02' }));
  assert.equal(declined.result, 'DECLINED');
});

test('3-D Secure: REDIRECT with PaReq, MD and TermUrl', async () => {
  const answer = await threeDsClient.sale(saleRequest({ card_exp_month: '05' }));
  assert.equal(answer.result, 'REDIRECT', JSON.stringify(answer));
  if (answer.result !== 'REDIRECT') return;
  assert.equal(answer.status, '3DS');
  assert.deepEqual(Object.keys(answer.redirect_params), ['PaReq', 'MD', 'TermUrl']);
});

test('CREATE_CHECKOUT, schedules (Formula 3 and 4), RECURRING_SALE, DESCHEDULE', async () => {
  const order = `SDK-CHECKOUT-${Date.now()}`;
  const checkout = await client.createCheckout({
    order_id: order, order_amount: '5', order_currency: 'EUR', order_description: 'Box', payer_email: email,
    success_url: 'https://shop.test/ok', decline_url: 'https://shop.test/no',
  });
  assert.ok(!isError(checkout) && checkout.redirect_url.startsWith('http://kassa.test/pay/'), JSON.stringify(checkout));

  const created = await client.createSchedule({ name: 'Plan', interval_length: '1', interval_unit: 'month', payments_count: '3' });
  assert.ok(!isError(created) && typeof created.schedule_id === 'string', JSON.stringify(created));
  const scheduleId = created.schedule_id as string;
  assert.equal((await client.scheduleInfo({ schedule_id: scheduleId })).result, 'SUCCESS');
  assert.equal((await client.pauseSchedule({ schedule_id: scheduleId })).result, 'SUCCESS');
  assert.equal((await client.runSchedule({ schedule_id: scheduleId })).result, 'SUCCESS');

  const first = success(await client.sale(saleRequest({ recurring_init: 'Y' })));
  const recurring = await client.recurringSale({
    order_id: `${first.order_id}-2`, order_amount: '3.00', order_description: 'Again',
    recurring_first_trans_id: first.trans_id, recurring_token: first.recurring_token!, schedule_id: scheduleId,
  }, payment);
  assert.equal(recurring.result, 'SUCCESS', JSON.stringify(recurring));
  const unbound = await client.deschedule({ recurring_token: first.recurring_token!, schedule_id: scheduleId });
  assert.equal(unbound.result, 'SUCCESS', JSON.stringify(unbound));
  assert.equal((await client.deleteSchedule({ schedule_id: scheduleId })).result, 'SUCCESS');
});

test('DEBIT, CREDIT2CARD and CARD2CARD', async () => {
  const { payer_first_name: _first, ...sale } = saleRequest();
  const debit = await client.debit({ ...sale, parameters: undefined });
  assert.equal(debit.result, 'SUCCESS', JSON.stringify(debit));
  const credit = await client.creditToCard({
    order_id: `${sale.order_id}-C`, order_amount: '2.00', order_currency: 'USD', order_description: 'Payout',
    card_number: '5555555555554444',
  });
  assert.equal(credit.result, 'SUCCESS', JSON.stringify(credit));
  const transfer = await client.cardToCard({
    order_id: `${sale.order_id}-T`, order_amount: '2.00', order_currency: 'USD', order_description: 'Transfer',
    payer_card_number: testCard.number, payer_card_exp_month: testCard.month, payer_card_exp_year: testCard.year,
    payer_card_cvv2: testCard.cvv, payer_ip: '123.123.123.123', payee_card_number: '5555555555554444',
    term_url_3ds: 'https://shop.test/return', payer_email: email,
  });
  assert.notEqual(transfer.result, 'ERROR', JSON.stringify(transfer));
});

test('the callbacks of the SDK\'s payments verify with the SDK\'s verifier, and a wrong PASSWORD does not', async () => {
  const sale = success(await client.sale(saleRequest()));
  const dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  const deadlineMs = Date.now() + 10_000;
  let callback = receiver.received.find((received) => received.fields.trans_id === sale.trans_id);
  while (!callback && Date.now() < deadlineMs) {
    await dispatcher.runOnce();
    callback = receiver.received.find((received) => received.fields.trans_id === sale.trans_id);
  }
  assert.ok(callback, 'the SALE callback arrived');
  assert.equal(verifyCallback(callback.fields, { password, email }), true);
  assert.equal(verifyCallback(callback.fields, { password: `${password}x`, email }), false);
});
