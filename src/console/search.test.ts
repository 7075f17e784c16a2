import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsoleAccount } from '../testing/console.ts';
import { signedInClient, type ConsoleClient } from '../testing/console-inject.ts';
import { saleFields, startTestPlatform, testNowMs, type TestPlatform } from '../testing/harness.ts';

let platform: TestPlatform;
let client: ConsoleClient;
const dayMs = 24 * 60 * 60 * 1000;

before(async () => {
  platform = await startTestPlatform();
  const other = await platform.addMerchant({ email: 'other@shop.test', descriptor: 'OTHER' });
  for (let index = 0; index < 55; index += 1) {
    platform.clock.set(testNowMs + index * 1000);
    await platform.post(
      saleFields(platform.merchant, { order_id: `SEARCH-${index}`, order_amount: index === 7 ? '77.70' : '1.00' }),
    );
  }
  platform.clock.set(testNowMs + 3 * dayMs);
  await platform.post(saleFields(other, { order_id: 'LATER-1', card_number: '5555555555554444' }));
  await platform.post(saleFields(platform.merchant, { order_id: 'DECLINED-1', card_number: '4000000000000002' }));
  client = await signedInClient(platform, await createConsoleAccount(platform, 'search@kassa.test', 'viewer'));
});
after(() => platform?.close());

function orderIdsOf(body: string): string[] {
  return [...body.matchAll(/<td>((?:SEARCH|LATER|DECLINED)-\d+)<\/td>/g)].map((match) => match[1]);
}

test('keyset pages: 50 newest first, then the rest, no payment twice or missing', async () => {
  const first = await client.get('/console/payments?order_id=');
  const firstIds = orderIdsOf(first.body);
  assert.equal(firstIds.length, 50);
  assert.deepEqual(firstIds.slice(0, 2).sort(), ['DECLINED-1', 'LATER-1']);
  const next = /href="(\/console\/payments\?[^"]*after=[^"]+)" rel="next"/
    .exec(first.body)?.[1]
    .replaceAll('&amp;', '&');
  assert.ok(next, 'a next-page link');
  const secondIds = orderIdsOf((await client.get(next)).body);
  assert.equal(secondIds.length, 7);
  assert.equal(new Set([...firstIds, ...secondIds]).size, 57);
});

test('each filter finds what it says', async () => {
  assert.deepEqual(orderIdsOf((await client.get('/console/payments?order_id=SEARCH-31')).body), ['SEARCH-31']);
  assert.deepEqual(orderIdsOf((await client.get('/console/payments?card=4444')).body), ['LATER-1']);
  assert.deepEqual(orderIdsOf((await client.get('/console/payments?card=555555')).body), ['LATER-1']);
  const declined = orderIdsOf((await client.get('/console/payments?status=declined')).body);
  assert.ok(declined.includes('DECLINED-1') && !declined.some((id) => id.startsWith('SEARCH-')), declined.join());
  assert.deepEqual(orderIdsOf((await client.get('/console/payments?amount=77.70')).body), ['SEARCH-7']);
  const day = new Date(testNowMs + 3 * dayMs).toISOString().slice(0, 10);
  assert.deepEqual(orderIdsOf((await client.get(`/console/payments?from=${day}&to=${day}`)).body).sort(), [
    'DECLINED-1',
    'LATER-1',
  ]);
  const other = (
    await platform.context.storage.db
      .selectFrom('merchants')
      .select('client_key')
      .where('email', '=', 'other@shop.test')
      .executeTakeFirstOrThrow()
  ).client_key;
  assert.deepEqual(orderIdsOf((await client.get(`/console/payments?merchant=${other}`)).body), ['LATER-1']);
  const transId = (
    await platform.context.storage.db
      .selectFrom('payments')
      .select('trans_id')
      .where('order_id', '=', 'SEARCH-3')
      .executeTakeFirstOrThrow()
  ).trans_id;
  assert.deepEqual(orderIdsOf((await client.get(`/console/payments?trans_id=${transId.toUpperCase()}`)).body), [
    'SEARCH-3',
  ]);
});

test('a malformed filter is answered beside its field and searches nothing', async () => {
  for (const query of [
    'card=12ab',
    'amount=-3',
    'from=2026-02-30',
    'status=PAID',
    'merchant=nobody',
    'after=garbage',
  ]) {
    const answer = await client.get(`/console/payments?${query}`);
    assert.equal(answer.statusCode, 400, query);
    assert.match(answer.body, /Check the highlighted field/, query);
    assert.deepEqual(orderIdsOf(answer.body), [], query);
  }
});
