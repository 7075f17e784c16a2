import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { startUpstreamKassa, type UpstreamKassa } from '../testing/upstream-process.ts';

// A MID of connector type upstream-s2s-card, configured with the CLI, takes a merchant's SALE to
// a second, real Kassa process; its PASSWORD is stored encrypted and never printed.
let upstream: UpstreamKassa;

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}
let platform: TestPlatform;

before(async () => {
  upstream = await startUpstreamKassa();
  platform = await startTestPlatform();
});
after(async () => {
  await platform?.close();
  await upstream?.close();
});

test("a SALE routed to an upstream MID is the upstream's payment; the PASSWORD is never printed", {
  timeout: 120_000,
}, async () => {
  await runKassa(
    platform,
    'routing',
    'mid',
    'create',
    '--name',
    'upstream-psp',
    '--connector',
    'upstream-s2s-card',
    '--setting',
    `baseUrl=${upstream.url}`,
    '--setting',
    `clientKey=${upstream.clientKey}`,
    '--setting',
    'answerTimeoutMs=10000',
    '--secret',
    `password=${upstream.password}`,
  );
  await runKassa(
    platform,
    'routing',
    'mapping',
    'set',
    '--client-key',
    platform.merchant.clientKey,
    '--mids',
    'upstream-psp',
  );
  const listed = await runKassa(platform, 'routing', 'mid', 'list', '--json');
  assert.ok(!listed.stdout.includes(upstream.password), 'the PASSWORD is not printed');
  assert.match(listed.stdout, /upstream-psp/);

  const fields = saleFields(platform.merchant, { order_amount: '12.50', card_exp_year: '2038' });
  const sale = (await platform.post(fields)).body;
  assert.equal(sale.result, 'SUCCESS', JSON.stringify(sale));
  assert.equal(sale.status, 'SETTLED');
  const status = (await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', sale.trans_id))).body;
  assert.equal(status.status, 'SETTLED');

  const declined = (await platform.post(saleFields(platform.merchant, { card_exp_month: '02', card_exp_year: '2038' })))
    .body;
  assert.equal(declined.result, 'DECLINED', JSON.stringify(declined));
  assert.ok(declined.decline_reason, "the upstream's reason is passed on");
});

test('an upstream MID that is down: its declines cascade, then its open circuit is passed over without a try', {
  timeout: 60_000,
}, async () => {
  const shop = await platform.addMerchant();
  await runKassa(platform, 'routing', 'mid', 'create', '--name', 'down-psp', '--connector', 'upstream-s2s-card',
    '--setting', `baseUrl=${await closedPortUrl()}`, '--setting', 'clientKey=nobody',
    '--setting', 'breakerFailures=2', '--setting', 'breakerOpenMs=60000', '--secret', 'password=x');
  await runKassa(platform, 'routing', 'mid', 'create', '--name', 'engine', '--connector', 'test-engine');
  await runKassa(platform, 'routing', 'mapping', 'set', '--client-key', shop.clientKey, '--mids', 'down-psp,engine');
  // The upstream is down: nothing listens. Each refused connection is a technical decline, which
  // the default rule cascades to the next MID (ADR 0053); two of them open the MID's circuit.
  const details = async (transId: string) =>
    (await platform.post(transactionFields(shop, 'GET_TRANS_DETAILS', transId))).body;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const cascaded = (await platform.post(saleFields(shop))).body;
    assert.equal(cascaded.result, 'SUCCESS', JSON.stringify(cascaded));
    const { cascade } = await details(cascaded.trans_id);
    assert.deepEqual(cascade.map((step: { status: string }) => step.status), ['DECLINED', 'SETTLED']);
  }
  // Open circuit: the down MID is passed over without a request, so there is no cascade at all.
  const passedOver = (await platform.post(saleFields(shop))).body;
  assert.equal(passedOver.result, 'SUCCESS', `the next MID took it: ${JSON.stringify(passedOver)}`);
  assert.equal(passedOver.status, 'SETTLED');
  assert.equal((await details(passedOver.trans_id)).cascade, undefined, 'one attempt only');
});
