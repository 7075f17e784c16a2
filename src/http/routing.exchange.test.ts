import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { protocolErrors } from '../protocol/errors.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

// Currency exchange (ADR 0054), set up through `kassa routing` and seen by a merchant: a MID
// settling in EUR that takes USD (or any currency with a rate) by exchange, with the operator's rates.

let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform();
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  await runKassa(platform, 'routing', 'rates', 'set', '--from', 'USD', '--to', 'EUR', '--rate', '0.923456');
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const kassa = (...args: string[]) => runKassa(platform, ...args, '--actor', 'ops@psp.test');

async function merchantOnEuroMid(name: string, byExchange = 'USD') {
  const merchant = await platform.addMerchant({ callbackUrl: receiver.url(`/${name}`) });
  await kassa('routing', 'mid', 'create', '--name', name, '--currencies', 'EUR', '--settlement-currency', 'EUR',
    '--exchange-currencies', byExchange);
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', name);
  return merchant;
}
type Merchant = Awaited<ReturnType<typeof merchantOnEuroMid>>;
const sale = (merchant: Merchant, overrides: Record<string, string>) =>
  platform.post(saleFields(merchant, overrides)).then((response) => response.body);
const send = (merchant: Merchant, action: string, transId: string, extra: Record<string, string> = {}) =>
  platform.post(transactionFields(merchant, action, transId, extra)).then((response) => response.body);

test('USD at a EUR MID: charged 9.23 EUR, the spec\'s exchange_* fields in answer, callback, status', async () => {
  const merchant = await merchantOnEuroMid('fx-direct');
  const answer = await sale(merchant, { order_amount: '10.00', order_currency: 'USD' });
  assert.equal(answer.status, 'SETTLED', JSON.stringify(answer));
  const exchanged = { exchange_rate: '0.923456', exchange_currency: 'USD', exchange_amount: '10.00' };
  assert.deepEqual(
    { amount: answer.amount, currency: answer.currency, rate: answer.exchange_rate, from: answer.exchange_currency,
      original: answer.exchange_amount, base: answer.exchange_rate_base },
    { amount: '9.23', currency: 'EUR', rate: '0.923456', from: 'USD', original: '10.00', base: undefined },
  );
  await dispatcher.runOnce();
  const callback = receiver.received.find((received) => received.path === '/fx-direct')!;
  assert.deepEqual(
    [callback.fields.amount, callback.fields.currency, callback.fields.exchange_rate, callback.fields.exchange_currency,
      callback.fields.exchange_amount],
    ['9.23', 'EUR', '0.923456', 'USD', '10.00'],
  );
  const status = await send(merchant, 'GET_TRANS_STATUS', answer.trans_id);
  assert.deepEqual([status.exchange_rate, status.exchange_currency, status.exchange_amount], Object.values(exchanged));
  const details = await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id);
  assert.deepEqual([details.amount, details.currency, details.exchange_amount], ['9.23', 'EUR', '10.00']);

  // A new rate does not touch a payment made with the old one.
  await kassa('routing', 'rates', 'set', '--from', 'USD', '--to', 'EUR', '--rate', '0.5');
  assert.equal((await send(merchant, 'GET_TRANS_STATUS', answer.trans_id)).exchange_rate, '0.923456');
  assert.equal((await sale(merchant, { order_amount: '10.00', order_currency: 'USD' })).amount, '5.00');
  await kassa('routing', 'rates', 'set', '--from', 'USD', '--to', 'EUR', '--rate', '0.923456');

  // Refunds are in what was charged and can never exceed it.
  const tooMuch = await send(merchant, 'CREDITVOID', answer.trans_id, { amount: '9.24' });
  assert.equal(tooMuch.result, 'ERROR', JSON.stringify(tooMuch));
  assert.equal((await send(merchant, 'CREDITVOID', answer.trans_id, { amount: '9.23' })).result, 'ACCEPTED');
});

