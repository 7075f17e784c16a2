import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { saleFields, startTestPlatform, transactionFields, usingPostgres } from '../testing/harness.ts';

const cards = ['4111111111111111', '5555555555554444', '4000000000009995', '4000000000000002', '4000000000000127', '4000000000000069'];
/** An unusual CVV so a match in the stores cannot be a coincidence of other digits. */
const cvv = '7319';

test('after payments of every kind, no PAN or CVV is in the database, the logs or the responses', async () => {
  const platform = await startTestPlatform({ config: { logLevel: 'debug' } });
  const responses: string[] = [];
  try {
    for (const card of cards) {
      for (const auth of ['N', 'Y']) {
        const fields = saleFields(platform.merchant, { card_number: card, card_cvv2: cvv, card_exp_month: '12', card_exp_year: '2030', auth });
        const sale = await platform.post(fields);
        responses.push(JSON.stringify(sale.body));
        const follow = (action: string, extra: Record<string, string> = {}) =>
          platform.post(transactionFields(platform.merchant, action, sale.body.trans_id, extra, card));
        for (const action of ['GET_TRANS_STATUS', 'GET_TRANS_DETAILS', auth === 'Y' ? 'CAPTURE' : 'CREDITVOID', 'VOID']) {
          responses.push(JSON.stringify((await follow(action)).body));
        }
      }
    }
    // Invalid requests echo nothing either.
    responses.push(JSON.stringify((await platform.post(saleFields(platform.merchant, { card_number: '4111111111111112', card_cvv2: cvv }))).body));
    responses.push(JSON.stringify((await platform.post(saleFields(platform.merchant, { card_cvv2: cvv, hash: 'f'.repeat(32) }))).body));
    responses.push(JSON.stringify((await platform.post({ ...saleFields(platform.merchant), card_cvv2: cvv, payer_email: 'x' })).body));

    const stored = await storedText(platform);
    const logs = platform.logLines.join('');
    assert.ok(logs.includes('api request'), 'the logs were captured');
    assert.ok(stored.includes('411111'), 'the scan reads the stored rows (BIN is allowed)');
    for (const card of cards) {
      assert.ok(!stored.includes(card), `PAN ${card.slice(0, 6)}… found in the database`);
      assert.ok(!logs.includes(card), `PAN ${card.slice(0, 6)}… found in the logs`);
      assert.ok(!responses.some((text) => text.includes(card)), `PAN ${card.slice(0, 6)}… found in a response`);
    }
    // The CVV as a stored value or under its field name; base64 ciphertext may contain any
    // short digit run by chance, so a bare "7319" substring would prove nothing.
    const storedCvv = /"7319"|[=:,(]7319[,)&\s]|card_cvv2/.exec(stored);
    assert.equal(storedCvv, null, `CVV found in the database: ${storedCvv?.[0]}`);
    // Log lines carry epoch-ms times, durations and UUID request ids, any of which may contain
    // the digits 7319 by chance; the CVV would stand alone (a value, or a field's text).
    const loggedCvv = /(?<![0-9a-z.-])7319(?![0-9a-z])|card_cvv2/i.exec(logs);
    const loggedAt = loggedCvv?.index ?? 0;
    assert.equal(loggedCvv, null, `CVV found in the logs: …${logs.slice(Math.max(0, loggedAt - 80), loggedAt + 40)}…`);
    assert.ok(!responses.some((text) => text.includes(cvv)), 'CVV found in a response');
    assert.ok(responses.some((text) => text.includes('411111******1111')), 'masks are what responses carry');
  } finally {
    await platform.close();
  }
});

/** Everything the database holds, as text: the raw SQLite files (WAL included), or every row of
 * every table of the test's PostgreSQL schema. */
async function storedText(platform: Awaited<ReturnType<typeof startTestPlatform>>): Promise<string> {
  await platform.apiRequests?.flush(); // the sandbox's API request record (kassa logs tail) too
  if (usingPostgres) {
    const tables = ['merchants', 'payments', 'payment_operations', 'outbox', 'api_requests'];
    const parts: string[] = [];
    for (const table of tables) {
      const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(platform.context.storage.db);
      parts.push(...rows.rows.map((row) => row.row));
    }
    return parts.join('\n');
  }
  return readdirSync(platform.dataDirectory)
    .filter((name) => name.startsWith('kassa.sqlite'))
    .map((name) => readFileSync(join(platform.dataDirectory, name)).toString('latin1'))
    .join('\n');
}
