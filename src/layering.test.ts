// Layering: operations work on the domain's Payment through storage functions that take the
// Storage object; they never import Kysely, reach into `storage.db` or handle payment rows.
// Every list of exceptions is empty; a file that needs one is a design question, not a list entry.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const sourceFolder = dirname(fileURLToPath(import.meta.url));
const operationsFolder = join(sourceFolder, 'operations');

const rules: { what: string; pattern: RegExp; allowed: readonly string[] }[] = [
  { what: 'imports Kysely', pattern: /from 'kysely'/, allowed: [] },
  { what: 'reaches into storage.db', pattern: /storage\.db\b/, allowed: [] },
  { what: 'handles PaymentRow', pattern: /\bPaymentRow\b/, allowed: [] },
];

const sources = readdirSync(operationsFolder)
  .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
  .map((name) => ({ name, text: readFileSync(join(operationsFolder, name), 'utf8') }));

for (const rule of rules) {
  test(`no new file under src/operations ${rule.what}`, () => {
    const offenders = sources.filter((source) => rule.pattern.test(source.text)).map((source) => source.name);
    assert.deepEqual(
      offenders.filter((name) => !rule.allowed.includes(name)),
      [],
    );
  });
}

// The CLI calls operations and storage functions that take the Storage object, as the operations do.
const cliSources = readdirSync(sourceFolder)
  .filter((name) => /^cli.*\.ts$/.test(name) && !name.endsWith('.test.ts'))
  .map((name) => ({ name, text: readFileSync(join(sourceFolder, name), 'utf8') }));

test('no src/cli*.ts file imports Kysely or reaches into storage.db', () => {
  const offenders = cliSources
    .filter((source) => rules[0].pattern.test(source.text) || rules[1].pattern.test(source.text));
  assert.deepEqual(offenders.map((source) => source.name), []);
});

test('the layering rules see what they look for', () => {
  assert.ok(cliSources.some((source) => source.name === 'cli-refund-applications.ts'));
  assert.ok(sources.length > 10);
  assert.ok(rules[0].pattern.test("import type { Transaction } from 'kysely';"));
  assert.ok(rules[1].pattern.test('await findMerchantById(context.storage.db, id)'));
  assert.ok(!rules[1].pattern.test('await loadPayment(context.storage, merchantId, transId)'));
});
