import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { orderFields, saleFields, transactionFields } from '../testing/harness.ts';
import { startUpstreamPlatform, type UpstreamPlatform } from '../testing/upstream-platform.ts';
import { Reconciler } from '../workers/reconciler.ts';
import { matchedRow } from './upstream-s2s-card.ts';

// (Spawns a second Kassa through testing/upstream-process.ts, child_process: the runner gives it a process slot.)
// Several refunds of one payment: the upstream keeps no reference of Kassa's per refund, and its
// GET_TRANS_DETAILS lists them by type, amount and status only. A refund must never be read off
// another one's row (docs/adr/0092, amended): a lost refund that never reached the upstream once
// read its sibling's SUCCESS and was called approved.

test('matchedRow: our row is the one left after the finished siblings; anything ambiguous is none', () => {
  const success = (amount: string) => ({ type: 'REFUND', amount, status: 'success' });
  const fail = (amount: string) => ({ type: 'REFUND', amount, status: 'fail' });
  assert.deepEqual(matchedRow([success('5.00')], '5.00', []), success('5.00'));
  assert.equal(matchedRow([], '5.00', []), undefined, 'not at the upstream');
  assert.equal(matchedRow([success('5.00')], '10.00', [{ amount: '5.00', status: 'success' }]), undefined,
    "a sibling's row is not ours");
  assert.deepEqual(matchedRow([success('5.00'), fail('5.00')], '5.00', [{ amount: '5.00', status: 'success' }]),
    fail('5.00'), 'the finished sibling takes its own row');
  assert.deepEqual(matchedRow([success('5.00'), success('10.00')], '10.00', [{ amount: '5.00', status: 'waiting' }]),
    success('10.00'), 'a waiting sibling of another amount is no ambiguity');
  assert.deepEqual(matchedRow([success('5.00'), success('5.00')], '5.00', [{ amount: '5.00', status: 'waiting' }]),
    success('5.00'), 'both arrived and both succeeded: ours did');
  assert.equal(matchedRow([success('5.00')], '5.00', [{ amount: '5.00', status: 'waiting' }]), undefined,
    'one row for two waiting refunds of one amount: whose?');
  assert.equal(matchedRow([success('5.00'), fail('5.00')], '5.00', [{ amount: '5.00', status: 'waiting' }]), undefined,
    'both arrived but ended differently: which is ours?');
  assert.equal(matchedRow([success('5.00'), success('5.00')], '5.00', []), undefined, 'more rows than refunds');
});

let setup: UpstreamPlatform;
let reconciler: Reconciler;
const graceMs = 60_000;

before(async () => {
  setup = await startUpstreamPlatform();
  reconciler = new Reconciler(setup.platform.context, { graceMs, operatorDeadlineMs: 60 * 60_000 });
});
after(async () => {
  await setup?.close();
});
beforeEach(() => {
  setup.api.fault = 'none';
  setup.api.once = false;
  setup.api.passBeforeFault = 0;
  // The upstream's callbacks do not reach Kassa: the normal path and the reconciler must tell.
  setup.callbacks.fault = 'resetBefore';
});

const card = '4111111111111111';
const send = async (action: string, transId: string, extra: Record<string, string> = {}) =>
  (await setup.platform.post(transactionFields(setup.platform.merchant, action, transId, extra, card))).body;

async function settledSale(amount: string): Promise<string> {
  const sale = (await setup.platform.post(saleFields(setup.platform.merchant, {
    order_amount: amount, card_exp_year: '2038',
  }))).body;
  assert.equal(sale.status, 'SETTLED', JSON.stringify(sale));
  return sale.trans_id;
}

/** A CREDITVOID whose request (the second to the upstream, after the look-up by order) fails. */
async function lostRefund(transId: string, amount: string, fault: 'resetBefore' | 'resetAfterCommit') {
  setup.api.fault = fault;
  setup.api.once = true;
  setup.api.passBeforeFault = 1;
  const answer = await send('CREDITVOID', transId, { amount });
  assert.equal(answer.result, 'ACCEPTED', JSON.stringify(answer));
}

type Details = { status: string; transactions: { type: string; status: string; amount: string }[] };
const refundsAt = (details: Details) =>
  details.transactions.filter((row) => row.type === 'REFUND').map((row) => `${row.amount}:${row.status}`);

async function upstreamDetails(transId: string): Promise<Details> {
  const { upstream } = setup;
  const byOrder = await fetch(`${upstream.url}post`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(orderFields(upstream, transId, card)).toString(),
  });
  const upstreamId = ((await byOrder.json()) as { trans_id: string }).trans_id;
  const details = await fetch(`${upstream.url}post`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(transactionFields(upstream, 'GET_TRANS_DETAILS', upstreamId, {}, card)).toString(),
  });
  return (await details.json()) as Details;
}

test("a refund that never reached the upstream is not approved by its sibling's row", { timeout: 60_000 }, async () => {
  const transId = await settledSale('30.00');
  await lostRefund(transId, '10.00', 'resetBefore');
  const second = await send('CREDITVOID', transId, { amount: '5.00' });
  assert.equal(second.result, 'ACCEPTED', JSON.stringify(second));
  assert.deepEqual(refundsAt(await upstreamDetails(transId)), ['5.00:success'], 'the upstream got one refund');
  assert.deepEqual(refundsAt(await send('GET_TRANS_DETAILS', transId)), ['10.00:waiting', '5.00:success'],
    "the second read its own row while the first was still waiting");

  setup.platform.clock.advance(graceMs + 1);
  const run = await reconciler.runOnce();
  assert.deepEqual({ approved: run.approved, stillUnknown: run.stillUnknown }, { approved: 0, stillUnknown: 1 });
  assert.deepEqual(refundsAt(await send('GET_TRANS_DETAILS', transId)), ['10.00:waiting', '5.00:success'],
    'never approved on the sibling\'s word: Kassa\'s refunds match the upstream\'s money');
  const callbacks = await setup.merchantCallbacksOf(transId);
  assert.deepEqual(callbacks, ['SUCCESS:SETTLED', 'SUCCESS:SETTLED'], 'the sale and the one real refund, nothing more');
});

test('two refunds of one amount, the first answer lost after the upstream refunded: both approved', {
  timeout: 60_000,
}, async () => {
  const transId = await settledSale('20.00');
  await lostRefund(transId, '5.00', 'resetAfterCommit');
  assert.equal((await send('CREDITVOID', transId, { amount: '5.00' })).result, 'ACCEPTED');
  assert.deepEqual(refundsAt(await upstreamDetails(transId)), ['5.00:success', '5.00:success']);
  assert.deepEqual(refundsAt(await send('GET_TRANS_DETAILS', transId)), ['5.00:waiting', '5.00:success'],
    'both rows arrived and both succeeded: the second is approved with the first still waiting');
  setup.platform.clock.advance(graceMs + 1);
  assert.equal((await reconciler.runOnce()).approved, 1);
  assert.deepEqual(refundsAt(await send('GET_TRANS_DETAILS', transId)), ['5.00:success', '5.00:success']);
});
