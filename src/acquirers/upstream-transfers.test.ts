import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cardHashPart, creditToCardHash, saleHash } from '../protocol/hash.ts';
import { orderFields } from '../testing/harness.ts';
import { startUpstreamPlatform, type UpstreamPlatform } from '../testing/upstream-platform.ts';

// (Spawns a second Kassa through testing/upstream-process.ts, child_process: the runner gives it a process slot.)
// DEBIT, CREDIT2CARD and CARD2CARD go through an upstream S2S CARD MID to a second, real Kassa
// process, each with its own field names and formula; the upstream's own word matches Kassa's.
let setup: UpstreamPlatform;
const pan = '4111111111111111';
const payeePan = '4601541833776519';

before(async () => {
  setup = await startUpstreamPlatform();
});
after(async () => {
  await setup?.close();
});

const orderId = () => `T-${Math.random().toString(36).slice(2, 12)}`;

async function upstreamStatusOf(transId: string, email = ''): Promise<string> {
  const { upstream } = setup;
  const answer = await fetch(`${upstream.url}post`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(orderFields(upstream, transId, pan, email)).toString(),
  });
  return ((await answer.json()) as { status: string }).status;
}

function debit(overrides: Record<string, string> = {}): Record<string, string> {
  const { merchant } = setup.platform;
  const fields: Record<string, string> = {
    action: 'DEBIT', client_key: merchant.clientKey, order_id: orderId(), order_amount: '12.50', order_currency: 'USD',
    order_description: 'Transfer', term_url_3ds: 'https://shop.test/return', card_number: pan, card_exp_month: '01',
    card_exp_year: '2038', card_cvv2: '000', payer_ip: '123.123.123.123', ...overrides,
  };
  fields.hash = saleHash({ email: fields.payer_email, password: merchant.password, cardDigits: cardHashPart(pan) });
  return fields;
}

test('DEBIT without an e-mail: SETTLED at Kassa and at the upstream; declined cards keep the reason', {
  timeout: 60_000,
}, async () => {
  const { platform } = setup;
  const settled = (await platform.post(debit())).body;
  assert.equal(settled.status, 'SETTLED', JSON.stringify(settled));
  assert.equal(await upstreamStatusOf(settled.trans_id), 'SETTLED');
  const declined = (await platform.post(debit({ card_exp_month: '02' }))).body;
  assert.equal(declined.status, 'DECLINED', JSON.stringify(declined));
  assert.ok(declined.decline_reason);
  assert.equal(await upstreamStatusOf(declined.trans_id), 'DECLINED');
  assert.deepEqual(await setup.merchantCallbacksOf(settled.trans_id), ['SUCCESS:SETTLED']);
});

test('CREDIT2CARD (Formula 5) and CARD2CARD (payer and payee cards) are the upstream payments', {
  timeout: 60_000,
}, async () => {
  const { platform } = setup;
  const { merchant } = platform;
  const credit: Record<string, string> = {
    action: 'CREDIT2CARD', client_key: merchant.clientKey, order_id: orderId(), order_amount: '1.03',
    order_currency: 'USD', order_description: 'payout', card_number: pan, payee_first_name: 'Jane',
  };
  credit.hash = creditToCardHash(merchant.password, cardHashPart(pan));
  const paid = (await platform.post(credit)).body;
  assert.equal(paid.status, 'SETTLED', JSON.stringify(paid));
  assert.equal(await upstreamStatusOf(paid.trans_id), 'SETTLED');

  const transfer: Record<string, string> = {
    action: 'CARD2CARD', client_key: merchant.clientKey, order_id: orderId(), order_amount: '100.99',
    order_currency: 'USD', order_description: 'gift', payer_card_number: pan, payer_card_exp_month: '01',
    payer_card_exp_year: '2038', payer_card_cvv2: '000', payer_email: 'doe@example.com', payer_ip: '123.123.123.123',
    payee_card_number: payeePan, payee_first_name: 'Jane', payee_last_name: 'Doe', term_url_3ds: 'https://shop.test/r',
  };
  transfer.hash = saleHash({ email: transfer.payer_email, password: merchant.password, cardDigits: cardHashPart(pan) });
  const moved = (await platform.post(transfer)).body;
  assert.equal(moved.status, 'SETTLED', JSON.stringify(moved));
  assert.equal(await upstreamStatusOf(moved.trans_id, 'doe@example.com'), 'SETTLED');
  assert.deepEqual(await setup.merchantCallbacksOf(moved.trans_id), ['SUCCESS:SETTLED']);

  // The upstream's callbacks of all three kinds (Formula 6 for CREDIT2CARD) are verified.
  const deadline = Date.now() + 20_000;
  const arrived = () => [paid.trans_id, moved.trans_id].every((id) =>
    setup.callbacks.forwardedBodies.some((body) => body.includes(id)));
  while (!arrived() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(arrived(), 'the upstream called back');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const refused = platform.logLines.filter((line) => line.includes('bank callback refused'));
  assert.deepEqual(refused, []);
});
