import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from './app.ts';
import { runCli } from './cli.ts';
import { systemClock } from './domain/clock.ts';
import { createMerchant } from './operations/manage-merchants.ts';
import { openVault } from './security/vault.ts';
import { openStorage } from './storage/database.ts';
import { freePort, startSaleLoad, startServerProcess, successfulPayments } from './testing/server-process.ts';

// Test lane: spawns the server (child_process), see scripts/run-tests.mjs.

const usingPostgres = Boolean(process.env.DATABASE_URL);

async function kassa(environment: NodeJS.ProcessEnv, ...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => { stdout += text; }, stderr: (text) => { stderr += text; }, environment,
  });
  return { code, stdout, stderr };
}

function temporaryDirectory(t: { after(fn: () => void): void }, prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

test('kassa backup during a SALE load, restored into a fresh data directory: every earlier payment is there', {
  timeout: 120_000, skip: usingPostgres ? 'SQLite only: PostgreSQL is backed up with pg_dump / PITR (README)' : false,
}, async (t) => {
  const dataDirectory = temporaryDirectory(t, 'kassa-backup-live-');
  const restoredDirectory = join(temporaryDirectory(t, 'kassa-backup-restored-'), 'data');
  const backupFile = join(temporaryDirectory(t, 'kassa-backup-file-'), 'kassa-backup.sqlite');
  const secretKey = randomBytes(32).toString('hex');
  const storage = await openStorage({ dataDirectory });
  const { merchant, password } = await createMerchant(
    { storage, vault: openVault({ secretKey, dataDirectory }), clock: systemClock },
    {
      email: 'ops@shop.test', callbackUrl: null, allowedIps: ['127.0.0.1', '::1'], channels: [],
      threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'BACKUP.TEST',
    },
  );
  await storage.close();
  const environment = {
    PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(await freePort()),
    LOG_LEVEL: 'warn', KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey,
  };
  const server = await startServerProcess({ ...environment, LOG_LEVEL: 'info' });
  t.after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
  });
  const load = startSaleLoad(() => server.address, { clientKey: merchant.clientKey, password }, { concurrency: 8 });
  await load.answered(150);
  const backupStartedMs = Date.now();
  const answeredBefore = successfulPayments(load.records.filter((record) => record.answeredAtMs < backupStartedMs));
  const backup = await kassa(environment, 'backup', backupFile);
  const backupEndedMs = Date.now();
  // The server is its own process: its writes go on while the backup copies pages.
  const inFlightDuringBackup = load.records
    .filter((record) => record.sentAtMs <= backupEndedMs && record.answeredAtMs >= backupStartedMs).length;
  await load.answered(load.records.length + 50);
  await load.stop();
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /backed up .* payments\); the backup holds no key/);
  t.diagnostic(`${answeredBefore.size} payments answered before the backup began; ${inFlightDuringBackup} SALEs `
    + `in flight during its ${backupEndedMs - backupStartedMs} ms`);

  const restored = await kassa({ ...environment, KASSA_DATA_DIR: restoredDirectory }, 'restore', backupFile);
  assert.equal(restored.code, 0, restored.stderr);
  const restoredStorage = await openStorage({ dataDirectory: restoredDirectory });
  t.after(() => restoredStorage.close());
  const rows = await restoredStorage.db.selectFrom('payments')
    .select(['trans_id', 'status', 'card_ciphertext']).execute();
  const byId = new Map(rows.map((row) => [row.trans_id, row]));
  for (const transId of answeredBefore.values()) assert.equal(byId.get(transId)?.status, 'SETTLED', transId);
  // With the original key the restored card numbers decrypt.
  const vault = openVault({ secretKey, dataDirectory: restoredDirectory });
  assert.equal(vault.decrypt(rows[0]!.card_ciphertext), '4111111111111111');
  assert.equal(restoredStorage.sqliteFile?.pragma('integrity_check', { simple: true }), 'ok');

  // restore never overwrites a database; backup never overwrites a file.
  const again = await kassa({ ...environment, KASSA_DATA_DIR: restoredDirectory }, 'restore', backupFile);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists: stop the server/);
  assert.equal((await kassa(environment, 'backup', backupFile)).code, 2);
});

test('restore refuses what is not a Kassa database; both refuse PostgreSQL, naming the runbook', async (t) => {
  const directory = temporaryDirectory(t, 'kassa-backup-wrong-');
  const garbage = join(directory, 'garbage.sqlite');
  writeFileSync(garbage, 'not a database at all, just text '.repeat(200));
  const environment = { KASSA_DATA_DIR: join(directory, 'data') };
  const refused = await kassa(environment, 'restore', garbage);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /kassa: .*garbage\.sqlite/);
  assert.equal(existsSync(join(directory, 'data', 'kassa.sqlite')), false);
  const postgres = { ...environment, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' };
  for (const command of ['backup', 'restore']) {
    const answer = await kassa(postgres, command, join(directory, 'x.sqlite'));
    assert.equal(answer.code, 2);
    assert.match(answer.stderr, /pg_dump/);
  }
});

test('a new secret.key beside a database that already holds data is warned about at start', {
  skip: usingPostgres ? 'the key file belongs to the SQLite data directory here' : false,
}, async (t) => {
  const dataDirectory = temporaryDirectory(t, 'kassa-backup-key-');
  const lines: string[] = [];
  const logDestination = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  const config = {
    host: '127.0.0.1', port: 0, dataDirectory, timeZone: 'UTC', trustProxy: false, logLevel: 'info',
    mode: 'sandbox' as const, challengeTimeoutMs: 60_000,
  };
  const first = await buildApp(config, { logDestination });
  await createMerchant(first.context, {
    email: 'ops@shop.test', callbackUrl: null, allowedIps: ['127.0.0.1'], channels: [], threeDsEnabled: false,
    s2sCardEnabled: true, descriptor: 'KEY.TEST',
  });
  await first.close();
  assert.equal(lines.some((line) => line.includes('a new secret.key was created')), false, 'a fresh start is quiet');
  rmSync(join(dataDirectory, 'secret.key'));
  const second = await buildApp(config, { logDestination });
  await second.close();
  assert.equal(lines.filter((line) => line.includes('a new secret.key was created but the database')).length, 1);
});
