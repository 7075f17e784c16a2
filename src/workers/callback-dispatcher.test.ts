import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { updateMerchant } from '../operations/manage-merchants.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { claimDueCallbacks, listBlockedUrls, listCallbacks } from '../storage/callbacks.ts';
import { openStorage } from '../storage/database.ts';
import { startCallbackReceiver, type CallbackReceiver, type ReceivedCallback, type ReceiverAnswer } from '../testing/callback-receiver.ts';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher, callbackDeliveryPolicy, type CallbackDispatcherOptions } from './callback-dispatcher.ts';

/** A hang fails the test by name instead of stalling the whole suite. */
const testTimeoutMs = 60_000;

const email = 'doe@example.com';
const secondMs = 1000;
const minuteMs = 60 * secondMs;

interface Setup {
  platform: TestPlatform;
  receiver: CallbackReceiver;
  dispatcher: CallbackDispatcher;
}

/** A fresh platform (real database), a real receiver whose URL is the merchant's callback URL,
 * and a dispatcher driven by runOnce under the platform's FixedClock. */
async function setup(t: TestContext, options: { dispatcher?: CallbackDispatcherOptions; answer?: CallbackReceiver['answer'] } = {}): Promise<Setup> {
  const receiver = await startCallbackReceiver({ answer: options.answer });
  const platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') } });
  const dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000, ...options.dispatcher });
  t.after(async () => {
    await dispatcher.stop();
    await platform.close();
    await receiver.close();
  });
  return { platform, receiver, dispatcher };
}

async function sale(platform: TestPlatform, merchant = platform.merchant, overrides: Record<string, string> = {}) {
  const { body } = await platform.post(saleFields(merchant, { order_amount: '10.00', ...overrides }));
  assert.ok(body.trans_id, JSON.stringify(body));
  return body;
}

async function follow(platform: TestPlatform, action: string, transId: string, extra: Record<string, string> = {}) {
  return (await platform.post(transactionFields(platform.merchant, action, transId, extra))).body;
}

async function callbacksOf(platform: TestPlatform, transId: string) {
  return listCallbacks(platform.context.storage, { transId, limit: 100 });
}

/** The fields without the hash, after checking the hash with the merchant-side helper. */
function verified(callback: ReceivedCallback, password: string): Record<string, unknown> {
  assert.equal(verifyCallback(callback.fields, { password, email }), true, `hash of ${callback.rawBody}`);
  const { hash, ...rest } = callback.fields;
  assert.match(hash, /^[0-9a-f]{32}$/);
  return rest;
}

test('a SALE callback arrives once, form-urlencoded, with the spec fields, card mask and expiry, signed with Formula 2', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver, dispatcher } = await setup(t);
  const payment = await sale(platform);
  const counts = await dispatcher.runOnce();
  assert.deepEqual(counts, { claimed: 1, delivered: 1, failed: 0, gaveUp: 0, heldBack: 0 });
  assert.equal(receiver.received.length, 1);
  const [callback] = receiver.received;
  assert.equal(callback.path, '/merchant');
  assert.equal(callback.contentType, 'application/x-www-form-urlencoded');
  assert.deepEqual(verified(callback, platform.merchant.password), {
    action: 'SALE', result: 'SUCCESS', status: 'SETTLED', order_id: payment.order_id, trans_id: payment.trans_id,
    card: '411111******1111', card_expiration_date: '01/2025', trans_date: '2026-11-23 10:00:00',
    descriptor: 'SHOP.TEST', amount: '10.00', currency: 'USD',
  });
  // A merchant verifying with another PASSWORD must reject it.
  assert.equal(verifyCallback(callback.fields, { password: `${platform.merchant.password}x`, email }), false);
  // Masks only: no card number, no CVV field.
  assert.ok(!callback.rawBody.includes('4111111111111111'));
  assert.ok(!('card_number' in callback.fields) && !('card_cvv2' in callback.fields));

  // Delivered means done: nothing is sent again, and the attempt is on record.
  assert.equal((await dispatcher.runOnce()).claimed, 0);
  assert.equal(receiver.received.length, 1);
  const [record] = await callbacksOf(platform, payment.trans_id);
  assert.equal(record.state, 'delivered');
  assert.equal(record.attempts.length, 1);
  assert.equal(record.attempts[0].status_code, 200);
  assert.equal(record.attempts[0].response_excerpt, 'OK');
  assert.equal(record.attempts[0].outcome, 'delivered');
  assert.equal(callback.callbackId, record.outboxId);
});

