import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AcquirerConnector, AuthorizationRequest } from '../acquirers/connector.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import {
  orderFields, runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform,
} from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

// Cascading (ADR 0053), set up through `kassa routing` as an operator would: two or more
// test-engine MIDs that behave differently, one SALE, and what the merchant sees of it — the
// answer, GET_TRANS_STATUS_BY_ORDER, GET_TRANS_DETAILS and the callbacks.

let platform: TestPlatform;
let receiver: CallbackReceiver;
let hangingBank: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  hangingBank = await startCallbackReceiver({ answer: () => 'hang' });
  platform = await startTestPlatform();
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
  await hangingBank.close();
});

const kassa = (...args: string[]) => runKassa(platform, ...args, '--actor', 'ops@psp.test');
const declining = ['--setting', 'declineEverything=true'];

/** A merchant of its own (callbacks to its own path) routed onto its own MIDs, in order. */
async function merchantOnMids(name: string, mids: [string, string[]][], mappingOptions: string[] = []) {
  const merchant = await platform.addMerchant({ callbackUrl: receiver.url(`/${name}`) });
  for (const [mid, options] of mids) await kassa('routing', 'mid', 'create', '--name', mid, ...options);
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids',
    mids.map(([mid]) => mid).join(','), ...mappingOptions);
  return merchant;
}

type Merchant = Awaited<ReturnType<typeof merchantOnMids>>;
const sale = (merchant: Merchant, overrides: Record<string, string> = {}) =>
  platform.post(saleFields(merchant, overrides)).then((response) => response.body);
const byOrder = (merchant: Merchant, orderId: string, card?: string) =>
  platform.post(orderFields(merchant, orderId, card)).then((response) => response.body);
const send = (merchant: Merchant, action: string, transId: string, extra: Record<string, string> = {}, card?: string) =>
  platform.post(transactionFields(merchant, action, transId, extra, card)).then((response) => response.body);

/** The callbacks one merchant received, as (trans_id, status) in the order they were made. */
async function callbacksOf(name: string) {
  await dispatcher.runOnce();
  return receiver.received
    .filter((callback) => callback.path === `/${name}`)
    .map((callback) => [callback.fields.trans_id, callback.fields.status]);
}

test('MID 1 declines, MID 2 approves: two transactions in one payment, the merchant told of both', async () => {
  const merchant = await merchantOnMids('c-two', [['c-two-a', declining], ['c-two-b', []]]);
  const fields = saleFields(merchant, { order_amount: '10.00' });
  const answer = (await platform.post(fields)).body;
  assert.equal(answer.result, 'SUCCESS', JSON.stringify(answer));
  assert.equal(answer.status, 'SETTLED');

  const details = await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id);
  assert.equal(details.cascade.length, 2);
  const [first, second] = details.cascade;
  assert.deepEqual([first.status, first.decline_reason], ['DECLINED', 'Declined by processing']);
  assert.deepEqual([second.trans_id, second.status], [answer.trans_id, 'SETTLED']);
  assert.notEqual(first.trans_id, answer.trans_id);
  assert.deepEqual(details.transactions.map((row: any) => [row.type, row.status]), [['SALE', 'success']]);

  // The order's most recent transaction is the final one; the first stays what it was.
  const status = await byOrder(merchant, answer.order_id);
  assert.deepEqual([status.trans_id, status.status], [answer.trans_id, 'SETTLED']);
  assert.equal((await send(merchant, 'GET_TRANS_STATUS', first.trans_id)).status, 'DECLINED');
  assert.deepEqual((await send(merchant, 'GET_TRANS_DETAILS', first.trans_id)).cascade, details.cascade);

  assert.deepEqual(await callbacksOf('c-two'), [[first.trans_id, 'DECLINED'], [answer.trans_id, 'SETTLED']]);
  // The money is at MID 2: a refund goes there and succeeds.
  assert.equal((await send(merchant, 'CREDITVOID', answer.trans_id)).result, 'ACCEPTED');
  // A replay of the request is still a replay, not a third attempt.
  const replay = (await platform.post(fields)).body;
  assert.equal(replay.result, 'ERROR', JSON.stringify(replay));
  assert.equal((await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id)).cascade.length, 2);
});

test('every MID declines: each tried once, the answer is the last decline, first and last called back', async () => {
  const merchant = await merchantOnMids('c-all', [
    ['c-all-a', declining], ['c-all-b', declining], ['c-all-c', declining],
  ]);
  const answer = await sale(merchant);
  assert.deepEqual([answer.result, answer.status], ['DECLINED', 'DECLINED']);
  const { cascade } = await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id);
  assert.deepEqual(cascade.map((attempt: any) => attempt.status), ['DECLINED', 'DECLINED', 'DECLINED']);
  assert.equal(cascade[2].trans_id, answer.trans_id);
  assert.equal((await byOrder(merchant, answer.order_id)).trans_id, answer.trans_id);
  assert.deepEqual(await callbacksOf('c-all'), [[cascade[0].trans_id, 'DECLINED'], [answer.trans_id, 'DECLINED']]);
});

