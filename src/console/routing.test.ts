import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsoleAccount } from '../testing/console.ts';
import { signedInClient, type ConsoleClient } from '../testing/console-inject.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

/** The console's routing pages (docs/adr/0086): what they show is what `kassa routing` says,
 * credentials never show, only an administrator changes anything, merchant users see none. */

let platform: TestPlatform;
let administrator: ConsoleClient;
const upstreamPassword = 'upstream-PASSWORD-never-shown';
const plainToken = 'token-typed-as-a-plain-setting';

const kassa = (...args: string[]) => runKassa(platform, ...args, '--actor', 'ops@psp.test');
const routingPaths = [
  '/console/routing',
  '/console/routing/mids/console-visa',
  '/console/routing/mids/console-upstream',
  '/console/routing/mappings',
  '/console/routing/limits',
  '/console/routing/rates',
  '/console/routing/explain',
];

before(async () => {
  platform = await startTestPlatform();
  await kassa('routing', 'mid', 'create', '--name', 'console-amex', '--brands', 'AMEX');
  await kassa('routing', 'mid', 'create', '--name', 'console-visa', '--brands', 'VISA,MASTERCARD');
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'console-visa',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '10.00',
  );
  await kassa(
    'routing',
    'mid',
    'create',
    '--name',
    'console-upstream',
    '--connector',
    'upstream-s2s-card',
    '--setting',
    'baseUrl=http://127.0.0.1:9/post',
    '--setting',
    'clientKey=upstream-client-key',
    '--setting',
    `apiToken=${plainToken}`,
    '--secret',
    `password=${upstreamPassword}`,
    '--enabled',
    'no',
  );
  await kassa(
    'routing',
    'mapping',
    'set',
    '--client-key',
    platform.merchant.clientKey,
    '--mids',
    'console-amex,console-visa,console-upstream',
  );
  await kassa(
    'routing',
    'limit',
    'set',
    '--client-key',
    platform.merchant.clientKey,
    '--window',
    'month',
    '--currency',
    'USD',
    '--amount',
    '100.00',
  );
  await kassa('routing', 'rates', 'set', '--from', 'USD', '--to', 'EUR', '--rate', '0.923456');
  const sale = await platform.post(saleFields(platform.merchant, { order_amount: '2.50' }));
  assert.equal(sale.body.status, 'SETTLED', JSON.stringify(sale.body));
  administrator = await signedInClient(
    platform,
    await createConsoleAccount(platform, 'routing-admin@kassa.test', 'administrator'),
  );
});
after(() => platform?.close());

test('MIDs: each with its connector, state and circuit; a MID page masks every credential', async () => {
  const list = await administrator.get('/console/routing');
  assert.equal(list.statusCode, 200);
  for (const name of ['console-amex', 'console-visa', 'console-upstream']) assert.match(list.body, new RegExp(name));
  assert.match(list.body, /upstream-s2s-card/);
  assert.match(list.body, /href="\/console\/routing"[^>]*>Routing</, 'the navigation leads here');
  const upstream = await administrator.get('/console/routing/mids/console-upstream');
  assert.equal(upstream.statusCode, 200);
  assert.match(upstream.body, /upstream-client-key/, 'plain settings are shown');
  assert.match(upstream.body, /apiToken<\/dt><dd class="mono">\(hidden\)/);
  assert.match(upstream.body, /stored encrypted; never shown/);
  for (const path of routingPaths) {
    const body = (await administrator.get(path)).body;
    assert.ok(!body.includes(upstreamPassword), `${path} shows the MID's PASSWORD`);
    assert.ok(!body.includes(plainToken), `${path} shows a credential-like setting`);
  }
  const visa = (await administrator.get('/console/routing/mids/console-visa')).body;
  assert.match(visa, /not known yet|no circuit breaker/);
  assert.match(visa, new RegExp(`${platform.merchant.clientKey}</a> \\(2\\)`), 'listed second in the mapping');
  assert.equal((await administrator.get('/console/routing/mids/no-such-mid')).statusCode, 404);
});

test('limits show used and headroom in the current window, as routing counts them', async () => {
  const limits = (await administrator.get('/console/routing/limits')).body;
  assert.match(limits, /10\.00 USD<\/td><td>2\.50 USD \(25 %\)<\/td>\s*<td>7\.50 USD<\/td>/);
  assert.match(limits, /100\.00 USD<\/td><td>2\.50 USD \(2 %\)<\/td>\s*<td>97\.50 USD<\/td>/);
  const { stdout } = await kassa(
    'routing',
    'explain',
    '--client-key',
    platform.merchant.clientKey,
    '--card-bin',
    '411111',
    '--currency',
    'USD',
    '--amount',
    '1.00',
  );
  assert.match(stdout, /used 2\.50 USD, headroom 7\.50 USD/, 'the CLI counts the same');
  const mappings = (await administrator.get('/console/routing/mappings')).body;
  assert.match(mappings, /console-amex<\/a> → <a[^>]*>console-visa<\/a> → <a[^>]*>console-upstream<\/a> \(off\)/);
  assert.match(mappings, /on do-not-honor; every MID/);
  const rates = (await administrator.get('/console/routing/rates')).body;
  assert.match(rates, /<td>USD<\/td><td>EUR<\/td><td class="mono">0\.923456<\/td>/);
});

