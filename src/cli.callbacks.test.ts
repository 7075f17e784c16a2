import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCallbackReceiver, type CallbackReceiver, type ReceiverAnswer } from './testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from './testing/harness.ts';
import { CallbackDispatcher } from './workers/callback-dispatcher.ts';

/** A hang fails the test by name instead of stalling the whole suite. */
const testTimeoutMs = 90_000;


let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;
let answer: ReceiverAnswer = 'ERROR';
before(async () => {
  receiver = await startCallbackReceiver({ answer: () => answer });
  // The in-process CLI runs on the platform's clock (testNowMs), as its dispatcher does.
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/cli') } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

async function kassa(...args: string[]) {
  return runKassa(platform, ...args);
}
const kassaJson = async (...args: string[]) => JSON.parse((await kassa(...args, '--json')).stdout);

test('list shows each callback with its attempts; blocked shows the URL; unblock lets delivery resume; resend sends again', { timeout: testTimeoutMs }, async () => {
  const transIds: string[] = [];
  for (let index = 0; index < 5; index += 1) transIds.push((await platform.post(saleFields(platform.merchant))).body.trans_id);
  assert.equal((await dispatcher.runOnce()).failed, 5);

  // Blocked after five consecutive failures; unblocking lifts it at once.
  const blocked = await kassaJson('callbacks', 'blocked');
  assert.equal(blocked.length, 1);
  assert.equal(blocked[0].url, receiver.url('/cli'));
  assert.equal(blocked[0].consecutive_failures, 5);
  assert.equal(blocked[0].merchants, 1);
  assert.deepEqual(await kassaJson('callbacks', 'unblock', '--url', receiver.url('/cli')), { url: receiver.url('/cli'), was_blocked: true });
  assert.deepEqual(await kassaJson('callbacks', 'blocked'), []);
  assert.equal((await kassa('callbacks', 'blocked')).stdout, 'no blocked URLs\n');

  const [listed] = await kassaJson('callbacks', 'list', '--trans-id', transIds[0]);
  assert.equal(listed.trans_id, transIds[0]);
  assert.equal(listed.action, 'SALE');
  assert.equal(listed.state, 'pending');
  assert.equal(listed.attempt_count, 1);
  assert.equal(listed.attempts.length, 1);
  assert.equal(listed.attempts[0].status_code, 200);
  assert.equal(listed.attempts[0].answer, 'ERROR');
  assert.equal(listed.attempts[0].outcome, 'failed');
  assert.equal(listed.attempts[0].url, receiver.url('/cli'));
  assert.equal(listed.last_error, 'HTTP 200: ERROR');
  assert.equal((await kassaJson('callbacks', 'list', '--status', 'pending')).length, 5);
  const text = (await kassa('callbacks', 'list', '--trans-id', transIds[0])).stdout;
  assert.match(text, new RegExp(`^${listed.outbox_id}  pending  SALE SUCCESS SETTLED`));
  assert.match(text, /failed {4}200 {2}\d+ ms {2}http:\/\/127\.0\.0\.1:\d+\/cli {2}"ERROR"/);

  // The merchant's endpoint is fixed: everything waiting is delivered.
  answer = 'OK';
  platform.clock.set(Math.max(Date.now(), platform.clock.nowMs()));
  assert.equal((await dispatcher.runOnce()).delivered, 5);
  assert.equal((await kassaJson('callbacks', 'list', '--status', 'delivered')).length, 5);
  assert.deepEqual(await kassaJson('callbacks', 'list', '--status', 'pending'), []);

  // Re-send a delivered callback: it is queued now and arrives a second time.
  const resent = await kassaJson('callbacks', 'resend', '--outbox-id', listed.outbox_id);
  assert.equal(resent.state, 'pending');
  assert.equal(resent.attempts.length, 2, 'the history stays');
  platform.clock.set(Math.max(Date.now(), platform.clock.nowMs()));
  assert.equal((await dispatcher.runOnce()).delivered, 1);
  assert.equal(receiver.received.filter((callback) => callback.callbackId === listed.outbox_id).length, 3);
  const [again] = await kassaJson('callbacks', 'list', '--trans-id', transIds[0]);
  assert.equal(again.state, 'delivered');
  assert.deepEqual(again.attempts.map((attempt: { outcome: string }) => attempt.outcome), ['failed', 'delivered', 'delivered']);
});

test('bad callbacks commands are refused with a readable message and exit code 2', { timeout: testTimeoutMs }, async () => {
  for (const args of [['callbacks', 'list', '--status', 'bogus'], ['callbacks', 'resend'], ['callbacks', 'resend', '--outbox-id', 'nope'],
    ['callbacks', 'unblock'], ['callbacks', 'list', '--limit', 'many'], ['callbacks', 'frobnicate']]) {
    const failure = await kassa(...args).then(() => undefined, (error) => error);
    assert.ok(failure, args.join(' '));
    assert.equal(failure.code, 2, args.join(' '));
    if (args[1] !== 'frobnicate') assert.match(failure.stderr, /^kassa: --|^kassa: no callback/);
    assert.ok(!failure.stderr.includes('    at '), 'no stack trace');
  }
});
