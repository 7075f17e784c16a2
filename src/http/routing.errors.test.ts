import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { protocolErrors } from '../protocol/errors.ts';
import { cardHashPart, creditToCardHash, saleHash } from '../protocol/hash.ts';
import { checkoutRequestFields, hiddenInputsOf } from '../testing/checkout.ts';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';

// Each of the spec's 204002–204015 (and Kassa's own week-MID and month-mapping codes), from a
// situation set up through the documented `kassa routing` commands, answered to a real SALE.

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

const kassa = (...args: string[]) => runKassa(platform, ...args, '--actor', 'ops@psp.test');

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR', JSON.stringify(body));
  assert.equal(body.error_code, protocolErrors[name].code, JSON.stringify(body));
  assert.equal(body.error_message, protocolErrors[name].message);
}

/** A merchant of its own with a MID of its own, so each situation starts clean. */
async function merchantOnOwnMid(name: string, midOptions: string[] = []) {
  const merchant = await platform.addMerchant();
  await kassa('routing', 'mid', 'create', '--name', name, ...midOptions);
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', name);
  return merchant;
}

const sale = (merchant: { clientKey: string; password: string }, overrides: Record<string, string> = {}) =>
  platform.post(saleFields(merchant, overrides)).then((response) => response.body);

test('every merchant is routed to the default test-engine MID out of the box', async () => {
  const body = await sale(platform.merchant);
  assert.equal(body.status, 'SETTLED');
  const { stdout } = await kassa('routing', 'mapping', 'list', '--client-key', platform.merchant.clientKey, '--json');
  assert.deepEqual(JSON.parse(stdout)[0].mids, ['default-test-engine']);
});

test('204002: no enabled mapping, or none of its MIDs enabled', async () => {
  const merchant = await merchantOnOwnMid('mid-204002');
  assert.equal((await sale(merchant)).status, 'SETTLED');
  await kassa('routing', 'mid', 'disable', '--name', 'mid-204002');
  assertError(await sale(merchant), 'mappingNotFound');
  await kassa('routing', 'mid', 'set', '--name', 'mid-204002', '--enabled', 'yes');
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--enabled', 'no');
  assertError(await sale(merchant), 'mappingNotFound');
});

test('204003 and 204009: the payment type', async () => {
  const merchant = await merchantOnOwnMid('mid-types', ['--payment-types', 'payout']);
  assertError(await sale(merchant), 'paymentTypeNotSupported');
  await kassa('routing', 'mid', 'set', '--name', 'mid-types', '--payment-types', '');
  assertError(await sale(merchant), 'paymentTypeNotFound');
  await kassa('routing', 'mid', 'set', '--name', 'mid-types', '--payment-types', 'purchase');
  assert.equal((await sale(merchant)).status, 'SETTLED');
  assertError(await sale(merchant, { auth: 'Y' }), 'paymentTypeNotSupported');
});

test('204004 and 204010: the payment method of the mapping', async () => {
  const merchant = await merchantOnOwnMid('mid-methods');
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--payment-methods', 'apple-pay');
  assertError(await sale(merchant), 'paymentMethodNotSupported');
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--payment-methods', '');
  assertError(await sale(merchant), 'paymentMethodNotFound');
});

test('204005 and 204013: the action', async () => {
  const merchant = await merchantOnOwnMid('mid-actions', ['--actions', 'DEBIT']);
  assertError(await sale(merchant), 'actionNotSupported');
  await kassa('routing', 'mid', 'set', '--name', 'mid-actions', '--actions', '');
  assertError(await sale(merchant), 'actionNotFound');
});

test('204006 and 204011: the card brand', async () => {
  const merchant = await merchantOnOwnMid('mid-brands', ['--brands', 'MASTERCARD']);
  assertError(await sale(merchant), 'brandNotSupported');
  await kassa('routing', 'mid', 'set', '--name', 'mid-brands', '--brands', '');
  assertError(await sale(merchant), 'brandNotFound');
});

test('204012: a currency no MID takes, or one Kassa does not know', async () => {
  const merchant = await merchantOnOwnMid('mid-currencies', ['--currencies', 'EUR']);
  assertError(await sale(merchant), 'currencyNotFound');
  assert.equal((await sale(merchant, { order_currency: 'EUR' })).status, 'SETTLED');
  assertError(await sale(platform.merchant, { order_currency: 'XYZ' }), 'currencyNotFound');
});