test('SALE, declined SALE, AUTH, CAPTURE, CREDITVOID and VOID each produce their signed callback, in order per transaction', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver, dispatcher } = await setup(t);
  const auth = await sale(platform, undefined, { auth: 'Y' });
  assert.equal((await follow(platform, 'CAPTURE', auth.trans_id, { amount: '6.00' })).result, 'SUCCESS');
  assert.equal((await follow(platform, 'CREDITVOID', auth.trans_id, { amount: '2.00' })).result, 'ACCEPTED');
  const settled = await sale(platform);
  assert.equal((await follow(platform, 'VOID', settled.trans_id)).result, 'SUCCESS');
  const declined = await sale(platform, undefined, { card_exp_month: '02' });
  assert.equal(declined.status, 'DECLINED');

  const counts = await dispatcher.runOnce();
  assert.equal(counts.delivered, 6);
  const of = (transId: string) => receiver.received
    .filter((callback) => callback.fields.trans_id === transId)
    .map((callback) => verified(callback, platform.merchant.password));
  const common = { card: '411111******1111', card_expiration_date: '01/2025' };
  assert.deepEqual(of(auth.trans_id), [
    {
      action: 'SALE', result: 'SUCCESS', status: 'PENDING', order_id: auth.order_id, trans_id: auth.trans_id, ...common,
      trans_date: '2026-11-23 10:00:00', descriptor: 'SHOP.TEST', amount: '10.00', currency: 'USD',
    },
    {
      action: 'CAPTURE', result: 'SUCCESS', status: 'SETTLED', order_id: auth.order_id, trans_id: auth.trans_id, amount: '6.00',
      trans_date: '2026-11-23 10:00:00', descriptor: 'SHOP.TEST', currency: 'USD', ...common,
    },
    {
      action: 'CREDITVOID', result: 'SUCCESS', status: 'SETTLED', order_id: auth.order_id, trans_id: auth.trans_id,
      creditvoid_date: '2026-11-23 10:00:00', amount: '2.00', ...common,
    },
  ]);
  assert.deepEqual(of(settled.trans_id).map((fields) => [fields.action, fields.status]), [['SALE', 'SETTLED'], ['VOID', 'VOID']]);
  assert.deepEqual(of(settled.trans_id)[1], {
    action: 'VOID', result: 'SUCCESS', status: 'VOID', order_id: settled.order_id, trans_id: settled.trans_id,
    trans_date: '2026-11-23 10:00:00', ...common,
  });
  assert.deepEqual(of(declined.trans_id), [{
    action: 'SALE', result: 'DECLINED', status: 'DECLINED', order_id: declined.order_id, trans_id: declined.trans_id,
    trans_date: '2026-11-23 10:00:00', decline_reason: 'Declined by processing', card: '411111******1111', card_expiration_date: '02/2025',
  }]);
});

test('only HTTP 2xx with the body OK counts: ERROR, 500, "OK" with 500, other text and a timeout are failures', { timeout: testTimeoutMs }, async (t) => {
  const answers: Record<string, ReceiverAnswer> = {
    '/error': 'ERROR', '/server-error': '500', '/ok-with-500': { status: 500, body: 'OK' }, '/not-ok': { status: 200, body: 'OK!' },
    '/lower-case': { status: 200, body: 'ok' }, '/hang': 'hang', '/padded': { status: 200, body: '  OK\r\n' }, '/created': { status: 201, body: 'OK' },
  };
  const { platform, dispatcher, receiver } = await setup(t, {
    // Long enough that the answering endpoints answer in time on a loaded machine (300 ms did
    // not, at a load average of 13); only /hang runs into it.
    answer: (callback) => answers[callback.path] ?? 'OK', dispatcher: { attemptTimeoutMs: 1_500 },
  });
  const transIdByPath = new Map<string, string>();
  for (const path of Object.keys(answers)) {
    const merchant = await platform.addMerchant({ callbackUrl: receiver.url(path) });
    transIdByPath.set(path, (await sale(platform, merchant)).trans_id);
  }
  const counts = await dispatcher.runOnce();
  assert.equal(counts.delivered, 2);
  assert.equal(counts.failed, 6);
  const attemptOf = async (path: string) => {
    const [record] = await callbacksOf(platform, transIdByPath.get(path)!);
    assert.equal(record.attempts.length, 1, path);
    return { state: record.state, ...record.attempts[0], lastError: record.lastError };
  };
  for (const path of ['/padded', '/created']) assert.equal((await attemptOf(path)).state, 'delivered', path);
  for (const path of ['/error', '/server-error', '/ok-with-500', '/not-ok', '/lower-case', '/hang']) {
    const attempt = await attemptOf(path);
    assert.equal(attempt.state, 'pending', path);
    assert.equal(attempt.outcome, 'failed', path);
  }
  assert.deepEqual(
    { status: (await attemptOf('/error')).status_code, answer: (await attemptOf('/error')).response_excerpt },
    { status: 200, answer: 'ERROR' },
  );
  assert.equal((await attemptOf('/server-error')).status_code, 500);
  assert.equal((await attemptOf('/server-error')).response_excerpt, 'Internal Server Error');
  const hung = await attemptOf('/hang');
  assert.equal(hung.status_code, null);
  assert.equal(hung.response_excerpt, 'no answer within 1500 ms');
  assert.ok(hung.duration_ms >= 1_490 && hung.duration_ms < 10_000, `timed out after ${hung.duration_ms} ms`);
});