test('double conversion through the base currency: GBP → USD → EUR, rounded once', async () => {
  const merchant = await merchantOnEuroMid('fx-double', '*'); // any currency with a rate
  assert.equal((await sale(merchant, { order_amount: '10.00', order_currency: 'GBP' })).error_code,
    protocolErrors.currencyNotFound.code);
  await kassa('routing', 'rates', 'set', '--from', 'GBP', '--to', 'USD', '--rate', '1.27');
  await kassa('routing', 'rates', 'base', '--currency', 'USD');
  const answer = await sale(merchant, { order_amount: '10.00', order_currency: 'GBP' });
  assert.deepEqual(
    [answer.amount, answer.currency, answer.exchange_rate, answer.exchange_rate_base, answer.exchange_amount],
    ['11.73', 'EUR', '0.923456', '1.27', '10.00'], // 10.00 × 1.27 × 0.923456 = 11.7278912
  );
  const explained = await kassa('routing', 'explain', '--client-key', merchant.clientKey, '--brand', 'VISA',
    '--currency', 'GBP', '--amount', '10.00');
  assert.match(explained.stdout, /by exchange: 10\.00 GBP → 11\.73 EUR at 0\.923456 \(through the base at 1\.27\)/);
  const { stdout } = await kassa('routing', 'rates', 'list');
  assert.match(stdout, /base currency: USD/);
  assert.match(stdout, /GBP → USD {2}1\.27/);
});

test('204012 for a currency no MID takes, even by exchange; a MID limit counts the charged EUR', async () => {
  const merchant = await merchantOnEuroMid('fx-limit');
  const refused = await sale(merchant, { order_amount: '100', order_currency: 'JPY' });
  assert.equal(refused.error_code, protocolErrors.currencyNotFound.code, JSON.stringify(refused));
  await kassa('routing', 'limit', 'set', '--mid', 'fx-limit', '--window', 'day', '--currency', 'EUR',
    '--amount', '15.00');
  assert.equal((await sale(merchant, { order_amount: '10.00', order_currency: 'USD' })).amount, '9.23');
  const over = await sale(merchant, { order_amount: '10.00', order_currency: 'USD' }); // 18.46 EUR > 15.00
  assert.equal(over.error_code, protocolErrors.midDayLimit.code, JSON.stringify(over));
  assert.equal((await sale(merchant, { order_amount: '5.00', order_currency: 'EUR' })).status, 'SETTLED');
});

test('a MID taking a currency without a rate, or a bad rate, is refused whole with every problem', async () => {
  await kassa('routing', 'mid', 'create', '--name', 'fx-bad', '--settlement-currency', 'EUR', '--currencies', 'EUR');
  const file = join(platform.dataDirectory, 'bad-exchange.json');
  const exported = JSON.parse((await kassa('routing', 'export')).stdout);
  const mid = exported.mids.find((each: any) => each.name === 'fx-bad');
  writeFileSync(file, JSON.stringify({
    mids: [{ ...mid, exchangeCurrencies: ['CHF'] }], mappings: [],
    exchange: { rates: [{ from: 'USD', to: 'USD', rate: '1' }, { from: 'EUR', to: 'GBP', rate: '-0.8' }] },
  }));
  await assert.rejects(kassa('routing', 'apply', file), (error: Error & { stdout: string; stderr: string }) => {
    const text = `${error.stdout}${error.stderr}`;
    assert.match(text, /USD→USD: a rate needs two different currencies/);
    assert.match(text, /EUR→GBP: a rate is a positive decimal/);
    return true;
  });
  writeFileSync(file, JSON.stringify({ mids: [{ ...mid, exchangeCurrencies: ['CHF'] }], mappings: [] }));
  await assert.rejects(kassa('routing', 'apply', file), /takes CHF by exchange, but no rate leads from CHF to EUR/);
  await assert.rejects(kassa('routing', 'rates', 'set', '--from', 'USD', '--to', 'EUR', '--rate', 'none'),
    /fx-direct.*takes USD by exchange, but no rate leads from USD to EUR/s);
});

test("a mapping limit counts the merchant's own currency and amount", async () => {
  const merchant = await merchantOnEuroMid('fx-mapping');
  await kassa('routing', 'limit', 'set', '--client-key', merchant.clientKey, '--window', 'day', '--currency', 'USD',
    '--amount', '15.00');
  assert.equal((await sale(merchant, { order_amount: '10.00', order_currency: 'USD' })).amount, '9.23');
  const over = await sale(merchant, { order_amount: '10.00', order_currency: 'USD' }); // 20.00 USD > 15.00
  assert.equal(over.error_code, protocolErrors.mappingDayLimit.code, JSON.stringify(over));
});
