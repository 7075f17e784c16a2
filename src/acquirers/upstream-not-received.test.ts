import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import { orderFields, runKassa, saleFields } from '../testing/harness.ts';
import { startUpstreamPlatform, type UpstreamPlatform } from '../testing/upstream-platform.ts';
import { Reconciler } from '../workers/reconciler.ts';

// (Spawns a second Kassa through testing/upstream-process.ts, child_process: the runner gives it a process slot.)
// A SALE whose request never reached the upstream (the connection failed before it went out, as
// after a crash between Kassa's PREPARE and its request): the upstream answers "Payment not
// found" to GET_TRANS_STATUS_BY_ORDER. Past the time the request could still arrive, no money
// can have moved: the reconciler declines it (docs/adr/0098), unless the MID's settings changed.
let setup: UpstreamPlatform;
let reconciler: Reconciler;
const minuteMs = 60_000;
const graceMs = minuteMs;
const notReceivedGraceMs = 15 * minuteMs;
const operatorDeadlineMs = 60 * minuteMs;

before(async () => {
  setup = await startUpstreamPlatform();
  reconciler = new Reconciler(setup.platform.context, {
    graceMs, notReceivedGraceMs, operatorDeadlineMs, backoffMs: [30_000],
  });
});
after(async () => {
  await setup?.close();
});
beforeEach(() => {
  setup.api.fault = 'none';
  setup.api.once = false;
  // The upstream's own callbacks do not reach Kassa here: the reconciler alone must find out.
  setup.callbacks.fault = 'resetBefore';
});

/** The upstream's answer to GET_TRANS_STATUS_BY_ORDER for one of Kassa's payments. */
async function upstreamAnswerOf(transId: string): Promise<{ result: string; status?: string; error_code?: number }> {
  const answer = await fetch(`${setup.upstream.url}post`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(orderFields(setup.upstream, transId, '4111111111111111')).toString(),
  });
  return (await answer.json()) as { result: string; status?: string; error_code?: number };
}

/** A SALE through the fault proxy; its outcome unknown to Kassa (PREPARE). */
async function unknownSale(fault: 'resetBefore' | 'resetAfterCommit', orderId = randomUUID()) {
  setup.api.fault = fault;
  setup.api.once = true;
  const forwardedBefore = setup.api.forwarded;
  const sale = (await setup.platform.post(saleFields(setup.platform.merchant, {
    order_id: orderId, order_amount: '17.00', card_exp_year: '2038',
  }))).body;
  assert.equal(sale.status, 'PREPARE', `an unknown outcome is PREPARE: ${JSON.stringify(sale)}`);
  if (fault === 'resetBefore') assert.equal(setup.api.forwarded, forwardedBefore, 'the upstream never got it');
  return sale as { trans_id: string; order_id: string };
}

const statusOf = (transId: string) => setup.settledStatusOf(transId, 0);

async function reconciliationLine(transId: string): Promise<string> {
  const listed = await runKassa(setup.platform, 'reconciliation', 'list', '--all');
  return listed.stdout.split('\n').find((line) => line.includes(transId)) ?? '';
}

test('never received upstream: unknown while the request could still arrive, then declined; the order can be paid', {
  timeout: 60_000,
}, async () => {
  const { platform } = setup;
  const lost = await unknownSale('resetBefore');
  const approvedUpstream = await unknownSale('resetAfterCommit');
  assert.equal((await upstreamAnswerOf(lost.trans_id)).error_code, 208001, 'the upstream has no such order');

  platform.clock.advance(graceMs + 1);
  const first = await reconciler.runOnce();
  assert.deepEqual({ approved: first.approved, stillUnknown: first.stillUnknown, declined: first.declined },
    { approved: 1, stillUnknown: 1, declined: 0 }, JSON.stringify(first));
  assert.equal(await statusOf(approvedUpstream.trans_id), 'SETTLED', 'the one the upstream got is what it says');
  assert.equal(await statusOf(lost.trans_id), 'PREPARE', 'not found yet is not a decline');
  assert.match(await reconciliationLine(lost.trans_id), /could still arrive/);
  assert.deepEqual(await setup.merchantCallbacksOf(lost.trans_id), []);

  platform.clock.advance(notReceivedGraceMs);
  const second = await reconciler.runOnce();
  assert.deepEqual({ declined: second.declined, notReceived: second.notReceived }, { declined: 1, notReceived: 1 });
  const status = (await platform.post(orderFields(platform.merchant, lost.order_id, '4111111111111111'))).body;
  assert.equal(status.status, 'DECLINED', JSON.stringify(status));
  assert.equal(status.decline_reason, 'Not received by the acquirer');
  assert.deepEqual(await setup.merchantCallbacksOf(lost.trans_id), ['DECLINED:DECLINED']);
  assert.deepEqual(await setup.merchantCallbacksOf(approvedUpstream.trans_id), ['SUCCESS:SETTLED']);
  assert.equal((await upstreamAnswerOf(lost.trans_id)).result, 'ERROR', 'and the upstream still has nothing');

  // (A new request: the very same fields again would be refused as a duplicate.)
  const again = (await platform.post(saleFields(platform.merchant, {
    order_id: lost.order_id, order_amount: '17.50', card_exp_year: '2038',
  }))).body;
  assert.equal(again.status, 'SETTLED', `the merchant may charge the order again: ${JSON.stringify(again)}`);
  assert.equal((await upstreamAnswerOf(again.trans_id)).status, 'SETTLED');
});

test("not found, but the MID's settings changed since: never declined; the operator and the merchant are told", {
  timeout: 60_000,
}, async () => {
  const { platform } = setup;
  const lost = await unknownSale('resetBefore');
  platform.clock.advance(1_000);
  await runKassa(platform, 'routing', 'mid', 'set', '--name', 'upstream-psp', '--setting', 'answerTimeoutMs=6000');
  platform.clock.advance(notReceivedGraceMs + graceMs);
  assert.equal((await reconciler.runOnce()).declined, 0);
  assert.equal(await statusOf(lost.trans_id), 'PREPARE');
  assert.match(await reconciliationLine(lost.trans_id), /settings changed since/);

  platform.clock.advance(operatorDeadlineMs);
  assert.equal((await reconciler.runOnce()).toOperator, 1);
  // A 5.2.0 merchant (the default): its SALE answer's SUCCESS/PREPARE again, never UNDEFINED (ADR 0096).
  assert.deepEqual(await setup.merchantCallbacksOf(lost.trans_id), ['SUCCESS:PREPARE']);
  await runKassa(platform, 'reconciliation', 'resolve', '--trans-id', lost.trans_id, '--outcome', 'declined',
    '--reason', 'Not at the upstream (checked by the operator)');
  assert.equal(await statusOf(lost.trans_id), 'DECLINED');
  assert.deepEqual(await setup.merchantCallbacksOf(lost.trans_id), ['SUCCESS:PREPARE', 'DECLINED:DECLINED']);
});