test('connection refused is a failure with the error on record, retried later', { timeout: testTimeoutMs }, async (t) => {
  const { platform, dispatcher } = await setup(t);
  // Port 9 (discard) on loopback: nothing listens there.
  const merchant = await platform.addMerchant({ callbackUrl: 'http://127.0.0.1:9/cb' });
  const payment = await sale(platform, merchant);
  assert.equal((await dispatcher.runOnce()).failed, 1);
  const [record] = await callbacksOf(platform, payment.trans_id);
  assert.equal(record.state, 'pending');
  assert.match(record.attempts[0].response_excerpt ?? '', /ECONNREFUSED/);
  assert.equal(record.nextAttemptAtMs, platform.clock.nowMs() + 10 * secondMs);
});

test('retry schedule: 5 quick attempts (0, +10 s, +30 s, +1 min, +2 min), then 15-minute steps, given up after 101 attempts', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver, dispatcher } = await setup(t, { answer: () => 'ERROR' });
  const payment = await sale(platform);
  const attemptTimes: number[] = [];
  const attemptAt = async (waitMs: number) => {
    // One millisecond early nothing is sent; exactly on time the attempt goes.
    platform.clock.advance(waitMs - 1);
    assert.equal((await dispatcher.runOnce()).claimed, 0, `early by 1 ms after ${attemptTimes.length} attempts`);
    platform.clock.advance(1);
    const counts = await dispatcher.runOnce();
    assert.equal(counts.claimed, 1, `attempt ${attemptTimes.length + 1}`);
    attemptTimes.push(platform.clock.nowMs());
    return counts;
  };
  const startMs = platform.clock.nowMs();
  await dispatcher.runOnce();
  attemptTimes.push(startMs);
  for (const waitMs of [10 * secondMs, 30 * secondMs, minuteMs, 2 * minuteMs]) await attemptAt(waitMs);
  assert.deepEqual(attemptTimes.map((time) => time - startMs), [0, 10_000, 40_000, 100_000, 220_000]);
  // Five consecutive failures blocked the URL for exactly as long as the first 15-minute step.
  const [blocked] = await listBlockedUrls(platform.context.storage, platform.clock.nowMs(), 10);
  assert.equal(blocked.url, receiver.url('/merchant'));
  assert.equal(blocked.blockedUntilMs, platform.clock.nowMs() + 15 * minuteMs);

  while (attemptTimes.length < callbackDeliveryPolicy.maxAttempts - 1) await attemptAt(15 * minuteMs);
  const last = await attemptAt(15 * minuteMs);
  assert.deepEqual(last, { claimed: 1, delivered: 0, failed: 0, gaveUp: 1, heldBack: 0 });
  assert.equal(attemptTimes.length, 101);
  assert.equal(receiver.received.length, 101);
  const steps = attemptTimes.slice(5).map((time, index) => time - attemptTimes[index + 4]);
  assert.ok(steps.every((step) => step === 15 * minuteMs));
  // About 24 hours of trying, then the callback is marked failed and nothing more is sent.
  assert.equal(attemptTimes.at(-1)! - startMs, 220_000 + 96 * 15 * minuteMs);
  const [record] = await callbacksOf(platform, payment.trans_id);
  assert.equal(record.state, 'failed');
  assert.equal(record.attempts.length, 101);
  assert.equal(record.lastError, 'HTTP 200: ERROR');
  platform.clock.advance(24 * 60 * minuteMs);
  assert.equal((await dispatcher.runOnce()).claimed, 0);
  assert.equal(receiver.received.length, 101);
});

