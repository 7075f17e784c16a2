import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KassaClient } from '@kassa/sdk';
import { protocolErrors } from '../protocol/errors.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { cardHashPart, saleHash } from '../protocol/hash.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

/** RETRY (5.6.x, docs/adr/0076): a declined RECURRING_SALE charged again, black-box. */
const email = 'doe@example.com';
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  await runKassa(
    platform,
    'routing',
    'mid',
    'create',
    '--name',
    'soft-declines',
    '--setting',
    'declineEverything=true',
  );
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const useMid = (name: string) =>
  runKassa(platform, 'routing', 'mapping', 'set', '--client-key', platform.merchant.clientKey, '--mids', name);
const post = async (fields: Record<string, string>) => (await platform.post(fields)).body;

async function declinedRecurringSale(extra: Record<string, string> = {}) {
  const first = await post(saleFields(platform.merchant, { recurring_init: 'Y', order_amount: '10.00' }));
  await useMid('soft-declines');
  const declined = await post({
    action: 'RECURRING_SALE',
    client_key: platform.merchant.clientKey,
    order_id: `REC-${Math.random().toString(36).slice(2)}`,
    order_amount: '4.99',
    order_description: 'Monthly plan',
    recurring_first_trans_id: first.trans_id,
    recurring_token: first.recurring_token,
    ...extra,
    hash: saleHash({ email, password: platform.merchant.password, cardDigits: cardHashPart('4111111111111111') }),
  });
  await useMid('default-test-engine');
  return declined;
}

test('RETRY of a declined RECURRING_SALE charges the card again: a new payment, same order, RECURRING_SALE callbacks', {
  timeout: 60_000,
}, async () => {
  const declined = await declinedRecurringSale({
    callback_url: receiver.url('/this-plan'),
    'custom_data[plan]': 'gold',
  });
  assert.equal(declined.status, 'DECLINED');
  const retried = await post(transactionFields(platform.merchant, 'RETRY', declined.trans_id));
  assert.equal(retried.action, 'RECURRING_SALE');
  assert.equal(retried.result, 'SUCCESS', JSON.stringify(retried));
  assert.equal(retried.status, 'SETTLED');
  assert.equal(retried.order_id, declined.order_id);
  assert.equal(retried.amount, '4.99');
  assert.notEqual(retried.trans_id, declined.trans_id);
  // The declined payment stays what it was; the order's latest payment is the retry.
  assert.equal(
    (await post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', declined.trans_id))).status,
    'DECLINED',
  );

  await dispatcher.runOnce();
  const callback = receiver.received.find((received) => received.fields.trans_id === retried.trans_id)!;
  assert.equal(callback.path, '/this-plan');
  assert.deepEqual(
    [callback.fields.action, callback.fields.status, callback.fields.custom_data],
    ['RECURRING_SALE', 'SETTLED', { plan: 'gold' }],
  );
  assert.equal(verifyCallback(callback.fields, { password: platform.merchant.password, email }), true);

  // The same RETRY again is a replay; a retry of a payment that is not a declined recurring one is refused.
  assert.equal(
    (await post(transactionFields(platform.merchant, 'RETRY', declined.trans_id))).error_message,
    'Duplicate request.',
  );
  const refused = await post(transactionFields(platform.merchant, 'RETRY', retried.trans_id));
  assert.deepEqual(
    [refused.error_code, refused.error_message],
    [protocolErrors.retryNotAllowed.code, 'Only a declined recurring payment can be retried.'],
  );
});

test('RETRY is signed with Formula 2 (the SDK computes it); a wrong hash is 900003', { timeout: 60_000 }, async () => {
  const declined = await declinedRecurringSale();
  const wrong = await post({
    ...transactionFields(platform.merchant, 'RETRY', declined.trans_id),
    hash: 'f'.repeat(32),
  });
  assert.equal(wrong.error_code, 900003);
  // The SDK's client, its requests handed to the platform in-process.
  const viaApp: typeof fetch = async (_url, init) => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/post',
      remoteAddress: '127.0.0.1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: String(init?.body),
    });
    return new Response(response.body, { status: response.statusCode });
  };
  const client = new KassaClient({
    url: 'http://kassa.test/post',
    clientKey: platform.merchant.clientKey,
    password: platform.merchant.password,
    fetch: viaApp,
  });
  const answer = await client.retry({ trans_id: declined.trans_id }, { email, card: '4111111111111111' });
  assert.equal(answer.result, 'SUCCESS', JSON.stringify(answer));
});