test('a decline about the card (insufficient funds, expired) is not cascaded by the default rule', async () => {
  const merchant = await merchantOnMids('c-card', [['c-card-a', []], ['c-card-b', []]]);
  const card = '4000000000009995';
  const answer = await sale(merchant, { card_number: card });
  assert.equal(answer.status, 'DECLINED');
  assert.match(answer.decline_reason, /Insufficient funds/);
  assert.equal((await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id, {}, card)).cascade, undefined);
  assert.equal((await byOrder(merchant, answer.order_id, card)).trans_id, answer.trans_id);

  // The rule is the mapping's: cascading on insufficient funds tries MID 2 (which refuses too).
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--cascade-on', 'insufficient-funds');
  const again = await sale(merchant, { card_number: card });
  const details = await send(merchant, 'GET_TRANS_DETAILS', again.trans_id, {}, card);
  assert.equal(details.cascade.length, 2);
});

test('the cascade rule: off, or bounded; shown by mapping list and export, a bad one refused whole', async () => {
  const merchant = await merchantOnMids('c-rule', [
    ['c-rule-a', declining], ['c-rule-b', declining], ['c-rule-c', []],
  ], ['--cascade-on', 'none']);
  const off = await sale(merchant);
  assert.equal(off.status, 'DECLINED');
  assert.equal((await send(merchant, 'GET_TRANS_DETAILS', off.trans_id)).cascade, undefined);

  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey,
    '--cascade-on', 'do-not-honor', '--cascade-max', '2');
  const bounded = await sale(merchant);
  assert.equal(bounded.status, 'DECLINED');
  assert.equal((await send(merchant, 'GET_TRANS_DETAILS', bounded.trans_id)).cascade.length, 2);
  const { stdout } = await kassa('routing', 'mapping', 'list', '--client-key', merchant.clientKey);
  assert.match(stdout, /cascade on do-not-honor, at most 2 attempts/);

  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--cascade-max', 'all');
  assert.equal((await sale(merchant)).status, 'SETTLED');

  const exported = JSON.parse((await kassa('routing', 'export')).stdout);
  const mapping = exported.mappings.find((each: any) => each.merchant === merchant.clientKey);
  assert.deepEqual(mapping.cascade, { on: ['do-not-honor'], maxAttempts: null });
  mapping.cascade = { on: ['no-such-decline'], maxAttempts: 11 };
  const file = join(platform.dataDirectory, 'bad-cascade.json');
  writeFileSync(file, JSON.stringify({ mids: [], mappings: [mapping] }));
  await assert.rejects(kassa('routing', 'apply', file), (error: Error & { stdout: string; stderr: string }) => {
    const text = `${error.stdout}${error.stderr}`;
    assert.match(text, /unknown decline "no-such-decline"/);
    assert.match(text, /maxAttempts must be a whole number from 1 to 10/);
    return true;
  });
  assert.equal((await sale(merchant)).status, 'SETTLED'); // nothing was applied
});

test("limits: a declined attempt takes nothing; a MID without headroom ends the cascade with the decline", async () => {
  const merchant = await merchantOnMids('c-limit', [['c-limit-a', declining], ['c-limit-b', []]]);
  for (const mid of ['c-limit-a', 'c-limit-b']) {
    await kassa('routing', 'limit', 'set', '--mid', mid, '--window', 'day', '--currency', 'USD', '--amount', '3.00');
  }
  assert.equal((await sale(merchant, { order_amount: '2.00' })).status, 'SETTLED');
  const explained = JSON.parse((await kassa('routing', 'explain', '--client-key', merchant.clientKey, '--brand', 'VISA',
    '--currency', 'USD', '--amount', '1.50', '--json')).stdout);
  // MID 1 declined 2.00 and took nothing of its limit; MID 2 approved it and has 1.00 left.
  assert.equal(explained.chosen, 'c-limit-a');
  assert.match(explained.mids[0].limits[0], /used 0\.00 USD/);
  // 1.50 fits MID 1 (which declines) but not MID 2: the merchant gets MID 1's decline.
  const answer = await sale(merchant, { order_amount: '1.50' });
  assert.deepEqual([answer.status, answer.decline_reason], ['DECLINED', 'Declined by processing']);
  assert.equal((await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id)).cascade, undefined);
});

