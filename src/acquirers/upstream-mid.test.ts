import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { startUpstreamKassa, type UpstreamKassa } from '../testing/upstream-process.ts';

// A MID of connector type upstream-s2s-card, configured with the CLI, takes a merchant's SALE to
// a second, real Kassa process; its PASSWORD is stored encrypted and never printed.
let upstream: UpstreamKassa;
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
