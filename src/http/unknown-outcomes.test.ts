import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  AuthorizationAnswer, AuthorizationRequest, ChallengeCompletion, FollowUpRequest,
} from '../acquirers/connector.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';
import { finishUnknownOperation } from '../operations/finish-operation.ts';
import {
  approveRefundApplication,
  fileApplication,
  RefundApplicationError,
} from '../operations/refund-applications.ts';
import { protocolErrors } from '../protocol/errors.ts';
import { cardHashPart, createScheduleHash, saleHash, saleTokenHash } from '../protocol/hash.ts';
import { ClaimLostError, loadPaymentAnyMerchant } from '../storage/payments.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import {
  runKassa, saleFields, startTestPlatform, testCard, transactionFields, type TestPlatform,
} from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';
import { ScheduleRunner } from '../workers/schedule-runner.ts';

/** How the acquirer misbehaves: answers, throws, or never answers (past the platform's bound). */
type Mode = 'answer' | 'throw' | 'hang';

/** The test engine with a switch: a bank that fails or hangs in the middle of a request. */
class UnreliableConnector extends TestEngineConnector {
  mode: Mode = 'answer';
  hanging: (() => void)[] = [];
  /** false: behave like a remote bank, so SALE commits PREPARE before it asks. */
  override sideEffectFree = true;

  #misbehave<Answer>(answer: () => Promise<Answer>): Promise<Answer> {
    if (this.mode === 'throw') return Promise.reject(new Error('connection reset by the acquirer'));
    if (this.mode === 'hang')
      return new Promise<Answer>((resolve) => this.hanging.push(() => void answer().then(resolve)));
    return answer();
  }

  override authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer> {
    return this.#misbehave(() => super.authorize(request));
  }

  override capture(request: FollowUpRequest) {
    return this.#misbehave(() => super.capture(request));
  }
  override refund() {
    return this.#misbehave(() => super.refund());
  }
  override reverse() {
    return this.#misbehave(() => super.reverse());
  }
  override void() {
    return this.#misbehave(() => super.void());
  }
  override completeChallenge(request: ChallengeCompletion) {
    return this.#misbehave(() => super.completeChallenge(request));
  }
}

const connector = new UnreliableConnector();
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;
let merchant: { clientKey: string; password: string; merchantId: string };

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ acquirer: connector });
  platform.context.acquirerTimeoutMs = 150;
  merchant = await platform.addMerchant({ callbackUrl: receiver.url('/merchant'), threeDsEnabled: true });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