test("204007, 900201, 204014: a MID's day, week and month limits; 204007 also when required and not set", async () => {
  const merchant = await merchantOnOwnMid('mid-limits');
  await kassa('routing', 'mid', 'set', '--name', 'mid-limits', '--require-day-limit', 'yes');
  assertError(await sale(merchant), 'midDayLimit');
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-limits',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '5.00',
  );
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-limits',
    '--window',
    'week',
    '--currency',
    'USD',
    '--amount',
    '4.00',
  );
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-limits',
    '--window',
    'month',
    '--currency',
    'USD',
    '--amount',
    '3.00',
  );
  assert.equal((await sale(merchant)).status, 'SETTLED'); // 1.99 of 3.00 this month
  assertError(await sale(merchant), 'midMonthLimit');
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-limits',
    '--window',
    'month',
    '--currency',
    'USD',
    '--amount',
    'none',
  );
  assertError(await sale(merchant, { order_amount: '2.10' }), 'midWeekLimit');
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-limits',
    '--window',
    'week',
    '--currency',
    'USD',
    '--amount',
    'none',
  );
  assertError(await sale(merchant, { order_amount: '3.10' }), 'midDayLimit');
  assert.equal((await sale(merchant, { order_amount: '3.01' })).status, 'SETTLED'); // exactly 5.00 used
});

test("204008, 204015, 900202: the mapping's day, week and month limits", async () => {
  const merchant = await merchantOnOwnMid('mid-mapping-limits');
  const limit = (window: string, amount: string) =>
    kassa(
      'routing',
      'limit',
      'set',
      '--client-key',
      merchant.clientKey,
      '--window',
      window,
      '--currency',
      'USD',
      '--amount',
      amount,
    );
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--require-day-limit', 'yes');
  assertError(await sale(merchant), 'mappingDayLimit');
  await limit('day', '1.00');
  assertError(await sale(merchant), 'mappingDayLimit');
  await limit('day', '100.00');
  await limit('week', '1.00');
  assertError(await sale(merchant), 'mappingWeekLimit');
  await limit('week', 'none');
  await limit('month', '1.00');
  assertError(await sale(merchant), 'mappingMonthLimit');
});

test('the first MID that fits takes the payment; later CAPTURE goes to the MID that processed it', async () => {
  const merchant = await platform.addMerchant();
  await kassa('routing', 'mid', 'create', '--name', 'eur-only', '--currencies', 'EUR');
  await kassa(
    'routing',
    'mid',
    'create',
    '--name',
    'usd-declines',
    '--currencies',
    'USD',
    '--setting',
    'declineEverything=true',
  );
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'eur-only,usd-declines');
  const auth = await sale(merchant, { auth: 'Y', order_currency: 'EUR' });
  assert.equal(auth.status, 'PENDING');
  assert.equal((await sale(merchant)).status, 'DECLINED');
  // The mapping changes; the AUTH still captures on the MID that authorized it.
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'usd-declines');
  const captured = await platform.post(transactionFields(merchant, 'CAPTURE', auth.trans_id));
  assert.equal(captured.body.result, 'SUCCESS', JSON.stringify(captured.body));
  const { stdout } = await kassa(
    'routing',
    'explain',
    '--client-key',
    merchant.clientKey,
    '--brand',
    'VISA',
    '--currency',
    'USD',
    '--amount',
    '1.00',
  );
  assert.match(stdout, /chosen: usd-declines/);
});

test("explain lists every MID with its verdict and each limit's headroom", async () => {
  const merchant = await platform.addMerchant();
  await kassa('routing', 'mid', 'create', '--name', 'explain-amex', '--brands', 'AMEX');
  await kassa('routing', 'mid', 'create', '--name', 'explain-visa');
  await kassa('routing', 'mid', 'create', '--name', 'explain-spare');
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'explain-visa',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '10.00',
  );
  await kassa(
    'routing',
    'mapping',
    'set',
    '--client-key',
    merchant.clientKey,
    '--mids',
    'explain-amex,explain-visa,explain-spare',
  );
  assert.equal((await sale(merchant, { order_amount: '2.50' })).status, 'SETTLED');
  const { stdout } = await kassa(
    'routing',
    'explain',
    '--client-key',
    merchant.clientKey,
    '--card-bin',
    '411111',
    '--currency',
    'USD',
    '--amount',
    '1.00',
  );
  assert.equal(
    stdout,
    [
      'chosen: explain-visa',
      '  explain-amex: skipped: 204006 Payment system/brand not supported.',
      '  explain-visa: chosen',
      '    limit day 10.00 USD: used 2.50 USD, headroom 7.50 USD (day:2026-11-23)',
      '  explain-spare: not reached',
      'cascade order: explain-amex → explain-visa → explain-spare (cascade on do-not-honor, every MID)',
      '',
    ].join('\n'),
  );
});

