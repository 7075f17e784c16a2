import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createConsoleAccount } from '../testing/console.ts';
import { signedInClient, type ConsoleClient } from '../testing/console-inject.ts';
import { saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

/** No console page answers 500 to anything a browser or a script can send (issue #12). */

let platform: TestPlatform;
let client: ConsoleClient;
let transId: string;
let account: { email: string; password: string };

before(async () => {
  platform = await startTestPlatform();
  transId = (await platform.post(saleFields(platform.merchant))).body.trans_id;
  account = await createConsoleAccount(platform, 'fuzz@kassa.test', 'administrator');
  client = await signedInClient(platform, account);
});
after(() => platform?.close());

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
    '1e309',
    '99999999999999999999',
    'NaN',
    '../../etc/passwd',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    '%00',
    '2026-02-30',
    '2026-13-01',
    '1.005',
    '4111111111111111',
    'a'.repeat(5000),
    '\u0000',
    '[]',
    '{}',
  ),
);
const fieldNames = fc.constantFrom(
  'reason_code',
  'enabled',
  'merchant_id',
  'amount',
  'email',
  'callback_url',
  'allowed_ips',
  'channels',
  'descriptor',
  'frame_origins',
  'refund_days',
  'three_ds',
  'url',
  'client_key',
  'ip',
  'note',
  'decision',
  'duration',
  'request',
  'password',
  'trans_id',
  'order_id',
  'card',
  'status',
  'merchant',
  'from',
  'to',
  'after',
  'lang',
  'csrf',
  'before',
  'done',
  'card_bin',
  'brand',
  'currency',
  'action',
  'auth',
  'at',
  'x[y]',
  '__proto__',
);
const form = fc.dictionary(fieldNames, nasty, { maxKeys: 8 });

const postPaths = () => [
  `/console/payments/${transId}/refund`,
  `/console/payments/${transId}/capture`,
  `/console/payments/${transId}/void`,
  '/console/callbacks/not-an-id/resend',
  '/console/merchants',
  `/console/merchants/${platform.merchant.clientKey}`,
  '/console/blocked-urls/unblock',
  '/console/lockouts/lift',
  '/console/refund-applications/x/decide',
  '/console/clock/advance',
  '/console/signature',
  '/console/routing/explain',
  '/console/routing/mids/default-test-engine/enabled',
  '/console/sign-in',
  '/console/sign-out',
];
const getPaths = () => [
  '/',
  '/console',
  '/console/start',
  '/console/payments',
  `/console/payments/${transId}`,
  '/console/payments/%ff%fe',
  '/console/merchants',
  '/console/merchants/new',
  '/console/merchants/%00',
  '/console/blocked-urls',
  '/console/lockouts',
  '/console/chargebacks',
  '/console/refund-applications',
  '/console/audit',
  '/console/clock',
  '/console/signature',
  '/console/credentials',
  '/console/routing',
  '/console/routing/mids/default-test-engine',
  '/console/routing/mids/%ff',
  '/console/routing/mappings',
  '/console/routing/limits',
  '/console/routing/rates',
  '/console/routing/explain',
  '/console/signature/refused/01a00000-0000-7000-8000-000000000000',
  '/console/signature/refused/%00',
  '/console/sign-in',
  '/console/no-such-page',
];

test('every console form answers any body with a page, never a 500', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...postPaths()), form, fc.boolean(), async (path, fields, withCsrf) => {
      const answer = await client.post(path, fields, { withCsrf });
      assert.ok(
        answer.statusCode < 500,
        `${path} ${JSON.stringify(fields).slice(0, 200)} answered ${answer.statusCode}`,
      );
      if (answer.statusCode !== 303) assert.match(String(answer.headers['content-type']), /text\/html/, path);
      // Signing out (or a fuzzed sign-in) may end the session: sign in again for the next case.
      if (!client.cookies.has('kassa_console')) {
        client = await signedInClient(platform, account);
      }
    }),
    { numRuns: 300, seed: 12 },
  );
});

test('every console page answers any query string with a page, never a 500', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...getPaths()), form, async (path, query) => {
      const search = new URLSearchParams(query as Record<string, string>).toString();
      const answer = await client.get(`${path}${search ? `?${search}` : ''}`);
      assert.ok(answer.statusCode < 500, `${path}?${search.slice(0, 200)} answered ${answer.statusCode}`);
    }),
    { numRuns: 300, seed: 13 },
  );
});

test('bodies a browser would never send: wrong types, huge, broken encoding — no 500', async () => {
  for (const [contentType, payload] of [
    ['application/json', '{"email": ["a"], "password": {"x": 1}}'],
    ['application/x-www-form-urlencoded', '%E0%A4%A'],
    ['text/plain', 'hello'],
    ['multipart/form-data', '--x\r\n'],
    ['application/x-www-form-urlencoded', `a=${'b'.repeat(70_000)}`],
  ]) {
    for (const url of ['/console/sign-in', '/console/merchants', '/console/signature']) {
      const answer = await platform.app.inject({
        method: 'POST',
        url,
        payload,
        headers: { 'content-type': contentType },
      });
      assert.ok(answer.statusCode < 500, `${url} ${contentType} answered ${answer.statusCode}`);
    }
  }
});
