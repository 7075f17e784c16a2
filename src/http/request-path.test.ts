import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScheduleHash, scheduleHash, saleHash, cardHashPart, transactionHash } from '../protocol/hash.ts';
import {
  runKassa,
  saleFields,
  startTestPlatform,
  testCard,
  transactionFields,
  type CliFailure,
  type TestPlatform,
} from '../testing/harness.ts';
import { createMerchant, updateMerchant } from '../operations/manage-merchants.ts';

/**
 * What the 5.2.0 spec and its family's clients expect of the request path: /payment/post,
 * SCHEDULE_INFO by GET, a sandbox that says why a hash is wrong (and a production that does
 * not), a callback URL for every merchant with 3-D Secure, and merchants imported with their
 * own CLIENT_KEY and PASSWORD.
 */
let sandbox: TestPlatform;
let production: TestPlatform;
before(async () => {
  sandbox = await startTestPlatform();
  production = await startTestPlatform({ config: { mode: 'production' } });
});
after(async () => {
  await sandbox.close();
  await production.close();
});

test('/payment/post answers the API like /post; GET is for SCHEDULE_INFO only', async () => {
  const sale = await sandbox.post(saleFields(sandbox.merchant), { path: '/payment/post' });
  assert.equal(sale.statusCode, 200);
  assert.equal(sale.body.result, 'SUCCESS');
  const query = new URLSearchParams(saleFields(sandbox.merchant)).toString();
  const byGet = await sandbox.app.inject({ method: 'GET', url: `/payment/post?${query}` });
  assert.equal(byGet.json().error_code, 204005, 'a SALE in a URL is refused: card data has no place in logs of URLs');
});