beforeEach(() => {
  connector.mode = 'answer';
  connector.sideEffectFree = true;
});
after(async () => {
  // A hanging call answers at last (and is ignored), so nothing is left pending at exit.
  for (const release of connector.hanging.splice(0)) release();
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const send = async (action: string, transId: string, extra: Record<string, string> = {}) =>
  (await platform.post(transactionFields(merchant, action, transId, extra))).body;
const sale = async (overrides: Record<string, string> = {}) =>
  (await platform.post(saleFields(merchant, { order_amount: '10.00', ...overrides }))).body;

/** The callbacks the merchant received for a payment, after the dispatcher has run. */
async function callbacksOf(transId: string) {
  await dispatcher.runOnce();
  return receiver.received
    .filter((received) => received.fields.trans_id === transId)
    .map((received) => received.fields);
}

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR', JSON.stringify(body));
  assert.equal(body.error_code, protocolErrors[name].code, JSON.stringify(body));
}

/** The one waiting sub-transaction of a payment: what the reconciler would find. */
async function waitingOperation(transId: string, type: string) {
  const rows = await platform.context.storage.db
    .selectFrom('payment_operations')
    .selectAll()
    .where('trans_id', '=', transId)
    .where('type', '=', type)
    .where('status', '=', 'waiting')
    .execute();
  assert.equal(rows.length, 1, `one waiting ${type}`);
  return rows[0].operation_id;
}

for (const mode of ['throw', 'hang'] as const) {
  test(`CAPTURE whose acquirer ${mode}s: UNDEFINED/PREPARE, never DECLINED; the claim holds`, async () => {
    const auth = await sale({ auth: 'Y' });
    connector.mode = mode;
    const answer = await send('CAPTURE', auth.trans_id);
    assert.equal(answer.result, 'UNDEFINED', JSON.stringify(answer));
    assert.equal(answer.status, 'PREPARE');
    assert.equal(answer.amount, '10.00');
    assert.equal(answer.decline_reason, undefined);
    connector.mode = 'answer';
    assert.equal((await send('GET_TRANS_STATUS', auth.trans_id)).status, 'PREPARE');
    const details = await send('GET_TRANS_DETAILS', auth.trans_id);
    assert.equal(details.status, 'PREPARE');
    assert.deepEqual(
      details.transactions.map((row: any) => `${row.type}:${row.status}`),
      ['AUTH:success', 'CAPTURE:waiting'],
    );
    assertError(await send('CAPTURE', auth.trans_id), 'captureNotPending');
    assertError(await send('CREDITVOID', auth.trans_id), 'refundNotAllowed');
    const callbacks = await callbacksOf(auth.trans_id);
    assert.ok(
      callbacks.every((callback) => callback.result !== 'DECLINED'),
      JSON.stringify(callbacks),
    );
    assert.ok(
      !callbacks.some((callback) => callback.action === 'CAPTURE'),
      'no CAPTURE callback before the outcome is known',
    );
  });

  test(`CREDITVOID refund whose acquirer ${mode}s: ACCEPTED; the reservation holds, no second refund`, async () => {
    const settled = await sale();
    connector.mode = mode;
    assert.equal((await send('CREDITVOID', settled.trans_id)).result, 'ACCEPTED');
    connector.mode = 'answer';
    assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'PREPARE');
    assertError(await send('CREDITVOID', settled.trans_id), 'refundTooLarge');
    assertError(await send('CREDITVOID', settled.trans_id, { amount: '0.01' }), 'refundTooLarge');
    const voided = await send('VOID', settled.trans_id);
    assert.equal(voided.result, 'DECLINED', 'VOID is refused while a refund may have gone through');
    const callbacks = await callbacksOf(settled.trans_id);
    assert.ok(!callbacks.some((callback) => callback.action === 'CREDITVOID'), JSON.stringify(callbacks));
  });

  test(`CREDITVOID reversal and VOID whose acquirer ${mode}s stay held, never DECLINED`, async () => {
    const auth = await sale({ auth: 'Y' });
    connector.mode = mode;
    assert.equal((await send('CREDITVOID', auth.trans_id)).result, 'ACCEPTED');
    connector.mode = 'answer';
    assert.equal((await send('GET_TRANS_STATUS', auth.trans_id)).status, 'PREPARE');
    assertError(await send('CAPTURE', auth.trans_id), 'captureNotPending');

    const settled = await sale();
    connector.mode = mode;
    const voided = await send('VOID', settled.trans_id);
    assert.equal(voided.result, 'UNDEFINED', JSON.stringify(voided));
    assert.equal(voided.status, 'PREPARE');
    connector.mode = 'answer';
    assertError(await send('CREDITVOID', settled.trans_id), 'refundNotAllowed');
    for (const transId of [auth.trans_id, settled.trans_id]) {
      assert.ok((await callbacksOf(transId)).every((callback) => callback.result !== 'DECLINED'));
    }
  });
}

