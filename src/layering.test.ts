// Layering: operations work on the domain's Payment through storage functions that take the
// Storage object; they never import Kysely, reach into `storage.db` or handle rows. The files
// listed below did before the rule (SALE's hook bag, recurring, schedules, the pages' use
// cases are being reworked); the lists may only shrink: a file not listed fails.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const operationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'operations');

const rules: { what: string; pattern: RegExp; allowed: readonly string[] }[] = [
  { what: 'imports Kysely', pattern: /from 'kysely'/, allowed: [] },
  {
    what: 'reaches into storage.db',
    pattern: /storage\.db\b/,
    allowed: [
      // The pages' use cases, moved out of http/pages (which read storage themselves before).
      'challenge-page.ts',
      'checkout-page.ts',
      'refund-application-page.ts',
      'checkout.ts',
      'hash-lockouts.ts',
      'manage-callbacks.ts',
      'manage-merchants.ts',
      'recurring-sale.ts',
      'recurring.ts',
      'refund-applications.ts',
      'sale.ts',
      'schedules.ts',
    ],
  },
  {
    what: 'handles PaymentRow',
    pattern: /\bPaymentRow\b/,
    allowed: [
      'challenge-links.ts',
      // The pages' use cases and the shared stored-card charge, on rows until storage maps them.
      'charge-stored-card.ts',
      'checkout-page.ts',
      'refund-application-page.ts',
      'checkout.ts',
      'hash-lockouts.ts',
      'payment-facts.ts',
      'recurring.ts',
      'refund-applications.ts',
      'sale.ts',
    ],
  },
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

test('the layering rules see what they look for', () => {
  assert.ok(sources.length > 10);
  assert.ok(rules[0].pattern.test("import type { Transaction } from 'kysely';"));
  assert.ok(rules[1].pattern.test('await findMerchantById(context.storage.db, id)'));
  assert.ok(!rules[1].pattern.test('await loadPayment(context.storage, merchantId, transId)'));
});
