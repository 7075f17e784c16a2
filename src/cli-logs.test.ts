import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from './testing/harness.ts';

/** `kassa logs tail` (docs/adr/0079): a merchant's API requests, errors included, as a
 * developer sees them in a terminal beside the sandbox; never a card number. */
let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

const tail = (...args: string[]) =>
  runKassa(
    platform,
    'logs',
    'tail',
    '--client-key',
    platform.merchant.clientKey,
    '--since',
    '1m',
    '--for-ms',
    '3000',
    ...args,
  );

test("logs tail shows the merchant's requests, the refused ones with code, message and field names", {
  timeout: 60_000,
}, async () => {
  const approved = (await platform.post(saleFields(platform.merchant))).body;
  await platform.post(saleFields(platform.merchant, { card_number: '4111111111111112', payer_email: 'not-an-email' }));
  await platform.post(saleFields(platform.merchant, { hash: 'f'.repeat(32) }));
  const other = await platform.addMerchant();
  await platform.post(saleFields(other));
  await platform.apiRequests!.flush();

  const rows = (await tail('--json', '--max-count', '3')).stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    rows.map((row) => [row.action, row.result, row.error_code]),
    [
      ['SALE', 'SUCCESS', null],
      ['SALE', 'ERROR', 100000],
      ['SALE', 'ERROR', 900003],
    ],
  );
  assert.equal(rows[0].trans_id, approved.trans_id);
  assert.equal(rows[0].status, 'SETTLED');
  assert.deepEqual(JSON.parse(rows[1].invalid_fields), ['card_number', 'payer_email']);
  assert.equal(rows[2].error_message, 'Hash is not valid.');

  const text = (await tail('--errors', '--max-count', '2')).stdout;
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'tailing API requests (Ctrl-C to stop)');
  assert.match(
    lines[1],
    /POST \/post {2}SALE {2}ERROR {2}100000 Request data is invalid\. \(card_number, payer_email\) {2}\d+ ms/,
  );
  assert.match(lines[2], /ERROR {2}900003 Hash is not valid\./);
  assert.equal(lines.length, 3, 'only errors, only this merchant');
  assert.doesNotMatch(text, /4111111111111112|411111/, 'no card data');
});

test('logs tail shows a request answered while it runs', { timeout: 60_000 }, async () => {
  platform.clock.advance(60_000); // the requests above are a minute old: not shown without --since
  const tailing = runKassa(
    platform,
    'logs',
    'tail',
    '--json',
    '--max-count',
    '1',
    '--for-ms',
    '10000',
    '--poll-ms',
    '20',
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  const answered = (await platform.post(saleFields(platform.merchant))).body;
  await platform.apiRequests!.flush();
  const [row] = (await tailing).stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(row.trans_id, answered.trans_id);
});