test('3-D Secure completion whose acquirer hangs: PREPARE, and the page never says declined', async () => {
  const challenged = await sale({ card_exp_month: '05' });
  assert.equal(challenged.status, '3DS');
  const acs = await platform.app.inject({
    method: 'POST',
    url: '/emulator/acs/verify',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ ...challenged.redirect_params, code: '123456', decision: 'confirm' }).toString(),
  });
  const paRes = [...acs.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((match) => [
    match[1],
    match[2].replace(/&amp;/g, '&'),
  ]);
  connector.mode = 'hang';
  const back = await platform.app.inject({
    method: 'POST',
    url: new URL(challenged.redirect_params.TermUrl).pathname,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(paRes).toString(),
  });
  connector.mode = 'answer';
  assert.equal(back.statusCode, 200);
  assert.ok(!/declined/i.test(back.body), 'the cardholder is not told the payment was declined');
  assert.equal((await send('GET_TRANS_STATUS', challenged.trans_id)).status, 'PREPARE');
  const details = await send('GET_TRANS_DETAILS', challenged.trans_id);
  assert.deepEqual(
    details.transactions.map((row: any) => `${row.type}:${row.status}`),
    ['3DS:success', 'SALE:waiting'],
  );
  const secrets = await platform.context.storage.db
    .selectFrom('card_secrets')
    .selectAll()
    .where('trans_id', '=', challenged.trans_id)
    .execute();
  assert.equal(secrets.length, 0, 'the CVV is erased once authorization was attempted');
  assert.ok((await callbacksOf(challenged.trans_id)).every((callback) => callback.result !== 'DECLINED'));

  // Later known approved: SETTLED, and the merchant gets the SALE's callback.
  const operationId = await waitingOperation(challenged.trans_id, 'SALE');
  await finishUnknownOperation(platform.context, operationId, { outcome: 'approved' });
  assert.equal((await send('GET_TRANS_STATUS', challenged.trans_id)).status, 'SETTLED');
  const callbacks = await callbacksOf(challenged.trans_id);
  assert.equal(callbacks.at(-1)?.status, 'SETTLED');
});

test('an unknown capture finished approved (reconciler seam): SETTLED, one CAPTURE callback, once', async () => {
  const auth = await sale({ auth: 'Y' });
  connector.mode = 'throw';
  assert.equal((await send('CAPTURE', auth.trans_id, { amount: '4.00' })).result, 'UNDEFINED');
  connector.mode = 'answer';
  const operationId = await waitingOperation(auth.trans_id, 'CAPTURE');
  const finished = await finishUnknownOperation(platform.context, operationId, { outcome: 'approved' });
  assert.equal(finished.status, 'SETTLED');
  assert.equal(finished.capturedMinor, 400);
  assert.equal(finished.operationLock, null);
  const status = await send('GET_TRANS_STATUS', auth.trans_id);
  assert.equal(status.status, 'SETTLED');
  const captures = (await callbacksOf(auth.trans_id)).filter((callback) => callback.action === 'CAPTURE');
  assert.equal(captures.length, 1);
  assert.equal(captures[0].result, 'SUCCESS');
  assert.equal(captures[0].amount, '4.00');
  // The outcome is written once: a second finish (a second reconciler) is refused and changes nothing.
  await assert.rejects(
    finishUnknownOperation(platform.context, operationId, { outcome: 'declined', declineReason: 'late' }),
    ClaimLostError,
  );
  assert.equal((await send('GET_TRANS_STATUS', auth.trans_id)).status, 'SETTLED');
  assert.equal((await send('CREDITVOID', auth.trans_id, { amount: '4.00' })).result, 'ACCEPTED');
});

test('an unknown refund finished declined gives its reservation back; finished approved it refunds', async () => {
  const settled = await sale();
  connector.mode = 'hang';
  await send('CREDITVOID', settled.trans_id, { amount: '6.00' });
  connector.mode = 'answer';
  const operationId = await waitingOperation(settled.trans_id, 'REFUND');
  await finishUnknownOperation(platform.context, operationId, {
    outcome: 'declined',
    declineReason: 'Refund declined by the bank',
  });
  assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'SETTLED');
  const declined = (await callbacksOf(settled.trans_id)).filter((callback) => callback.action === 'CREDITVOID');
  assert.deepEqual(
    declined.map((callback) => callback.result),
    ['DECLINED'],
    'the bank said no: now the merchant may be told',
  );
  assert.equal((await send('CREDITVOID', settled.trans_id)).result, 'ACCEPTED', 'the whole amount is refundable again');
  assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'REFUND');
});

