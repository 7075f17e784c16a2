import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsoleAccount } from '../testing/console.ts';
import { signedInClient, type ConsoleClient } from '../testing/console-inject.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

let platform: TestPlatform;
let ownTransId: string;
let otherTransId: string;
let otherMerchant: { clientKey: string; password: string; merchantId: string };

before(async () => {
  platform = await startTestPlatform();
  otherMerchant = await platform.addMerchant({ email: 'other@shop.test', descriptor: 'OTHER' });
  ownTransId = (await platform.post(saleFields(platform.merchant, { order_id: 'OWN-1' }))).body.trans_id;
  otherTransId = (await platform.post(saleFields(otherMerchant, { order_id: 'OTHER-1' }))).body.trans_id;
});
after(() => platform?.close());

async function outboxIdOf(transId: string): Promise<string> {
  const { stdout } = await runKassa(platform, 'callbacks', 'list', '--trans-id', transId, '--json');
  return JSON.parse(stdout)[0].outbox_id;
}

/** Every change the console offers, as a form post. */
async function everyAction(transId: string): Promise<[string, Record<string, string>][]> {
  const clientKey = platform.merchant.clientKey;
  return [
    [`/console/payments/${transId}/refund`, { amount: '0.50' }],
    [`/console/payments/${transId}/capture`, {}],
    [`/console/payments/${transId}/void`, {}],
    [`/console/callbacks/${await outboxIdOf(transId)}/resend`, {}],
    ['/console/merchants', { email: 'new@shop.test', descriptor: 'NEW' }],
    [`/console/merchants/${clientKey}`, { email: 'changed@shop.test', descriptor: 'CHANGED' }],
    [`/console/merchants/${clientKey}/rotate-password`, {}],
    ['/console/blocked-urls/unblock', { url: 'http://127.0.0.1:9/cb' }],
    ['/console/lockouts/lift', { client_key: clientKey, ip: '127.0.0.1' }],
    ['/console/refund-applications/01a00000-0000-7000-8000-000000000000/decide', { decision: 'approve' }],
    ['/console/clock/advance', { duration: '1d' }],
    [`/console/payments/${transId}/chargeback`, { reason_code: '4837' }],
    [`/console/payments/${transId}/expire-challenge`, {}],
    [`/console/merchants/${clientKey}/enabled`, { enabled: 'off' }],
    [`/console/merchants/${clientKey}/users`, { email: 'sneaky@shop.test' }],
    ['/console/schedules/01a00000-0000-7000-8000-000000000000/delete', { merchant_id: platform.merchant.merchantId }],
    ['/console/routing/mids/default-test-engine/enabled', { enabled: 'off' }],
  ];
}

async function snapshot() {
  const merchants = (await runKassa(platform, 'merchant', 'list', '--json')).stdout;
  const payment = await platform.context.storage.db
    .selectFrom('payments')
    .selectAll()
    .where('trans_id', '=', ownTransId)
    .executeTakeFirstOrThrow();
  const callbacks = (await runKassa(platform, 'callbacks', 'list', '--json')).stdout;
  const clock = (await runKassa(platform, 'clock', 'show', '--json')).stdout;
  const routing = (await runKassa(platform, 'routing', 'export')).stdout;
  return JSON.stringify({ merchants, payment, callbacks, clock, routing });
}

test('a viewer can read every page and change nothing: every action answers 403', async () => {
  const viewer = await createConsoleAccount(platform, 'viewer@kassa.test', 'viewer');
  const client = await signedInClient(platform, viewer);
  for (const path of [
    '/console/start',
    '/console/payments',
    `/console/payments/${ownTransId}`,
    '/console/merchants',
    '/console/blocked-urls',
    '/console/lockouts',
    '/console/chargebacks',
    '/console/refund-applications',
    '/console/schedules',
  ]) {
    assert.equal((await client.get(path)).statusCode, 200, path);
  }
  const page = (await client.get(`/console/payments/${ownTransId}`)).body;
  assert.doesNotMatch(page, /<button[^>]*>(Refund|Void|Capture|Resend)</, 'no action is offered');
  const before = await snapshot();
  for (const [path, fields] of await everyAction(ownTransId)) {
    const answer = await client.post(path, fields);
    assert.equal(answer.statusCode, 403, `${path} answered ${answer.statusCode}`);
  }
  assert.equal(await snapshot(), before, 'nothing changed');
  for (const path of ['/console/audit', '/console/clock']) assert.equal((await client.get(path)).statusCode, 403, path);
});

