import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../domain/clock.ts';
import { createMerchant } from '../operations/manage-merchants.ts';
import { openVault } from '../security/vault.ts';
import { openStorage } from './database.ts';
import { clusterSkipReason, ThrowawayCluster } from '../testing/postgres-cluster.ts';
import { freePort, startSaleLoad, startServerProcess, successfulPayments } from '../testing/server-process.ts';

// Test lane: spawns processes (child_process: a PostgreSQL cluster and the server), see scripts/run-tests.mjs.

const skip = clusterSkipReason();

async function readiness(address: string): Promise<number> {
  try {
    const response = await fetch(`${address}/health/ready`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * PostgreSQL crashes (stop -m immediate) under a real SALE load and comes back (docs/adr/0065):
 * meanwhile every request is answered with the protocol's 900503 at once, nothing is cut off or
 * held to the client's timeout, /health/ready is 503; once it is back Kassa serves again by
 * itself, every payment answered SUCCESS is there, and none is half-written.
 * Its own throwaway cluster: the shared one on 5432 is never restarted.
 */
test('PostgreSQL down and back under SALE load: quick 900503 answers, not ready, recovers by itself, nothing lost', {
  timeout: 180_000, skip,
}, async (t) => {
  const cluster = await ThrowawayCluster.create();
  t.after(() => cluster.remove());
  await cluster.start();
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-pg-restart-'));
  t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
  const secretKey = randomBytes(32).toString('hex');
  const storage = await openStorage({ databaseUrl: cluster.url, dataDirectory });
  const { merchant, password } = await createMerchant(
    { storage, vault: openVault({ secretKey, dataDirectory }), clock: systemClock },
    {
      email: 'ops@shop.test', callbackUrl: null, allowedIps: ['127.0.0.1', '::1'], channels: [],
      threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'RESTART.TEST',
    },
  );
  await storage.close();
  const server = await startServerProcess({
    PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(await freePort()),
    LOG_LEVEL: 'info', KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey, DATABASE_URL: cluster.url,
  });
  t.after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
  });
  const load = startSaleLoad(() => server.address, { clientKey: merchant.clientKey, password }, {
    concurrency: 6, pauseMs: 20,
  });
  t.after(() => load.stop());
  await load.answered(60);
  for (let attempt = 0; attempt < 100 && (await readiness(server.address)) !== 200; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(await readiness(server.address), 200);

  const downAtMs = Date.now();
  await cluster.stop('immediate');
  const stoppedAtMs = Date.now();
  const before = load.records.length;
  await load.answered(load.records.filter((record) => record.outcome.kind === 'answered').length + 30)
    .catch((error: Error) => {
      const kinds = new Set(load.records.slice(before).map((record) => record.outcome.kind));
      throw new Error(`${error.message}; outcomes ${[...kinds].join(',')}; server: ${server.stderr().slice(0, 2_000)}`);
    });
  assert.equal(await readiness(server.address), 503, 'not ready while PostgreSQL is down');
  const duringOutage = load.records.slice(before).filter((record) => record.sentAtMs > stoppedAtMs);
  assert.ok(duringOutage.length >= 20);
  for (const record of duringOutage) {
    assert.equal(record.outcome.kind, 'answered', JSON.stringify(record.outcome));
    if (record.outcome.kind !== 'answered') continue;
    assert.equal(record.outcome.statusCode, 200);
    assert.equal(record.outcome.body.result, 'ERROR');
    assert.equal(record.outcome.body.error_code, 900503, JSON.stringify(record.outcome.body));
  }
  const slowestOutageAnswerMs = Math.max(...duringOutage.map((record) => record.answeredAtMs - record.sentAtMs));

  await cluster.start();
  const upAtMs = Date.now();
  let recoveredAtMs: number | undefined;
  while (recoveredAtMs === undefined && Date.now() - upAtMs < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const success = load.records.find((record) => record.sentAtMs > upAtMs && record.outcome.kind === 'answered'
      && record.outcome.body.result === 'SUCCESS');
    if (success) recoveredAtMs = success.answeredAtMs;
  }
  assert.ok(recoveredAtMs !== undefined, 'SALEs succeed again within 60 s of PostgreSQL\'s return');
  let ready = await readiness(server.address);
  for (let attempt = 0; attempt < 100 && ready !== 200; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    ready = await readiness(server.address);
  }
  assert.equal(ready, 200, 'ready again, the merchant-change listener reconnected');
  await load.answered(load.records.filter((record) => record.outcome.kind === 'answered').length + 30);
  await load.stop();
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  t.diagnostic(`down ${stoppedAtMs - downAtMs} ms to stop; ${duringOutage.length} requests during the outage, `
    + `slowest answer ${slowestOutageAnswerMs} ms; service back ${recoveredAtMs - upAtMs} ms after PostgreSQL`);

  const check = await openStorage({ databaseUrl: cluster.url, dataDirectory });
  t.after(() => check.close());
  const payments = await check.db.selectFrom('payments').select(['trans_id', 'status']).execute();
  const statusById = new Map(payments.map((row) => [row.trans_id, row.status]));
  const successes = successfulPayments(load.records);
  for (const transId of successes.values()) assert.equal(statusById.get(transId), 'SETTLED', transId);
  // Half-written: a payment without its SALE sub-transaction, or one still in PREPARE.
  const withoutOperation = await check.db.selectFrom('payments as p')
    .leftJoin('payment_operations as o', 'o.trans_id', 'p.trans_id')
    .select('p.trans_id').where('o.operation_id', 'is', null).execute();
  assert.deepEqual(withoutOperation, []);
  assert.deepEqual(payments.filter((row) => row.status === 'PREPARE'), []);
});