test('a limit taken meanwhile by a concurrent payment: the last decline is the answer, called back', async (t) => {
  // MID "race-c" is the platform's own engine (a test-engine MID without settings): while it
  // authorizes the cascade's third attempt, another merchant's SALE takes the room its route saw.
  const engine = new TestEngineConnector();
  let competitor: (() => Promise<unknown>) | undefined;
  const acquirer: AcquirerConnector = Object.assign(Object.create(engine) as AcquirerConnector, {
    authorize: async (request: AuthorizationRequest) => {
      const competing = competitor;
      competitor = undefined;
      if (competing) await competing();
      return engine.authorize(request);
    },
  });
  const racing = await startTestPlatform({ acquirer });
  const racingDispatcher = new CallbackDispatcher(racing.context, { attemptTimeoutMs: 2_000 });
  t.after(async () => {
    await racingDispatcher.stop();
    await racing.close();
  });
  const cli = (...args: string[]) => runKassa(racing, ...args, '--actor', 'ops@psp.test');
  for (const mid of ['race-a', 'race-b']) await cli('routing', 'mid', 'create', '--name', mid, ...declining);
  await cli('routing', 'mid', 'create', '--name', 'race-c');
  await cli('routing', 'limit', 'set', '--mid', 'race-c', '--window', 'day', '--currency', 'USD', '--amount', '15.00');
  const merchant = await racing.addMerchant({ callbackUrl: receiver.url('/c-race') });
  await cli('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'race-a,race-b,race-c');
  const other = await racing.addMerchant({ callbackUrl: receiver.url('/c-race-other') });
  await cli('routing', 'mapping', 'set', '--client-key', other.clientKey, '--mids', 'race-c');
  competitor = async () => {
    const taken = (await racing.post(saleFields(other, { order_amount: '10.00' }))).body;
    assert.equal(taken.status, 'SETTLED', JSON.stringify(taken));
  };

  const answer = (await racing.post(saleFields(merchant, { order_amount: '10.00' }))).body;
  assert.equal(competitor, undefined, 'the competing SALE ran');
  // Not the limit's error: the payment was tried, and its second attempt's decline is final.
  const final = [answer.result, answer.status, answer.decline_reason];
  assert.deepEqual(final, ['DECLINED', 'DECLINED', 'Declined by processing'], JSON.stringify(answer));
  const { cascade } = (await racing.post(transactionFields(merchant, 'GET_TRANS_DETAILS', answer.trans_id))).body;
  assert.deepEqual(cascade.map((attempt: any) => attempt.status), ['DECLINED', 'DECLINED']);
  assert.equal(cascade[1].trans_id, answer.trans_id);
  const byOrderAnswer = (await racing.post(orderFields(merchant, answer.order_id))).body;
  assert.equal(byOrderAnswer.trans_id, answer.trans_id);
  // The first attempt was called back when written, the final one now; nothing else.
  await racingDispatcher.runOnce();
  const called = receiver.received.filter((callback) => callback.path === '/c-race')
    .map((callback) => [callback.fields.trans_id, callback.fields.status]);
  assert.deepEqual(called, [[cascade[0].trans_id, 'DECLINED'], [answer.trans_id, 'DECLINED']]);
});

test('a cascade into a MID that needs 3-D Secure sends the cardholder through it', async () => {
  const merchant = await merchantOnMids('c-3ds', [['c-3ds-a', declining], ['c-3ds-b', ['--three-ds', 'always']]]);
  const answer = await sale(merchant, { card_exp_month: '05', card_exp_year: '2038' });
  assert.deepEqual([answer.result, answer.status], ['REDIRECT', '3DS'], JSON.stringify(answer));
  const { cascade } = await send(merchant, 'GET_TRANS_DETAILS', answer.trans_id);
  assert.deepEqual(cascade.map((attempt: any) => attempt.status), ['DECLINED', '3DS']);
  assert.equal((await byOrder(merchant, answer.order_id)).trans_id, answer.trans_id);
});

test('a technical error at a remote MID cascades; an unknown outcome never does (PREPARE stays)', async () => {
  const upstream = (baseUrl: string) => [
    '--connector', 'upstream-s2s-card', '--setting', `baseUrl=${baseUrl}`, '--setting', 'clientKey=remote-key',
    '--setting', 'answerTimeoutMs=300', '--secret', 'password=remote-password',
  ];
  const unreachable = await merchantOnMids('c-tech', [['c-tech-a', upstream('http://127.0.0.1:9')], ['c-tech-b', []]]);
  const answer = await sale(unreachable);
  assert.equal(answer.status, 'SETTLED', JSON.stringify(answer));
  const { cascade } = await send(unreachable, 'GET_TRANS_DETAILS', answer.trans_id);
  assert.equal(cascade.length, 2);
  assert.equal(cascade[0].status, 'DECLINED');

  const hanging = await merchantOnMids('c-unknown', [
    ['c-unknown-a', upstream(hangingBank.url())], ['c-unknown-b', []],
  ]);
  const unknown = await sale(hanging);
  assert.equal(unknown.status, 'PREPARE', JSON.stringify(unknown));
  assert.equal((await send(hanging, 'GET_TRANS_DETAILS', unknown.trans_id)).cascade, undefined);
  const status = await byOrder(hanging, unknown.order_id);
  assert.deepEqual([status.trans_id, status.status], [unknown.trans_id, 'PREPARE']);
});