test('a change with a mistake is refused whole, every problem listed; changes name who and when', async () => {
  const failure = await kassa(
    'routing',
    'mid',
    'create',
    '--name',
    'broken',
    '--brands',
    'VISA,BOGUS',
    '--currencies',
    'QQQ',
    '--three-ds',
    'sometimes',
  ).catch((error) => error);
  assert.equal(failure.code, 2);
  assert.match(failure.stderr, /unknown brand "BOGUS"/);
  assert.match(failure.stderr, /currencies must be ISO 4217/);
  assert.match(failure.stderr, /3-D Secure mode/);
  const { stdout } = await kassa('routing', 'mid', 'list', '--json');
  assert.ok(!JSON.parse(stdout).some((mid: any) => mid.name === 'broken'));
  const negative = await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'explain-visa',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount=-1',
  ).catch((error) => error);
  assert.match(negative.stderr, /cannot be below zero/);
  const history = JSON.parse((await kassa('routing', 'history', '--json', '--limit', '3')).stdout);
  assert.equal(history[0].actor, 'ops@psp.test');
  assert.equal(history[0].createdAtMs, platform.clock.nowMs());
});

test('MID secrets are encrypted at rest and never printed', async () => {
  await kassa('routing', 'mid', 'create', '--name', 'with-secret', '--secret', 'apiKey=sk_live_very_secret_value');
  const listed =
    (await kassa('routing', 'mid', 'list')).stdout
    + (await kassa('routing', 'export')).stdout
    + (await kassa('routing', 'history', '--json')).stdout;
  assert.ok(!listed.includes('sk_live_very_secret_value'));
  assert.match(listed, /"hasSecretSettings": true/);
});

test('limits count approved money: a void or a reversal gives it back, a refund does not', async () => {
  const merchant = await merchantOnOwnMid('mid-give-back');
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-give-back',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '10.00',
  );
  const used = async () => {
    const { stdout } = await kassa(
      'routing',
      'explain',
      '--client-key',
      merchant.clientKey,
      '--brand',
      'VISA',
      '--currency',
      'USD',
      '--amount',
      '0.01',
    );
    return /used ([\d.]+) USD/.exec(stdout)![1];
  };
  const voided = await sale(merchant, { order_amount: '1.00' });
  const reversed = await sale(merchant, { order_amount: '2.00', auth: 'Y' });
  const refunded = await sale(merchant, { order_amount: '3.00' });
  assert.equal((await sale(merchant, { order_amount: '4.00', card_exp_month: '02' })).status, 'DECLINED');
  assert.equal(await used(), '6.00');
  assert.equal((await platform.post(transactionFields(merchant, 'VOID', voided.trans_id))).body.status, 'VOID');
  assert.equal(await used(), '5.00');
  const reversal = await platform.post(transactionFields(merchant, 'CREDITVOID', reversed.trans_id));
  assert.equal(reversal.body.result, 'ACCEPTED');
  assert.equal(await used(), '3.00');
  const refund = await platform.post(transactionFields(merchant, 'CREDITVOID', refunded.trans_id));
  assert.equal(refund.body.result, 'ACCEPTED');
  assert.equal(await used(), '3.00');
});

