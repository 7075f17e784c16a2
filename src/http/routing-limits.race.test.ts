import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { systemClock } from '../domain/clock.ts';
import { createMerchant } from '../operations/manage-merchants.ts';
import { openVault } from '../security/vault.ts';
import { openStorage } from '../storage/database.ts';
import { runKassa, saleFields } from '../testing/harness.ts';
import { startServerProcess, type RunningServer } from '../testing/server-process.ts';

const databaseUrl = process.env.DATABASE_URL || undefined;

/**
 * A MID's day limit admits 10 SALEs of 1.00; 50 are sent at once, half to each of two server
 * processes on one database, over real HTTP. Exactly 10 are approved, the rest answered 204007,
 * and the counters hold exactly 10.00: the limit is kept by the database write, not by a read.
 */
test('50 SALEs racing across two servers at a limit that admits 10: exactly 10 approved', {
  timeout: 90_000,
}, async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-limit-race-'));
  const secretKey = randomBytes(32).toString('hex');
  let schema: string | undefined;
  if (databaseUrl) {
    schema = `test_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
  }
  const storage = await openStorage({ databaseUrl, dataDirectory, postgresSchema: schema });
  const servers: RunningServer[] = [];
  t.after(async () => {
    for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGTERM');
    await Promise.all(servers.map((server) => server.exited));
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
    if (schema) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    }
  });
  const { merchant, password } = await createMerchant(
    { storage, vault: openVault({ secretKey, dataDirectory }), clock: systemClock },
    {
      email: 'ops@shop.test',
      callbackUrl: null,
      allowedIps: ['127.0.0.1', '::1'],
      channels: [],
      threeDsEnabled: false,
      s2sCardEnabled: true,
      descriptor: 'RACE.TEST',
    },
  );
  const platform = {
    dataDirectory,
    secretKey,
    postgresSchema: schema,
    environment: databaseUrl ? { DATABASE_URL: databaseUrl } : {},
  };
  await runKassa(platform, 'routing', 'mid', 'create', '--name', 'limited');
  await runKassa(
    platform,
    'routing',
    'limit',
    'set',
    '--mid',
    'limited',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '10.00',
  );
  await runKassa(platform, 'routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'limited');
  const environment: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // Under `faketime` the servers must share the test's time, or the explain below (in this
    // process) reads another day's window than the one the servers filled.
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => /^(LD_PRELOAD|FAKETIME)/.test(name))),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    KASSA_DATA_DIR: dataDirectory,
    KASSA_SECRET_KEY: secretKey,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, KASSA_PG_SCHEMA: schema } : {}),
  };
  servers.push(await startServerProcess(environment), await startServerProcess(environment));

  const answers = await Promise.all(
    Array.from({ length: 50 }, async (_, index) => {
      const fields = saleFields({ clientKey: merchant.clientKey, password }, { order_amount: '1.00' });
      const response = await fetch(`${servers[index % 2]!.address}/post`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      return (await response.json()) as { result: string; error_code?: number };
    }),
  );
  const approved = answers.filter((answer) => answer.result === 'SUCCESS').length;
  const refused = answers.filter((answer) => answer.error_code === 204007).length;
  assert.equal(
    approved,
    10,
    JSON.stringify(answers.filter((answer) => answer.result !== 'SUCCESS' && answer.error_code !== 204007)),
  );
  assert.equal(
    refused,
    40,
    JSON.stringify(answers.filter((answer) => answer.error_code !== 204007 && answer.result !== 'SUCCESS')).length
      + servers
        .flatMap((server) => server.errorLines)
        .slice(0, 3)
        .join('\n'),
  );
  const explained = await runKassa(
    platform,
    'routing',
    'explain',
    '--client-key',
    merchant.clientKey,
    '--brand',
    'VISA',
    '--currency',
    'USD',
    '--amount',
    '1.00',
  );
  assert.match(explained.stdout, /limit day 10\.00 USD: used 10\.00 USD, headroom 0\.00 USD/);
  assert.match(explained.stdout, /refused: 204007/);
});