test('support may refund and resend but not edit merchants or move the clock', async () => {
  const support = await createConsoleAccount(platform, 'support@kassa.test', 'support');
  const client = await signedInClient(platform, support);
  await client.get(`/console/payments/${ownTransId}`);
  assert.equal((await client.post(`/console/payments/${ownTransId}/refund`, { amount: '0.10' })).statusCode, 303);
  assert.equal((await client.post(`/console/payments/${ownTransId}/void`, {})).statusCode, 403);
  assert.equal(
    (await client.post(`/console/merchants/${platform.merchant.clientKey}/rotate-password`, {})).statusCode,
    403,
  );
  assert.equal((await client.post('/console/clock/advance', { duration: '1d' })).statusCode, 403);
});

async function merchantUser(): Promise<ConsoleClient> {
  const account = await createConsoleAccount(
    platform,
    `merchant-${Date.now()}@shop.test`,
    'merchant',
    platform.merchant.clientKey,
  );
  return signedInClient(platform, account);
}

test("a merchant user sees only its merchant: not another merchant's payment by id, nor by search", async () => {
  const client = await merchantUser();
  assert.equal((await client.get(`/console/payments/${ownTransId}`)).statusCode, 200);
  assert.equal((await client.get(`/console/payments/${otherTransId}`)).statusCode, 404);
  const all = (await client.get('/console/payments')).body;
  assert.match(all, /OWN-1/);
  assert.doesNotMatch(all, /OTHER-1/);
  const searched = (await client.get(`/console/payments?trans_id=${otherTransId}&merchant=${otherMerchant.clientKey}`))
    .body;
  assert.doesNotMatch(searched, /OTHER-1/);
  await client.get(`/console/payments/${ownTransId}`);
  const before = await platform.context.storage.db
    .selectFrom('outbox')
    .select(['outbox_id', 'next_attempt_at_ms', 'attempt_count'])
    .where('trans_id', '=', otherTransId)
    .execute();
  assert.equal((await client.post(`/console/callbacks/${await outboxIdOf(otherTransId)}/resend`, {})).statusCode, 404);
  assert.equal((await client.post(`/console/payments/${otherTransId}/refund`, { amount: '0.10' })).statusCode, 403);
  const afterwards = await platform.context.storage.db
    .selectFrom('outbox')
    .select(['outbox_id', 'next_attempt_at_ms', 'attempt_count'])
    .where('trans_id', '=', otherTransId)
    .execute();
  assert.deepEqual(afterwards, before);
  for (const path of [
    '/console/merchants',
    `/console/merchants/${otherMerchant.clientKey}`,
    '/console/blocked-urls',
    '/console/audit',
  ]) {
    assert.ok([403, 404].includes((await client.get(path)).statusCode), path);
  }
});

test('a merchant user explains a signature: formula, masked string, expected and given hash', async () => {
  const client = await merchantUser();
  await client.get('/console/signature');
  const request = saleFields(platform.merchant, { hash: '0123456789abcdef0123456789abcdef' });
  const answer = await client.post('/console/signature', { request: new URLSearchParams(request).toString() });
  assert.equal(answer.statusCode, 200);
  assert.match(answer.body, /Formula 1/);
  assert.match(answer.body, /MOC.ELPMAXE@EOD\{PASSWORD\}1111111114/);
  assert.match(answer.body, /0123456789abcdef0123456789abcdef/);
  assert.match(answer.body, /The hashes differ/);
  assert.ok(!answer.body.includes(platform.merchant.password), 'the PASSWORD is masked');
  assert.ok(!answer.body.includes('4111111111111111'), 'the card number is masked');
  const right = await client.post('/console/signature', {
    request: new URLSearchParams(saleFields(platform.merchant)).toString(),
  });
  assert.match(right.body, /The hashes match/);
  const foreign = await client.post('/console/signature', {
    request: new URLSearchParams(saleFields(otherMerchant)).toString(),
  });
  assert.equal(foreign.statusCode, 400);
  assert.match(foreign.body, /not your merchant/);
});