test("the routing explanation is the CLI's, verdict for verdict", async () => {
  const answer = await administrator.post('/console/routing/explain', {
    client_key: platform.merchant.clientKey,
    card_bin: '411111',
    currency: 'USD',
    amount: '1.00',
    action: 'SALE',
  });
  assert.equal(answer.statusCode, 200);
  assert.match(answer.body, /Chosen: console-visa/);
  const { stdout } = await kassa(
    'routing',
    'explain',
    '--client-key',
    platform.merchant.clientKey,
    '--card-bin',
    '411111',
    '--currency',
    'USD',
    '--amount',
    '1.00',
    '--json',
  );
  const cli = JSON.parse(stdout);
  for (const mid of cli.mids) {
    assert.ok(answer.body.includes(`${mid.name}</a></td><td>${mid.verdict}</td>`), `${mid.name}: ${mid.verdict}`);
    for (const limit of mid.limits) assert.ok(answer.body.includes(limit), limit);
  }
  const over = await administrator.post('/console/routing/explain', {
    client_key: platform.merchant.clientKey,
    brand: 'VISA',
    currency: 'USD',
    amount: '8.00',
  });
  assert.match(over.body, /Refused: 204007/, 'over the day limit of the only VISA MID');
});

test('bad input is answered beside each field, and a card number typed as BIN never shows', async () => {
  const answer = await administrator.post('/console/routing/explain', {
    client_key: '',
    card_bin: '4111111111111111',
    currency: 'QQQ',
    amount: 'ten',
    action: 'REFUND',
    at: 'yesterday',
  });
  assert.equal(answer.statusCode, 400);
  assert.ok(!answer.body.includes('4111111111111111'), 'the card number is not echoed');
  assert.match(answer.body, /value="41111111"/, 'at most 8 digits are shown back');
  for (const name of ['client_key', 'card_bin', 'currency', 'action', 'at']) {
    assert.match(answer.body, new RegExp(`id="field-${name}"[^>]*aria-invalid="true"`), name);
    assert.match(answer.body, new RegExp(`<p class="field-error" id="field-${name}-error">`), name);
  }
  const unknown = await administrator.post('/console/routing/explain', {
    client_key: 'not-a-merchant',
    brand: 'VISA',
    currency: 'USD',
    amount: '1.00',
  });
  assert.equal(unknown.statusCode, 400);
  assert.match(unknown.body, /id="field-client_key-error">no merchant has the client_key not-a-merchant/);
});

test('no routing page answers 500 to junk in the path, the query or the form', async () => {
  const junk = '?done[]=on&lang[x]=1&client_key[$gt]=&x=%ff%fe&enabled=<script>';
  for (const path of [
    ...routingPaths,
    '/console/routing/mids/..%2f..',
    `/console/routing/mids/${'a'.repeat(500)}`,
    '/console/routing/mids/%E2%80%AE',
    '/console/routing/nothing',
  ]) {
    const answer = await administrator.get(`${path}${junk}`);
    // 414: Fastify's own answer to a path parameter past its 100 characters.
    assert.ok([200, 404, 414].includes(answer.statusCode), `${path}: ${answer.statusCode}`);
  }
  const junkForms: Record<string, string>[] = [
    { amount: '1e309', currency: 'USD', brand: 'VISA', client_key: platform.merchant.clientKey },
    { at: '9'.repeat(400), card_bin: '<b>', brand: "' OR 1=1 --" },
    { auth: 'on', action: 'sale' },
  ];
  for (const fields of junkForms) {
    const answer = await administrator.post('/console/routing/explain', fields);
    assert.ok([200, 400].includes(answer.statusCode), `${JSON.stringify(fields)}: ${answer.statusCode}`);
    assert.ok(!answer.body.includes('<b>'), 'escaped');
  }
  assert.equal(
    (await administrator.post('/console/routing/mids/no-such-mid/enabled', { enabled: 'off' })).statusCode,
    404,
  );
});

async function midStates(): Promise<string> {
  const { stdout } = await kassa('routing', 'mid', 'list', '--json');
  return JSON.stringify(JSON.parse(stdout).map((mid: { name: string; enabled: boolean }) => [mid.name, mid.enabled]));
}