test('a refund approved while another waits leaves it SETTLED; REFUND once nothing can come back', async () => {
  const settled = await sale();
  connector.mode = 'throw';
  await send('CREDITVOID', settled.trans_id, { amount: '6.00' });
  connector.mode = 'answer';
  assert.equal((await send('CREDITVOID', settled.trans_id, { amount: '4.00' })).result, 'ACCEPTED');
  assert.equal(
    (await send('GET_TRANS_STATUS', settled.trans_id)).status,
    'PREPARE',
    'the 6.00 refund is not known yet',
  );
  const operationId = await waitingOperation(settled.trans_id, 'REFUND');
  await finishUnknownOperation(platform.context, operationId, {
    outcome: 'declined',
    declineReason: 'Refund declined by the bank',
  });
  assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'SETTLED');
  assert.equal((await send('CREDITVOID', settled.trans_id, { amount: '6.00' })).result, 'ACCEPTED');
  assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'REFUND');
  const statuses = (await callbacksOf(settled.trans_id))
    .filter((callback) => callback.action === 'CREDITVOID')
    .map((callback) => `${callback.result}:${callback.status ?? ''}`);
  assert.deepEqual(statuses, ['SUCCESS:SETTLED', 'DECLINED:', 'SUCCESS:REFUND']);
});

test('an approved refund application whose refund is unknown stays claimed: nobody can approve it twice', async () => {
  const settled = await sale();
  const payment = (await loadPaymentAnyMerchant(platform.context.storage, settled.trans_id))!;
  const filed = await fileApplication(platform.context, payment, {
    kind: 'return',
    reason: 'Sent the goods back',
    amountText: '10.00',
    contactEmail: 'doe@example.com',
  });
  assert.ok(filed.ok);
  connector.mode = 'throw';
  await assert.rejects(
    approveRefundApplication(platform.context, filed.application.applicationId),
    RefundApplicationError,
  );
  connector.mode = 'answer';
  await assert.rejects(approveRefundApplication(platform.context, filed.application.applicationId), /APPROVING/);
  assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'PREPARE');
  assertError(await send('CREDITVOID', settled.trans_id), 'refundTooLarge');
});

// SALE with a connector that is not side-effect free: PREPARE is committed first, held by the
// SALE's own sub-transaction, and the bank is asked within acquirerTimeoutMs.
for (const mode of ['throw', 'hang'] as const) {
  test(`a PREPARE-first SALE whose acquirer ${mode}s: SUCCESS/PREPARE, never DECLINED; the order is held`, async () => {
    connector.sideEffectFree = false;
    connector.mode = mode;
    const fields = saleFields(merchant, { order_amount: '10.00' });
    const answer = (await platform.post(fields)).body;
    assert.equal(answer.result, 'SUCCESS', JSON.stringify(answer));
    assert.equal(answer.status, 'PREPARE');
    assert.equal(answer.decline_reason, undefined);
    connector.mode = 'answer';
    assert.equal((await send('GET_TRANS_STATUS', answer.trans_id)).status, 'PREPARE');
    const details = await send('GET_TRANS_DETAILS', answer.trans_id);
    assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['SALE:waiting']);
    const again = await platform.post(saleFields(merchant, { order_id: fields.order_id, order_amount: '10.00' }));
    assertError(again.body, 'previousPaymentNotCompleted');
    assert.deepEqual(await callbacksOf(answer.trans_id), [], 'no callback before the outcome is known');

    // Later known approved (the reconciler's seam): SETTLED, the SALE's callback, once.
    const operationId = await waitingOperation(answer.trans_id, 'SALE');
    const finished = await finishUnknownOperation(platform.context, operationId, { outcome: 'approved' });
    assert.equal(finished.status, 'SETTLED');
    assert.equal(finished.operationLock, null);
    assert.equal((await send('GET_TRANS_STATUS', answer.trans_id)).status, 'SETTLED');
    const callbacks = await callbacksOf(answer.trans_id);
    assert.deepEqual(callbacks.map((callback) => `${callback.result}:${callback.status}`), ['SUCCESS:SETTLED']);
    await assert.rejects(
      finishUnknownOperation(platform.context, operationId, { outcome: 'declined', declineReason: 'late' }),
      ClaimLostError,
    );
    assert.equal((await send('GET_TRANS_STATUS', answer.trans_id)).status, 'SETTLED');
  });
}