test('5 consecutive failures block the URL for 15 minutes for a second merchant using it too', { timeout: testTimeoutMs }, async (t) => {
  let answer: ReceiverAnswer = 'ERROR';
  const { platform, receiver, dispatcher } = await setup(t, { answer: () => answer });
  const shared = receiver.url('/shared');
  const first = await platform.addMerchant({ callbackUrl: shared });
  const second = await platform.addMerchant({ callbackUrl: shared, email: 'other@shop.test' });
  for (let index = 0; index < 5; index += 1) await sale(platform, first);
  assert.equal((await dispatcher.runOnce()).failed, 5);
  const blockedAtMs = platform.clock.nowMs();
  assert.deepEqual((await listBlockedUrls(platform.context.storage, blockedAtMs, 10)).map((row) => [row.url, row.merchantCount]), [[shared, 2]]);

  // The URL now works, but it is blocked: the second merchant's callback waits too.
  answer = 'OK';
  const secondPayment = await sale(platform, second);
  assert.equal((await dispatcher.runOnce()).claimed, 0);
  platform.clock.advance(15 * minuteMs - 1);
  assert.equal((await dispatcher.runOnce()).claimed, 0);
  assert.equal(receiver.received.length, 5);
  platform.clock.advance(1);
  assert.equal((await dispatcher.runOnce()).delivered, 6);
  assert.equal((await callbacksOf(platform, secondPayment.trans_id))[0].state, 'delivered');
  assert.deepEqual(await listBlockedUrls(platform.context.storage, platform.clock.nowMs(), 10), []);
});

test('a success resets the failure count: 4 failures, a success, 4 failures do not block; the 5th in a row does', { timeout: testTimeoutMs }, async (t) => {
  let answer: ReceiverAnswer = 'ERROR';
  const { platform, receiver, dispatcher } = await setup(t, { answer: () => answer });
  const merchant = await platform.addMerchant({ callbackUrl: receiver.url('/counted') });
  const blockedNow = async () => (await listBlockedUrls(platform.context.storage, platform.clock.nowMs(), 10)).length > 0;
  for (let index = 0; index < 4; index += 1) await sale(platform, merchant);
  assert.equal((await dispatcher.runOnce()).failed, 4);
  answer = 'OK';
  await sale(platform, merchant);
  assert.equal((await dispatcher.runOnce()).delivered, 1);
  answer = 'ERROR';
  for (let index = 0; index < 4; index += 1) await sale(platform, merchant);
  assert.equal((await dispatcher.runOnce()).failed, 4);
  assert.equal(await blockedNow(), false);
  await sale(platform, merchant);
  assert.equal((await dispatcher.runOnce()).failed, 1);
  assert.equal(await blockedNow(), true);
});

test('changing the callback URL lifts the block at once, for every merchant on the old URL', { timeout: testTimeoutMs }, async (t) => {
  let answer: ReceiverAnswer = 'ERROR';
  const { platform, receiver, dispatcher } = await setup(t, { answer: () => answer });
  const oldUrl = receiver.url('/old');
  const first = await platform.addMerchant({ callbackUrl: oldUrl });
  const second = await platform.addMerchant({ callbackUrl: oldUrl, email: 'other@shop.test' });
  const firstPayments = [];
  for (let index = 0; index < 5; index += 1) firstPayments.push(await sale(platform, first));
  await dispatcher.runOnce();
  const secondPayment = await sale(platform, second);
  answer = 'OK';
  assert.equal((await dispatcher.runOnce()).claimed, 0, 'blocked');

  // The operator edits the first merchant's URL; no time passes.
  await updateMerchant(platform.context, first.clientKey, { callbackUrl: receiver.url('/new') });
  const counts = await dispatcher.runOnce();
  assert.equal(counts.delivered, 6);
  assert.deepEqual(await listBlockedUrls(platform.context.storage, platform.clock.nowMs(), 10), []);
  // The first merchant's waiting callbacks go to its new URL, the second merchant's to the old one.
  const pathsOf = (transId: string) => receiver.received.filter((callback) => callback.fields.trans_id === transId).map((callback) => callback.path);
  for (const payment of firstPayments) assert.deepEqual(pathsOf(payment.trans_id), ['/old', '/new']);
  assert.deepEqual(pathsOf(secondPayment.trans_id), ['/old']);
});

