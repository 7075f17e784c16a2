import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli.ts';
import { cardHashPart, saleHash, scheduleHash, transactionHash } from './protocol/hash.ts';

/** `kassa hash`: the formulas the server checks with, offline, from a request's fields. */
async function kassa(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    environment: {},
  });
  return { code, stdout, stderr };
}

test('kassa hash computes Formulas 1, 2 and 4 (md5 or sha256) and checks a hash', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'kassa-hash-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const passwordFile = join(folder, 'password');
  writeFileSync(passwordFile, 'P4ssw0rd-of-the-shop\n');
  const password = 'P4ssw0rd-of-the-shop';
  const email = 'doe@example.com';

  const sale = await kassa(
    'hash',
    'SALE',
    `payer_email=${email}`,
    'card_number=4111111111111111',
    '--password-file',
    passwordFile,
  );
  assert.equal(sale.code, 0, sale.stderr);
  const expected = saleHash({ email, password, cardDigits: cardHashPart('4111111111111111') });
  assert.equal(sale.stdout, `${expected}\n`);

  const transId = '0190a7d2-1111-7000-8000-000000000001';
  const status = await kassa(
    'hash',
    'GET_TRANS_STATUS',
    `trans_id=${transId}`,
    `payer_email=${email}`,
    'card=411111******1111',
    '--password-file',
    passwordFile,
    '--hash-mode',
    'sha256',
  );
  assert.equal(status.stdout.trim(), transactionHash({ email, password, cardDigits: '4111111111' }, transId, 'sha256'));

  const scheduleId = '0190a7d2-2222-7000-8000-000000000002';
  const schedule = await kassa('hash', 'SCHEDULE_INFO', `schedule_id=${scheduleId}`, '--password-file', passwordFile);
  assert.equal(schedule.stdout.trim(), scheduleHash(scheduleId, password));

  const good = await kassa(
    'hash',
    'SALE',
    `payer_email=${email}`,
    'card_number=4111111111111111',
    '--password-file',
    passwordFile,
    '--check',
    expected.toUpperCase(),
  );
  assert.deepEqual([good.code, good.stdout], [0, 'the hash matches\n']);
  const bad = await kassa(
    'hash',
    'SALE',
    'payer_email=other@example.com',
    'card_number=4111111111111111',
    '--password-file',
    passwordFile,
    '--check',
    expected,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /does not match/);
  assert.ok(!bad.stdout.includes(password) && !sale.stdout.includes(password), 'the PASSWORD is never printed');

  const unknown = await kassa('hash', 'REFUND', '--password-file', passwordFile);
  assert.deepEqual([unknown.code, unknown.stderr.trim()], [2, 'kassa: no formula for the action REFUND']);
  const noFile = await kassa('hash', 'SALE', 'card_number=4111111111111111');
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /--password-file is required/);
});