test('a PREPARE-first SALE the acquirer answers: one final write under its claim, answered as ever', async () => {
  connector.sideEffectFree = false;
  const approved = await sale();
  assert.equal(approved.result, 'SUCCESS');
  assert.equal(approved.status, 'SETTLED');
  const declined = await sale({ order_amount: '10.00', card_exp_month: '02' });
  assert.equal(declined.result, 'DECLINED', JSON.stringify(declined));
  for (const body of [approved, declined]) {
    const details = await send('GET_TRANS_DETAILS', body.trans_id);
    assert.equal(details.transactions.length, 1);
    assert.notEqual(details.transactions[0].status, 'waiting');
    assert.equal((await callbacksOf(body.trans_id)).length, 1);
  }
  const challenged = await sale({ card_exp_month: '05' });
  assert.equal(challenged.result, 'REDIRECT', JSON.stringify(challenged));
  assert.equal(challenged.status, '3DS');
  const details = await send('GET_TRANS_DETAILS', challenged.trans_id);
  const steps = details.transactions.map((row: any) => `${row.type}:${row.status}`);
  // Written SALE first (the claim), told in the spec's order: the 3-D Secure step first.
  assert.deepEqual(steps, ['3DS:waiting', 'SALE:waiting']);
  const held = await platform.context.storage.db.selectFrom('payments').select('operation_lock')
    .where('trans_id', 'in', [approved.trans_id, declined.trans_id, challenged.trans_id]).execute();
  assert.deepEqual(held.map((row) => row.operation_lock), [null, null, null], 'the claim is let go with the outcome');
});

async function createSchedule() {
  const created = await platform.post({
    action: 'CREATE_SCHEDULE', client_key: merchant.clientKey, name: 'Plan',
    hash: createScheduleHash(merchant.password),
    interval_length: '10', interval_unit: 'day', payments_count: '3',
  });
  assert.equal(created.body.result, 'SUCCESS', JSON.stringify(created.body));
  return created.body.schedule_id as string;
}