test(
  'SCHEDULE_INFO "is sent by GET" (spec 5.2.0): answered on /post and /payment/post, signed as by POST',
  async () => {
  const { merchant } = sandbox;
  const created = await sandbox.post({
    action: 'CREATE_SCHEDULE',
    client_key: merchant.clientKey,
    name: 'Gym',
    interval_length: '1',
    interval_unit: 'month',
    payments_count: '12',
    hash: createScheduleHash(merchant.password),
  });
  const scheduleId = created.body.schedule_id;
  const info = { action: 'SCHEDULE_INFO', client_key: merchant.clientKey, schedule_id: scheduleId };
  for (const path of ['/post', '/payment/post']) {
    const signed = new URLSearchParams({ ...info, hash: scheduleHash(scheduleId, merchant.password) });
    const response = await sandbox.app.inject({ method: 'GET', url: `${path}?${signed}` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().result, 'SUCCESS', response.body);
    assert.equal(response.json().name, 'Gym');
  }
  const wrong = new URLSearchParams({ ...info, hash: 'f'.repeat(32) });
  assert.equal((await sandbox.app.inject({ method: 'GET', url: `/post?${wrong}` })).json().error_code, 900003);
});

test(
  'sandbox: a wrong SALE hash names Formula 1 and the request values in it, never the PASSWORD or the expected hash',
  async () => {
  const fields = saleFields(sandbox.merchant, { hash: 'a'.repeat(32) });
  const { body } = await sandbox.post(fields);
  assert.equal(body.error_code, 900003);
  assert.equal(body.error_message, 'Hash is not valid.');
  assert.equal(body.hash_hint.formula, 'Formula 1');
  assert.deepEqual(body.hash_hint.fields, {
    payer_email: 'doe@example.com',
    card_first_6: '411111',
    card_last_4: '1111',
  });
  assert.equal(body.hash_hint.input, 'MOC.ELPMAXE@EOD{PASSWORD}1111111114');
  const expected = saleHash({
    email: 'doe@example.com',
    password: sandbox.merchant.password,
    cardDigits: cardHashPart(testCard.number),
  });
  const text = JSON.stringify(body);
  assert.ok(!text.includes(sandbox.merchant.password), 'no PASSWORD');
  assert.ok(!text.toLowerCase().includes(expected.toLowerCase()), 'no expected hash');
  assert.ok(!text.includes(testCard.number), 'no card number');
});

test(
  'sandbox: a wrong hash on a payment names Formula 2 and trans_id; the stored e-mail and card are named, not shown',
  async () => {
  const sale = (await sandbox.post(saleFields(sandbox.merchant))).body;
  const wrong = transactionFields(
    sandbox.merchant,
    'GET_TRANS_STATUS',
    sale.trans_id,
    {},
    testCard.number,
    'other@example.com',
  );
  const { body } = await sandbox.post(wrong);
  assert.equal(body.error_code, 900003);
  assert.match(body.hash_hint.formula, /^Formula 2/);
  assert.deepEqual(body.hash_hint.fields, { trans_id: sale.trans_id });
  assert.match(body.hash_hint.note, /original payment/);
  const expected = transactionHash(
    { email: 'doe@example.com', password: sandbox.merchant.password, cardDigits: '4111111111' },
    sale.trans_id,
  );
  assert.ok(!JSON.stringify(body).includes(expected));
  assert.ok(!JSON.stringify(body).includes('doe@example.com'));
});

test('production: a wrong hash answers exactly as before, no hint', async () => {
  const { body } = await production.post(saleFields(production.merchant, { hash: 'a'.repeat(32) }));
  assert.deepEqual(body, { result: 'ERROR', error_code: 900003, error_message: 'Hash is not valid.' });
});

test(
  'a merchant with 3-D Secure must have a callback URL: at creation, at an edit, and by the CLI default',
  async () => {
  const dependencies = sandbox.context;
  const settings = {
    email: 'ops@shop.test',
    allowedIps: ['127.0.0.1'],
    channels: [],
    s2sCardEnabled: true,
    descriptor: 'SHOP',
  };
  await assert.rejects(
    createMerchant(dependencies, { ...settings, callbackUrl: null, threeDsEnabled: true }),
    /needs a callback URL/,
  );
  const { merchant } = await createMerchant(dependencies, {
    ...settings,
    callbackUrl: 'https://shop.test/cb',
    threeDsEnabled: true,
  });
  await assert.rejects(updateMerchant(dependencies, merchant.clientKey, { callbackUrl: '' }), /needs a callback URL/);
  const without = await createMerchant(dependencies, { ...settings, callbackUrl: null, threeDsEnabled: false });
  await assert.rejects(
    updateMerchant(dependencies, without.merchant.clientKey, { threeDsEnabled: true }),
    /needs a callback URL/,
  );

  const plain = JSON.parse((await runKassa(sandbox, 'merchant', 'create', '--email', 'a@shop.test', '--json')).stdout);
  assert.equal(plain.three_ds, false, 'no callback URL: 3-D Secure is off by default');
  const secure = JSON.parse(
    (
      await runKassa(
        sandbox,
        'merchant',
        'create',
        '--email',
        'a@shop.test',
        '--callback-url',
        'https://shop.test/cb',
        '--json',
      )
    ).stdout,
  );
  assert.equal(secure.three_ds, true);
  const refused = await runKassa(sandbox, 'merchant', 'create', '--email', 'a@shop.test', '--three-ds', 'on').then(
    () => undefined,
    (error: CliFailure) => error,
  );
  assert.equal(refused?.code, 2);
  assert.match(refused!.stderr, /3-D Secure needs a callback URL/);
});

test(
  'kassa merchant import keeps the CLIENT_KEY and PASSWORD: requests signed with them work; stored encrypted',
  async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'kassa-import-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const clientKey = '5B8A3C1E-2D4F-4A6B-8C9D-0E1F2A3B4C5D';
  const password = 'Vendor-Issued-Password-4711';
  const passwordFile = join(folder, 'password');
  writeFileSync(passwordFile, `${password}\n`);
  const imported = JSON.parse(
    (
      await runKassa(
        sandbox,
        'merchant',
        'import',
        '--client-key',
        clientKey,
        '--password-file',
        passwordFile,
        '--email',
        'moved@shop.test',
        '--json',
      )
    ).stdout,
  );
  assert.equal(imported.client_key, clientKey.toLowerCase());
  assert.equal(imported.password, undefined, 'the imported PASSWORD is not printed back');

  const sale = await sandbox.post(saleFields({ clientKey, password }));
  assert.equal(sale.body.result, 'SUCCESS', JSON.stringify(sale.body));
  const row = await sandbox.context.storage.db
    .selectFrom('merchants')
    .select('password_ciphertext')
    .where('client_key', '=', clientKey.toLowerCase())
    .executeTakeFirstOrThrow();
  assert.ok(!row.password_ciphertext.includes(password), 'encrypted at rest');
  assert.equal(sandbox.context.vault.decrypt(row.password_ciphertext), password);

  const failures: [string[], RegExp][] = [
    [['--client-key', clientKey, '--password-file', passwordFile], /already exists/],
    [['--client-key', 'not-a-uuid', '--password-file', passwordFile], /CLIENT_KEY is a UUID/],
    [
      ['--client-key', '0190a7d2-1111-7000-8000-0000000000aa', '--password-file', join(folder, 'missing')],
      /cannot read/,
    ],
    [['--client-key', '0190a7d2-1111-7000-8000-0000000000aa'], /--password-file is required/],
  ];
  writeFileSync(join(folder, 'short'), 'short');
  failures.push([
    ['--client-key', '0190a7d2-1111-7000-8000-0000000000ab', '--password-file', join(folder, 'short')],
    /16–255/,
  ]);
  for (const [args, message] of failures) {
    const failure = await runKassa(sandbox, 'merchant', 'import', '--email', 'moved@shop.test', ...args).then(
      () => undefined,
      (error: CliFailure) => error,
    );
    assert.equal(failure?.code, 2, args.join(' '));
    assert.match(failure!.stderr, message);
  }
});
