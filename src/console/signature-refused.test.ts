import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { cardHashPart, saleHash } from '../protocol/hash.ts';
import { createConsoleAccount } from '../testing/console.ts';
import { signedInClient, type ConsoleClient } from '../testing/console-inject.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

/** The signature explainer's "pick a recent refused one" (docs/adr/0085): a request answered
 * 900003 in the sandbox is listed for its merchant and explained from what the log kept. */

let platform: TestPlatform;
let other: { clientKey: string; password: string; merchantId: string };
let merchantUser: ConsoleClient;
const card = '5555555555554444';
const cvv = '739';
const wrongHash = 'f'.repeat(32);

before(async () => {
  platform = await startTestPlatform();
  other = await platform.addMerchant({ email: 'other@shop.test', descriptor: 'OTHER' });
  const refused = await platform.post(
    saleFields(platform.merchant, { card_number: card, card_cvv2: cvv, order_id: 'REFUSED-OWN', hash: wrongHash }),
  );
  assert.equal(refused.body.error_code, 900003);
  await platform.post(saleFields(other, { order_id: 'REFUSED-OTHER', hash: wrongHash }));
  await platform.post(saleFields(platform.merchant, { order_id: 'ACCEPTED' }));
  await platform.apiRequests?.flush();
  merchantUser = await signedInClient(
    platform,
    await createConsoleAccount(platform, 'refused-dev@shop.test', 'merchant', platform.merchant.clientKey),
  );
});
after(() => platform?.close());

function entryIdsOf(page: string): string[] {
  return [...page.matchAll(/href="\/console\/signature\/refused\/([0-9a-f-]{36})"/g)].map((match) => match[1]);
}

test('a merchant user sees its own refused request, masked, and picks it to see why', async () => {
  const list = await merchantUser.get('/console/signature');
  assert.equal(list.statusCode, 200);
  assert.match(list.body, /REFUSED-OWN/);
  assert.doesNotMatch(list.body, /REFUSED-OTHER|ACCEPTED/, "only its merchant's refusals");
  assert.match(list.body, /555555\*{6}4444/);
  const [entryId] = entryIdsOf(list.body);
  assert.ok(entryId);
  const explained = await merchantUser.get(`/console/signature/refused/${entryId}`);
  assert.equal(explained.statusCode, 200);
  const expected = saleHash({
    email: 'doe@example.com',
    password: platform.merchant.password,
    cardDigits: cardHashPart(card),
  });
  assert.match(explained.body, /Formula 1/);
  assert.ok(explained.body.includes(expected), 'the expected hash, from the PASSWORD the server holds');
  assert.ok(explained.body.includes(wrongHash), 'the hash the request gave');
  assert.match(explained.body, /MOC\.ELPMAXE@EOD\{PASSWORD\}4444555555/, 'the string hashed, PASSWORD masked');
  assert.match(explained.body, /The hashes differ/);
  for (const secret of [platform.merchant.password, card, `>${cvv}<`, `=${cvv}`]) {
    assert.ok(!explained.body.includes(secret) && !list.body.includes(secret), `the page shows ${secret}`);
  }
});

test("a merchant user cannot open another merchant's refused request by id; junk ids are 404", async () => {
  const administrator = await signedInClient(
    platform,
    await createConsoleAccount(platform, 'refused-admin@kassa.test', 'administrator'),
  );
  const all = await administrator.get('/console/signature');
  assert.match(all.body, /REFUSED-OWN/);
  assert.match(all.body, /REFUSED-OTHER/, 'operators see every merchant');
  const ownIds = entryIdsOf((await merchantUser.get('/console/signature')).body);
  const foreign = entryIdsOf(all.body).filter((id) => !ownIds.includes(id));
  assert.equal(foreign.length, 1);
  const attempt = await merchantUser.get(`/console/signature/refused/${foreign[0]}`);
  assert.equal(attempt.statusCode, 404);
  assert.doesNotMatch(attempt.body, /REFUSED-OTHER|Formula/);
  assert.equal((await administrator.get(`/console/signature/refused/${foreign[0]}`)).statusCode, 200);
  for (const junk of ['nothing', '01a00000-0000-7000-8000-000000000000', '%00', "' OR 1=1 --", 'a'.repeat(90)]) {
    const answer = await merchantUser.get(`/console/signature/refused/${encodeURIComponent(junk)}?x[]=1`);
    assert.equal(answer.statusCode, 404, junk);
  }
});

test('the log keeps the formula terms only: first 6 and last 4, never the card number or CVV', async () => {
  const rows = await sql<{ terms: string | null; code: number | null }>`
    select hash_terms_json as terms, error_code as code from api_requests`.execute(platform.context.storage.db);
  const kept = rows.rows.filter((row) => row.terms !== null);
  assert.equal(kept.length, 2, 'the two 900003 answers, nothing else');
  for (const row of kept) {
    assert.equal(Number(row.code), 900003);
    assert.ok(!row.terms!.includes('5555555555554444') && !row.terms!.includes('4111111111111111'), row.terms!);
    assert.ok(!row.terms!.includes('card_cvv2') && !row.terms!.includes(`"${cvv}"`), row.terms!);
  }
  assert.match(kept.map((row) => row.terms).join(), /"card_number_first_6":"555555","card_number_last_4":"4444"/);
});

test('production keeps no request log: the page says to paste the request', async () => {
  const production = await startTestPlatform({ config: { mode: 'production' } });
  try {
    const client = await signedInClient(
      production,
      await createConsoleAccount(production, 'prod-dev@shop.test', 'merchant', production.merchant.clientKey),
    );
    const page = await client.get('/console/signature');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Only the sandbox keeps a request log/);
  } finally {
    await production.close();
  }
});

test("a merchant signing with sha256 is explained with sha256 (the merchant's digest)", async () => {
  const shaMerchant = await platform.addMerchant({ email: 'sha@shop.test', descriptor: 'SHA' });
  await runKassa(platform, 'merchant', 'update', '--client-key', shaMerchant.clientKey, '--hash-mode', 'sha256');
  const administrator = await signedInClient(
    platform,
    await createConsoleAccount(platform, 'sha-admin@kassa.test', 'administrator'),
  );
  await administrator.get('/console/signature');
  const digits = cardHashPart('4111111111111111');
  const signed = saleFields(shaMerchant, {
    hash: saleHash({ email: 'doe@example.com', password: shaMerchant.password, cardDigits: digits }, 'sha256'),
  });
  assert.equal((await platform.post(signed)).body.result, 'SUCCESS', 'the API takes the sha256 hash');
  const answer = await administrator.post('/console/signature', {
    request: new URLSearchParams(signed).toString(),
  });
  assert.equal(answer.statusCode, 200);
  assert.match(answer.body, /The hashes match/);
  assert.match(answer.body, /sha256\(strtoupper/);
});