for (const known of ['approved', 'declined'] as const) {
  test(`an unknown SALE with req_token, recurring_init, schedule_id known ${known}: companions follow`, async () => {
    platform.clock.set(Date.UTC(2032, 2, 1, 10, 0, 0));
    const scheduleId = await createSchedule();
    connector.sideEffectFree = false;
    connector.mode = 'throw';
    const first = await sale({ recurring_init: 'Y', req_token: 'Y', schedule_id: scheduleId });
    assert.equal(first.status, 'PREPARE');
    assert.equal(first.card_token, undefined, 'no token is shown before the payment is approved');
    assert.equal(first.recurring_token, undefined);
    connector.mode = 'answer';
    connector.sideEffectFree = true;
    const runner = new ScheduleRunner(platform.context);
    platform.clock.set(Date.UTC(2032, 2, 12, 10, 0, 0));
    assert.equal((await runner.runOnce()).charged, 0, 'the binding waits for its initiating payment');

    const operationId = await waitingOperation(first.trans_id, 'SALE');
    const outcome = known === 'approved'
      ? { outcome: 'approved' as const }
      : { outcome: 'declined' as const, declineReason: 'Declined by the bank later' };
    await finishUnknownOperation(platform.context, operationId, outcome);
    const [callback] = await callbacksOf(first.trans_id);
    if (known === 'declined') {
      assert.equal(callback.result, 'DECLINED');
      assert.equal(callback.card_token, undefined);
      assert.equal(callback.recurring_token, undefined);
      const counts = await runner.runOnce();
      assert.equal(counts.charged, 0);
      assert.equal(counts.ended, 1, 'the schedule binding of a declined payment ends');
      return;
    }
    assert.equal(callback.result, 'SUCCESS');
    assert.equal(callback.schedule_id, scheduleId);
    assert.match(callback.recurring_token, /^[0-9a-f-]{36}$/);
    assert.match(callback.card_token, /^[0-9a-f]{64}$/);

    const byToken = saleFields(merchant, { order_amount: '3.00' });
    for (const name of ['card_number', 'card_exp_month', 'card_exp_year']) delete byToken[name];
    byToken.card_token = callback.card_token;
    byToken.hash = saleTokenHash('doe@example.com', merchant.password, callback.card_token);
    assert.equal((await platform.post(byToken)).body.status, 'SETTLED', 'the card token charges the card');
    const recurring = await platform.post({
      action: 'RECURRING_SALE', client_key: merchant.clientKey, order_id: `REC-${first.trans_id}`, order_amount: '4.99',
      order_description: 'Plan', recurring_first_trans_id: first.trans_id, recurring_token: callback.recurring_token,
      hash: saleHash({
        email: 'doe@example.com', password: merchant.password, cardDigits: cardHashPart(testCard.number),
      }),
    });
    assert.equal(recurring.body.status, 'SETTLED', JSON.stringify(recurring.body));
    assert.equal((await runner.runOnce()).charged, 1, 'the schedule charges the stored card');
  });
}

test('kassa merchant update --unknown-result undefined: an unknown SALE answers 5.6.x UNDEFINED, PREPARE', async () => {
  const modern = await platform.addMerchant({ callbackUrl: receiver.url('/modern') });
  const updated = await runKassa(platform, 'merchant', 'update', '--client-key', modern.clientKey,
    '--unknown-result', 'undefined', '--json');
  assert.equal(JSON.parse(updated.stdout).unknown_result, 'undefined');
  connector.sideEffectFree = false;
  connector.mode = 'throw';
  const unknown = (await platform.post(saleFields(modern, { order_amount: '10.00' }))).body;
  assert.deepEqual([unknown.result, unknown.status], ['UNDEFINED', 'PREPARE'], JSON.stringify(unknown));
  assert.equal(unknown.decline_reason, undefined);
  // Every other merchant keeps 5.2.0's answer.
  const classic = await sale();
  assert.deepEqual([classic.result, classic.status], ['SUCCESS', 'PREPARE'], JSON.stringify(classic));
  // Known outcomes are answered as ever.
  connector.mode = 'answer';
  const approved = (await platform.post(saleFields(modern, { order_amount: '10.00' }))).body;
  assert.deepEqual([approved.result, approved.status], ['SUCCESS', 'SETTLED']);
  // The outcome, once known, comes by callback as for any merchant.
  const operationId = await waitingOperation(unknown.trans_id, 'SALE');
  await finishUnknownOperation(platform.context, operationId, { outcome: 'approved' });
  const [callback] = await callbacksOf(unknown.trans_id);
  assert.deepEqual([callback.result, callback.status], ['SUCCESS', 'SETTLED']);

  await assert.rejects(
    runKassa(platform, 'merchant', 'update', '--client-key', modern.clientKey, '--unknown-result', 'maybe'),
    (error: { code?: number; stderr?: string }) => error.code === 2 && /--unknown-result takes success or undefined/
      .test(error.stderr ?? ''),
  );
});