test('a later callback of a transaction waits until the earlier one is delivered', { timeout: testTimeoutMs }, async (t) => {
  let failSales = true;
  const { platform, receiver, dispatcher } = await setup(t, {
    answer: (callback) => (failSales && callback.fields.action === 'SALE' ? 'ERROR' : 'OK'),
  });
  const auth = await sale(platform, undefined, { auth: 'Y' });
  await follow(platform, 'CAPTURE', auth.trans_id);
  await follow(platform, 'CREDITVOID', auth.trans_id, { amount: '1.00' });
  assert.deepEqual(await dispatcher.runOnce(), { claimed: 1, delivered: 0, failed: 1, gaveUp: 0, heldBack: 0 });
  platform.clock.advance(5 * secondMs);
  assert.equal((await dispatcher.runOnce()).claimed, 0, 'CAPTURE waits for the SALE callback');
  failSales = false;
  platform.clock.advance(5 * secondMs);
  assert.equal((await dispatcher.runOnce()).delivered, 3);
  assert.deepEqual(receiver.received.map((callback) => callback.fields.action), ['SALE', 'SALE', 'CAPTURE', 'CREDITVOID']);
});

test('two dispatchers racing on one database never deliver a callback twice, and keep each transaction in order', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver } = await setup(t);
  const second = await openStorage({
    databaseUrl: platform.context.storage.dialect === 'postgres' ? process.env.DATABASE_URL : undefined,
    dataDirectory: platform.dataDirectory,
    postgresSchema: platform.postgresSchema,
  });
  const options = { batchSize: 8, maxInFlight: 4, attemptTimeoutMs: 5_000 };
  const one = new CallbackDispatcher(platform.context, options);
  const two = new CallbackDispatcher({ ...platform.context, storage: second }, options);
  t.after(async () => {
    await one.stop();
    await two.stop();
    await second.close();
  });
  const transIds: string[] = [];
  for (let index = 0; index < 60; index += 1) transIds.push((await sale(platform)).trans_id);
  for (let index = 0; index < 20; index += 1) {
    const auth = await sale(platform, undefined, { auth: 'Y' });
    await follow(platform, 'CAPTURE', auth.trans_id);
    transIds.push(auth.trans_id);
  }
  const expectedIds = (await listCallbacks(platform.context.storage, { limit: 1_000 })).map((record) => record.outboxId);
  assert.equal(expectedIds.length, 100);

  const delivered = { one: 0, two: 0 };
  for (let round = 0; round < 10 && delivered.one + delivered.two < 100; round += 1) {
    const [a, b, c, d] = await Promise.all([one.runOnce(), two.runOnce(), one.runOnce(), two.runOnce()]);
    delivered.one += a.delivered + c.delivered;
    delivered.two += b.delivered + d.delivered;
  }
  assert.equal(delivered.one + delivered.two, 100);
  assert.ok(delivered.one > 0 && delivered.two > 0, `both dispatchers worked: ${JSON.stringify(delivered)}`);
  const seen = receiver.received.map((callback) => callback.callbackId);
  assert.equal(seen.length, 100, 'every callback arrived exactly once');
  assert.deepEqual([...seen].sort(), [...expectedIds].sort());
  for (const transId of transIds.slice(60)) {
    const actions = receiver.received.filter((callback) => callback.fields.trans_id === transId).map((callback) => callback.fields.action);
    assert.deepEqual(actions, ['SALE', 'CAPTURE'], transId);
  }
});

test('production mode refuses loopback targets, by IP or by name, with the reason on record', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver } = await setup(t);
  const dispatcher = new CallbackDispatcher(platform.context, { mode: 'production' });
  t.after(() => dispatcher.stop());
  const byIp = await platform.addMerchant({ callbackUrl: receiver.url('/ip') });
  const byName = await platform.addMerchant({ callbackUrl: `http://localhost:${receiver.port}/name` });
  const ipPayment = await sale(platform, byIp);
  const namePayment = await sale(platform, byName);
  await sale(platform); // the default merchant's URL is on 127.0.0.1 as well
  const counts = await dispatcher.runOnce();
  assert.equal(counts.failed, 3);
  assert.equal(receiver.received.length, 0, 'no request left the platform');
  const [ipRecord] = await callbacksOf(platform, ipPayment.trans_id);
  assert.equal(ipRecord.attempts[0].outcome, 'refused');
  assert.equal(ipRecord.attempts[0].response_excerpt, 'refused: 127.0.0.1 is a loopback address (KASSA_MODE=production forbids it)');
  const [nameRecord] = await callbacksOf(platform, namePayment.trans_id);
  assert.equal(nameRecord.attempts[0].outcome, 'refused');
  assert.match(nameRecord.attempts[0].response_excerpt ?? '', /^refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
});

