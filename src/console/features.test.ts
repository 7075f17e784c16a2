import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createScheduleHash, scheduleHash } from '../protocol/hash.ts';
import { createConsoleAccount } from '../testing/console.ts';
import { signedInClient, type ConsoleClient } from '../testing/console-inject.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

let platform: TestPlatform;
let client: ConsoleClient;

before(async () => {
  platform = await startTestPlatform();
  client = await signedInClient(platform, await createConsoleAccount(platform, 'features@kassa.test', 'administrator'));
});
after(() => platform?.close());

async function auditActions(): Promise<string[]> {
  return (JSON.parse((await runKassa(platform, 'audit', 'list', '--json')).stdout) as { action: string }[]).map(
    (row) => row.action,
  );
}

test('sandbox: an administrator charges a payment back from its page; the merchant gets the callback', async () => {
  const { trans_id: transId } = (await platform.post(saleFields(platform.merchant, { order_amount: '10.00' }))).body;
  await client.get(`/console/payments/${transId}`);
  const refused = await client.post(`/console/payments/${transId}/chargeback`, {
    reason_code: '4837',
    amount: '99.00',
  });
  assert.equal(refused.statusCode, 422);
  assert.match(refused.body, /Not done/);
  const answer = await client.post(`/console/payments/${transId}/chargeback`, { reason_code: '4837', amount: '10.00' });
  assert.equal(answer.statusCode, 303);
  const page = (await client.get(`/console/payments/${transId}?done=chargedBack`)).body;
  assert.match(page, /Chargeback recorded/);
  assert.match(page, /<dd>CHARGEBACK<\/dd>/);
  assert.match(page, /CHARGEBACK SUCCESS CHARGEBACK/, 'the callback is queued');
  assert.ok((await auditActions()).includes('sandbox chargeback'));
});

test('disabling a merchant makes its API requests answer 204002; enabling lets them through again', async () => {
  const merchant = await platform.addMerchant({ email: 'toggle@shop.test' });
  await client.get(`/console/merchants/${merchant.clientKey}`);
  assert.equal(
    (await client.post(`/console/merchants/${merchant.clientKey}/enabled`, { enabled: 'off' })).statusCode,
    303,
  );
  assert.equal((await platform.post(saleFields(merchant))).body.error_code, 204002);
  assert.match((await client.get(`/console/merchants/${merchant.clientKey}`)).body, /Disabled: every API request/);
  await client.post(`/console/merchants/${merchant.clientKey}/enabled`, { enabled: 'on' });
  assert.equal((await platform.post(saleFields(merchant))).body.result, 'SUCCESS');
  const actions = await auditActions();
  assert.ok(actions.includes('merchant disabled') && actions.includes('merchant enabled'));
});

test('an operator creates a merchant user on the merchant page; it signs in and sees that merchant only', async () => {
  await client.get(`/console/merchants/${platform.merchant.clientKey}`);
  const bad = await client.post(`/console/merchants/${platform.merchant.clientKey}/users`, { email: 'not an address' });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.body, /id="field-user-email-error"[^>]*>not an e-mail address/);
  const created = await client.post(`/console/merchants/${platform.merchant.clientKey}/users`, {
    email: 'dev@shop.test',
  });
  const password = /<p class="secret">([^<]+)<\/p>/.exec(created.body)?.[1];
  assert.ok(password, 'the password is shown once');
  const merchantClient = await signedInClient(platform, { email: 'dev@shop.test', password });
  assert.match((await merchantClient.get('/console/credentials')).body, new RegExp(platform.merchant.clientKey));
  assert.equal((await merchantClient.get('/console/merchants')).statusCode, 404);
});

test('schedules: paused, run and deleted from the console through the operations the API runs', async () => {
  const { schedule_id: scheduleId } = (
    await platform.post({
      action: 'CREATE_SCHEDULE',
      client_key: platform.merchant.clientKey,
      name: 'Gym',
      interval_length: '1',
      interval_unit: 'month',
      payments_count: '6',
      hash: createScheduleHash(platform.merchant.password),
    })
  ).body;
  assert.ok(scheduleId);
  const info = async () =>
    (
      await platform.post({
        action: 'SCHEDULE_INFO',
        client_key: platform.merchant.clientKey,
        schedule_id: scheduleId,
        hash: scheduleHash(scheduleId, platform.merchant.password),
      })
    ).body;
  const list = await client.get('/console/schedules');
  assert.match(list.body, /Gym/);
  const merchantId = platform.merchant.merchantId;
  assert.equal(
    (await client.post(`/console/schedules/${scheduleId}/pause`, { merchant_id: merchantId })).statusCode,
    303,
  );
  assert.equal((await info()).paused, 'Y');
  const again = await client.post(`/console/schedules/${scheduleId}/pause`, { merchant_id: merchantId });
  assert.match(
    decodeURIComponent(String(again.headers.location)),
    /problem=/,
    'pausing twice is refused as the API refuses it',
  );
  await client.post(`/console/schedules/${scheduleId}/run`, { merchant_id: merchantId });
  assert.equal((await info()).paused, 'N');
  await client.post(`/console/schedules/${scheduleId}/delete`, { merchant_id: merchantId });
  assert.equal((await info()).result, 'ERROR');
  assert.doesNotMatch((await client.get('/console/schedules')).body, /Gym/);
  const actions = await auditActions();
  assert.ok(['schedule pause', 'schedule run', 'schedule delete'].every((action) => actions.includes(action)));
});

test("sandbox: an administrator times out a payment's 3-D Secure step; it is declined as abandoned", async () => {
  const merchant = await platform.addMerchant({ threeDsEnabled: true, email: 'threeds@shop.test' });
  const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05' }))).body;
  assert.equal(sale.status, '3DS');
  const page = (await client.get(`/console/payments/${sale.trans_id}`)).body;
  assert.match(page, /Time out 3-D Secure \(sandbox\)/);
  const answer = await client.post(`/console/payments/${sale.trans_id}/expire-challenge`, {});
  assert.equal(answer.headers.location, `/console/payments/${sale.trans_id}?done=challengeExpired`);
  const after = (await client.get(String(answer.headers.location))).body;
  assert.match(after, /<dd>DECLINED/);
  assert.match(after, /The cardholder&#39;s step timed out/);
  assert.ok((await auditActions()).includes('sandbox 3-D Secure timeout'));
});
