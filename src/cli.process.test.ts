import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli.ts';
import { startTestPlatform, runKassa, usingPostgres, type CliFailure } from './testing/harness.ts';

const run = promisify(execFile);
const binary = fileURLToPath(new URL('../bin/kassa.mjs', import.meta.url));

test("the real `kassa` command runs as its own process on the server's database", { timeout: 60_000 }, async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const environment = {
    ...process.env,
    KASSA_DATA_DIR: platform.dataDirectory,
    KASSA_SECRET_KEY: platform.secretKey,
    ...(platform.postgresSchema ? { KASSA_PG_SCHEMA: platform.postgresSchema } : {}),
  };
  const { stdout } = await run(process.execPath, [binary, 'merchant', 'list', '--json'], {
    env: environment,
    timeout: 30_000,
  });
  assert.deepEqual(
    JSON.parse(stdout).map((merchant: { client_key: string }) => merchant.client_key),
    [platform.merchant.clientKey],
  );
  const failure = await run(process.execPath, [binary, 'merchant', 'frobnicate'], {
    env: environment,
    timeout: 30_000,
  }).then(
    () => undefined,
    (error: { code: number; stdout: string }) => error,
  );
  assert.equal(failure?.code, 2, 'an unknown verb exits with 2 and the usage');
  assert.match(failure!.stdout, /kassa merchant create/);
});

test('a data directory without a Kassa database is refused, not silently made into a new empty platform', {
  skip: usingPostgres && 'SQLite data directories only',
}, async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-cli-'));
  t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
  const mistyped = join(dataDirectory, 'dta');
  let stderr = '';
  const io = {
    stdout: () => {},
    stderr: (text: string) => {
      stderr += text;
    },
    environment: { KASSA_DATA_DIR: mistyped },
  };
  assert.equal(await runCli(['merchant', 'list'], io), 2);
  assert.match(stderr, /^kassa: no Kassa database in .*dta \(KASSA_DATA_DIR\).*--init/);
  assert.equal(existsSync(mistyped), false, 'nothing was created');

  assert.equal(await runCli(['merchant', 'list', '--init'], io), 0, '--init creates the database and key');
  assert.equal(existsSync(join(mistyped, 'kassa.sqlite')), true);
  assert.equal(await runCli(['merchant', 'list'], io), 0, 'and later commands find it');

  rmSync(join(mistyped, 'secret.key'));
  stderr = '';
  assert.equal(await runCli(['merchant', 'list'], io), 2, 'a database whose key is gone is refused too');
  assert.match(stderr, /no secret\.key, and KASSA_SECRET_KEY is not set/);
});

test('bad settings are a readable refusal with exit code 2, not a stack trace', async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const failure = await runKassa(
    { ...platform, environment: { KASSA_TIMEZONE: 'Mars/Olympus' } },
    'merchant',
    'list',
  ).then(
    () => undefined,
    (error: CliFailure) => error,
  );
  assert.equal(failure?.code, 2);
  assert.match(failure!.stderr, /^kassa: .*KASSA_TIMEZONE/);
  assert.ok(!failure!.stderr.includes('    at '), 'no stack trace');
});