test('viewer and support read every routing page and can change nothing', async () => {
  for (const role of ['viewer', 'support']) {
    const client = await signedInClient(
      platform,
      await createConsoleAccount(platform, `routing-${role}@kassa.test`, role),
    );
    for (const path of routingPaths) assert.equal((await client.get(path)).statusCode, 200, `${role} ${path}`);
    const page = (await client.get('/console/routing/mids/console-visa')).body;
    assert.doesNotMatch(page, /<button[^>]*>(Disable|Enable)/, `${role} is offered no switch`);
    const before = await midStates();
    for (const enabled of ['off', 'on']) {
      const answer = await client.post('/console/routing/mids/console-visa/enabled', { enabled });
      assert.equal(answer.statusCode, 403, `${role} ${enabled}`);
    }
    assert.equal(await midStates(), before, `${role} changed nothing`);
  }
});

test('a merchant user gets no routing page, no routing link and no explanation', async () => {
  const client = await signedInClient(
    platform,
    await createConsoleAccount(platform, 'routing-merchant@shop.test', 'merchant', platform.merchant.clientKey),
  );
  assert.doesNotMatch((await client.get('/console/start')).body, /\/console\/routing/);
  for (const path of routingPaths) assert.equal((await client.get(path)).statusCode, 404, path);
  const explained = await client.post('/console/routing/explain', {
    client_key: platform.merchant.clientKey,
    brand: 'VISA',
    currency: 'USD',
    amount: '1.00',
  });
  assert.equal(explained.statusCode, 404);
  assert.doesNotMatch(explained.body, /console-visa/);
  const before = await midStates();
  assert.equal((await client.post('/console/routing/mids/console-visa/enabled', { enabled: 'off' })).statusCode, 403);
  assert.equal(await midStates(), before);
});

test('an administrator switches a MID off and on: CSRF-checked, through routing, audited', async () => {
  const before = await midStates();
  const forged = await administrator.post(
    '/console/routing/mids/console-visa/enabled',
    { enabled: 'off' },
    {
      withCsrf: false,
    },
  );
  assert.equal(forged.statusCode, 403);
  assert.equal(await midStates(), before, 'a form without the token changes nothing');
  await administrator.get('/console/routing/mids/console-visa');
  const off = await administrator.post('/console/routing/mids/console-visa/enabled', { enabled: 'off' });
  assert.equal(off.statusCode, 303);
  assert.match(String(off.headers.location), /done=off$/);
  assert.match((await administrator.get(String(off.headers.location))).body, /The MID is off/);
  const sale = await platform.post(saleFields(platform.merchant, { order_amount: '1.00' }));
  assert.notEqual(sale.body.status, 'SETTLED', 'routing passes the disabled MID over');
  const { stdout: history } = await kassa('routing', 'history', '--limit', '1');
  assert.match(history, /console:routing-admin@kassa\.test {2}mid disable console-visa/);
  const { stdout: audit } = await runKassa(platform, 'audit', 'list', '--json');
  const entry = JSON.parse(audit).find((each: { action: string }) => each.action === 'MID disabled');
  assert.equal(entry?.target, 'console-visa');
  assert.equal(entry?.actor, 'routing-admin@kassa.test');
  await administrator.get('/console/routing/mids/console-visa');
  assert.equal(
    (await administrator.post('/console/routing/mids/console-visa/enabled', { enabled: 'on' })).statusCode,
    303,
  );
  assert.equal(await midStates(), before, 'on again');
  assert.equal((await platform.post(saleFields(platform.merchant, { order_amount: '1.00' }))).body.status, 'SETTLED');
});

test("a MID whose circuit opened is shown open: this node's breaker, as routing sees it", async () => {
  const merchant = await platform.addMerchant({ email: 'circuit@shop.test', descriptor: 'CIRCUIT' });
  await kassa(
    'routing',
    'mid',
    'create',
    '--name',
    'console-dead',
    '--connector',
    'upstream-s2s-card',
    '--setting',
    'baseUrl=http://127.0.0.1:9/post',
    '--setting',
    'clientKey=dead-client-key',
    '--setting',
    'breakerFailures=1',
    '--secret',
    'password=dead-password',
  );
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'console-dead');
  const before = (await administrator.get('/console/routing/mids/console-dead')).body;
  assert.match(before, /not known yet/, 'no payment has built its connector yet');
  const sale = await platform.post(saleFields(merchant, { order_amount: '1.00' }));
  assert.notEqual(sale.body.status, 'SETTLED', 'the upstream cannot be reached');
  const after = (await administrator.get('/console/routing/mids/console-dead')).body;
  assert.match(after, /<dt>Circuit<\/dt><dd>open: passed over<\/dd>/);
});