test('the hosted page routes too: a card no MID accepts is refused on the page, nothing charged', async () => {
  const merchant = await merchantOnOwnMid('mid-checkout-visa', ['--brands', 'VISA']);
  const created = await platform.post(checkoutRequestFields(merchant));
  const path = new URL(created.body.redirect_url).pathname;
  const pay = async (cardNumber: string) => {
    const form = await platform.app.inject({ method: 'GET', url: `${path}?lang=en` });
    const fields = {
      form_token: hiddenInputsOf(form.body).form_token,
      lang: 'en',
      card_number: cardNumber,
      cardholder_name: 'JOHN DOE',
      expiry: '12/30',
      cvv: '123',
    };
    return platform.app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    });
  };
  const refused = await pay('5555 5555 5555 4444');
  assert.equal(refused.statusCode, 409); // the form again, as for any attempt that charged nothing
  assert.match(refused.body, /This card cannot be used for this payment here/);
  const paid = await pay('4242 4242 4242 4242');
  assert.equal(paid.statusCode, 303);
});

function recurringSaleFields(merchant: { clientKey: string; password: string }, transId: string, token: string) {
  return {
    action: 'RECURRING_SALE',
    client_key: merchant.clientKey,
    order_id: `REC-${randomUUID()}`,
    order_amount: '4.99',
    order_description: 'Monthly plan',
    recurring_first_trans_id: transId,
    recurring_token: token,
    hash: saleHash({
      email: 'doe@example.com',
      password: merchant.password,
      cardDigits: cardHashPart('4111111111111111'),
    }),
  };
}

function creditToCardFields(merchant: { clientKey: string; password: string }) {
  return {
    action: 'CREDIT2CARD',
    client_key: merchant.clientKey,
    order_id: `C2C-${randomUUID()}`,
    order_amount: '1.03',
    order_currency: 'USD',
    order_description: 'wine',
    card_number: '4111111111111111',
    hash: creditToCardHash(merchant.password, cardHashPart('4111111111111111')),
  };
}

test('RECURRING_SALE and CREDIT2CARD are routed by their action and payment type', async () => {
  const merchant = await merchantOnOwnMid('mid-sale-only', ['--actions', 'SALE', '--payment-types', 'purchase']);
  const first = await sale(merchant, { recurring_init: 'Y' });
  assert.equal(first.status, 'SETTLED');
  const recurring = await platform.post(recurringSaleFields(merchant, first.trans_id, first.recurring_token));
  assertError(recurring.body, 'actionNotSupported');
  await kassa('routing', 'mid', 'set', '--name', 'mid-sale-only', '--actions', 'SALE,RECURRING_SALE');
  assert.equal(
    (await platform.post(recurringSaleFields(merchant, first.trans_id, first.recurring_token))).body.status,
    'SETTLED',
  );
  assertError((await platform.post(creditToCardFields(merchant))).body, 'paymentTypeNotSupported');
  await kassa(
    'routing',
    'mid',
    'set',
    '--name',
    'mid-sale-only',
    '--actions',
    '*',
    '--payment-types',
    'purchase,payout',
  );
  assert.equal((await platform.post(creditToCardFields(merchant))).body.result, 'SUCCESS');
});

test('a MID with 3-D Secure always asks for it; a waiting payment holds its limit, a decline frees it', async () => {
  // The platform's merchant has 3-D Secure off; the MID turns it on for its payments.
  const merchant = await merchantOnOwnMid('mid-three-ds', ['--three-ds', 'always']);
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'mid-three-ds',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '10.00',
  );
  const used = async () => {
    const { stdout } = await kassa(
      'routing',
      'explain',
      '--client-key',
      merchant.clientKey,
      '--brand',
      'VISA',
      '--currency',
      'USD',
      '--amount',
      '0.01',
    );
    return /used ([\d.]+) USD/.exec(stdout)![1];
  };
  const waiting = await sale(merchant, { card_exp_month: '06', order_amount: '4.00' });
  assert.equal(waiting.status, '3DS');
  assert.equal(await used(), '4.00');
  const form = (url: string, fields: Record<string, string>) =>
    platform.app.inject({
      method: 'POST',
      url: new URL(url, 'http://kassa.test').pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    });
  const acs = await form(waiting.redirect_url, waiting.redirect_params);
  const verified = await form('/emulator/acs/verify', {
    ...hiddenInputsOf(acs.body),
    code: '123456',
    decision: 'confirm',
  });
  await form(waiting.redirect_params.TermUrl, hiddenInputsOf(verified.body));
  const final = await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', waiting.trans_id));
  assert.equal(final.body.status, 'DECLINED'); // card 06/2025 is declined after 3-D Secure
  assert.equal(await used(), '0.00');
});