test('a merchant without a callback URL: the callback is written already failed, nothing is sent', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver, dispatcher } = await setup(t);
  const merchant = await platform.addMerchant({ callbackUrl: null });
  const payment = await sale(platform, merchant);
  const [record] = await callbacksOf(platform, payment.trans_id);
  assert.equal(record.state, 'failed', 'failed before any dispatcher run');
  assert.equal(record.lastError, 'the merchant has no callback URL');
  assert.equal(record.attempts.length, 0, 'nothing was attempted');
  assert.deepEqual(await dispatcher.runOnce(), { claimed: 0, delivered: 0, failed: 0, gaveUp: 0, heldBack: 0 });
  assert.equal(receiver.received.length, 0);
});

test('a callback URL removed while callbacks wait: the dispatcher marks them failed in bulk, unsent', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver, dispatcher } = await setup(t);
  const merchant = await platform.addMerchant({ callbackUrl: receiver.url('/cb') });
  const payments = [await sale(platform, merchant), await sale(platform, merchant)];
  await updateMerchant(platform.context, merchant.clientKey, { callbackUrl: null });
  assert.equal((await dispatcher.runOnce()).gaveUp, 2);
  for (const payment of payments) {
    const [record] = await callbacksOf(platform, payment.trans_id);
    assert.equal(record.state, 'failed');
    assert.equal(record.lastError, 'the merchant has no callback URL');
    assert.equal(record.attempts.length, 0);
  }
  assert.equal(receiver.received.length, 0);
});

test('a callback committed by this process is sent at once, not at the next poll', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver } = await setup(t);
  // A poll a minute apart: only the wake-up can deliver within the wait below.
  const dispatcher = new CallbackDispatcher(platform.context, { pollIntervalMs: 60_000, attemptTimeoutMs: 1_000 });
  t.after(() => dispatcher.stop());
  dispatcher.start();
  await new Promise((resolve) => setTimeout(resolve, 100)); // the first, empty run is over
  for (let payment = 1; payment <= 3; payment += 1) {
    const { trans_id: transId } = await sale(platform);
    const arrived = await receiver.waitFor(payment, { timeoutMs: 5_000 });
    assert.equal(arrived[payment - 1].fields.trans_id, transId);
  }
});

test('start() polls and delivers on its own; stop() waits for the attempt in flight', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver } = await setup(t);
  const dispatcher = new CallbackDispatcher(platform.context, { pollIntervalMs: 20, attemptTimeoutMs: 1_000 });
  t.after(() => dispatcher.stop());
  dispatcher.start();
  const first = await sale(platform);
  const [arrived] = await receiver.waitFor(1, { timeoutMs: 5_000 });
  assert.equal(arrived.fields.trans_id, first.trans_id);

  // The next answer never comes; stop() must wait for the attempt to time out and be recorded.
  receiver.answer = () => 'hang';
  const second = await sale(platform);
  await receiver.waitFor(2, { timeoutMs: 5_000 });
  const stopped = dispatcher.stop();
  let stoppedEarly = false;
  void stopped.then(() => { stoppedEarly = true; });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(stoppedEarly, false, 'stop() waits for the attempt in flight');
  await stopped;
  // The hung attempt timed out and was recorded before stop() returned.
  const [record] = await callbacksOf(platform, second.trans_id);
  assert.equal(record.attempts.length, 1);
  assert.equal(record.attempts[0].response_excerpt, 'no answer within 1000 ms');
});

test('a claim held by a node that died is honoured until its lease runs out, then the callback is sent', { timeout: testTimeoutMs }, async (t) => {
  const { platform, receiver, dispatcher } = await setup(t);
  const payment = await sale(platform);
  // Another node claims the row and dies before sending (nothing ever records its attempt).
  const nowMs = platform.clock.nowMs();
  const [claimed] = await claimDueCallbacks(platform.context.storage.db, platform.context.storage.dialect, {
    nowMs, leaseUntilMs: nowMs + dispatcher.leaseMs, claimToken: 'dead-node', limit: 10,
  });
  assert.equal(claimed.transId, payment.trans_id);
  assert.equal((await dispatcher.runOnce()).claimed, 0);
  platform.clock.advance(dispatcher.leaseMs - 1);
  assert.equal((await dispatcher.runOnce()).claimed, 0);
  platform.clock.advance(1);
  assert.equal((await dispatcher.runOnce()).delivered, 1);
  assert.equal(receiver.received.length, 1);
});
