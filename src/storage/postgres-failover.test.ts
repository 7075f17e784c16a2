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
import { openStorage } from './database.ts';
import { clusterSkipReason, ThrowawayCluster } from '../testing/postgres-cluster.ts';
import { freePort, startSaleLoad, startServerProcess, successfulPayments } from '../testing/server-process.ts';

// Test lane: spawns processes (child_process: two PostgreSQL clusters and the server), see scripts/run-tests.mjs.

const skip = clusterSkipReason();

async function queryOne(url: string, text: string): Promise<Record<string, unknown> | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(text)).rows[0];
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const startedMs = Date.now();
  while (Date.now() - startedMs < timeoutMs) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/**
 * The database machine dies (docs/adr/0062): a primary with a synchronous streaming standby
 * (synchronous_commit = on, synchronous_standby_names naming it), kill -9 of the primary's
 * postmaster under a real SALE load, the standby promoted. Kassa is given both hosts in one
 * DATABASE_URL and reaches the promoted standby by itself. Every payment answered SUCCESS must
 * be on the new primary; the test reports how many were lost (0) and how long service took to
 * come back after the promotion.
 */
test('failover: kill -9 of the primary under SALE load, standby promoted: no answered payment lost, service resumes', {
  timeout: 240_000, skip,
}, async (t) => {
  const primary = await ThrowawayCluster.create(["synchronous_standby_names = 'standby1'", 'synchronous_commit = on']);
  t.after(() => primary.remove());
  await primary.start();
  const standby = await ThrowawayCluster.standbyOf(primary, 'standby1');
  t.after(() => standby.remove());
  await standby.start();
  await until('the standby is synchronous', async () =>
    (await queryOne(primary.url, "select sync_state from pg_stat_replication where application_name = 'standby1'"))
      ?.sync_state === 'sync');

  const databaseUrl = `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres`;
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-failover-'));
  t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
  const secretKey = randomBytes(32).toString('hex');
  const storage = await openStorage({ databaseUrl, dataDirectory });
  const { merchant, password } = await createMerchant(
    { storage, vault: openVault({ secretKey, dataDirectory }), clock: systemClock },
    {
      email: 'ops@shop.test', callbackUrl: null, allowedIps: ['127.0.0.1', '::1'], channels: [],
      threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'FAILOVER.TEST',
    },
  );
  await storage.close();
  const server = await startServerProcess({
    PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(await freePort()),
    LOG_LEVEL: 'info', KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey, DATABASE_URL: databaseUrl,
  });
  t.after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
  });
  const load = startSaleLoad(() => server.address, { clientKey: merchant.clientKey, password }, {
    concurrency: 6, pauseMs: 10,
  });
  t.after(() => load.stop());
  await load.answered(100);

  primary.killHard();
  const killedAtMs = Date.now();
  // The operator's (or the orchestrator's) decision to promote takes a moment; SALEs go on.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await standby.promote();
  const promotedAtMs = Date.now();
  const succeededAfterPromotion = () => load.records.filter((record) => record.sentAtMs > promotedAtMs
    && record.outcome.kind === 'answered' && record.outcome.body.result === 'SUCCESS');
  await until('a SALE sent after the promotion succeeds', async () => succeededAfterPromotion().length > 0);
  const resumedAtMs = Math.min(...succeededAfterPromotion().map((record) => record.answeredAtMs));
  await load.answered(load.records.filter((record) => record.outcome.kind === 'answered').length + 50);
  await load.stop();
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.stderr());

  const duringFailover = load.records
    .filter((record) => record.sentAtMs >= killedAtMs && record.sentAtMs < resumedAtMs);
  const answers = new Set(duringFailover.map(({ outcome }) =>
    outcome.kind === 'answered' ? String(outcome.body.error_code ?? outcome.body.result) : outcome.kind));
  const successes = successfulPayments(load.records);
  const client = new pg.Client({ connectionString: standby.url });
  await client.connect();
  const { rows } = await client.query<{ trans_id: string; status: string }>('select trans_id, status from payments');
  await client.end();
  const onNewPrimary = new Map(rows.map((row) => [row.trans_id, row.status]));
  const lost = [...successes.values()].filter((transId) => onNewPrimary.get(transId) !== 'SETTLED');
  t.diagnostic(`answered SUCCESS: ${successes.size}; lost on the new primary: ${lost.length}; service resumed `
    + `${((resumedAtMs - promotedAtMs) / 1000).toFixed(2)} s after the promotion `
    + `(${((resumedAtMs - killedAtMs) / 1000).toFixed(2)} s after the kill); `
    + `answers meanwhile: ${[...answers].join(', ')}`);
  assert.deepEqual(lost, [], 'every payment answered SUCCESS is on the new primary');
  assert.ok(successes.size >= 150);
  assert.ok([...answers].every((answer) => answer === '900503' || answer === 'SUCCESS' || answer === 'DECLINED'),
    `while failing over every request is answered, with 900503 at worst: ${[...answers].join(', ')}`);
});
