import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { systemClock } from '../domain/clock.ts';
import { createMerchant } from '../operations/manage-merchants.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { openVault } from '../security/vault.ts';
import { listCallbacks } from '../storage/callbacks.ts';
import { openStorage } from '../storage/database.ts';
import { advanceClockOffset } from '../storage/sandbox-clock.ts';
import { startCallbackReceiver } from '../testing/callback-receiver.ts';
import { saleFields } from '../testing/harness.ts';
import { serverProcessArguments } from '../testing/processes.ts';

/** A hang fails the test by name instead of stalling the whole suite. */
const testTimeoutMs = 90_000;

/**
 * Kill -9 between commit and delivery: the SALE is answered (its callback committed to the
 * outbox with it), the server dies before the callback goes out, and after a restart the
 * callback arrives, signed, with the right fields. Real processes, real database.
 *
 * Delivery is at least once (ARCHITECTURE.md, docs/adr/0002): on a loaded machine an attempt can
 * reach the merchant and still run past its 1 s timeout, and is then sent again. What the
 * merchant can rely on, and what this test asserts, is that every copy carries the same
 * X-Kassa-Callback-Id and the same signed fields, so it keeps exactly one; and that once Kassa
 * has recorded the callback delivered, it is never sent again.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const databaseUrl = process.env.DATABASE_URL || undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface RunningServer {
  child: ChildProcess;
  address: string;
  exited: Promise<number | null>;
}

/** Starts `src/server.ts` as its own process and waits for its 'kassa is listening' line. */
async function startServer(environment: NodeJS.ProcessEnv): Promise<RunningServer> {
  const child = spawn(process.execPath, serverProcessArguments(), {
    cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += String(chunk); });
  const lines = createInterface({ input: child.stdout! });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s: ${stderr}`)), 20_000);
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === 'kassa is listening' && entry.address) {
          clearTimeout(timer);
          resolve(entry.address);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });
  return { child, address, exited };
}

/** Waits (bounded) until Kassa has recorded the callback of `transId` delivered. */
async function deliveredCallback(storage: Awaited<ReturnType<typeof openStorage>>, transId: string) {
  const deadlineMs = Date.now() + 30_000;
  while (Date.now() < deadlineMs) {
    const [callback] = await listCallbacks(storage, { transId, limit: 10 });
    if (callback?.state === 'delivered') return callback;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the callback of ${transId} was not recorded delivered within 30 s`);
}

test('SIGKILL after the SALE answered and before its callback went out: after a restart it arrives, one callback id, delivered', { timeout: testTimeoutMs }, async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-crash-'));
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
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>> | undefined;
  t.after(async () => {
    for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await Promise.all(servers.map((server) => server.exited));
    await receiver?.close();
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
    if (schema) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    }
  });

  // The merchant's endpoint is down at first: nothing listens on its port.
  const receiverPort = await freePort();
  const { merchant, password } = await createMerchant(
    { storage, vault: openVault({ secretKey, dataDirectory }), clock: systemClock },
    {
      email: 'ops@shop.test', callbackUrl: `http://127.0.0.1:${receiverPort}/crash`, allowedIps: ['127.0.0.1', '::1'],
      channels: [], threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'CRASH.TEST',
    },
  );
  const environment: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', KASSA_CALLBACK_TIMEOUT_MS: '1000',
    KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, KASSA_PG_SCHEMA: schema } : {}),
  };

  // First life: the merchant's endpoint is down, so the callback committed with the SALE is
  // not delivered when the process is killed — whether the wake-up's first attempt was refused
  // and recorded (due again 10 s later) or was in flight (its lease, 13 s with a 1 s attempt
  // timeout, runs out first).
  const first = await startServer({ ...environment, KASSA_CALLBACK_POLL_MS: '600000' });
  servers.push(first);
  const fields = saleFields({ clientKey: merchant.clientKey, password });
  const response = await fetch(`${first.address}/post`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
  });
  const answer = await response.json() as { result: string; status: string; trans_id: string; order_id: string };
  assert.equal(answer.result, 'SUCCESS', JSON.stringify(answer));
  const [waiting] = await listCallbacks(storage, { transId: answer.trans_id, limit: 10 });
  assert.equal(waiting.state, 'pending');
  assert.ok(waiting.attempts.every((attempt) => attempt.outcome !== 'delivered'));
  first.child.kill('SIGKILL');
  await first.exited;
  assert.equal(first.child.signalCode, 'SIGKILL');

  // Second life, with the merchant's endpoint up. The sandbox clock moves past the first life's
  // lease and its retry time, so the test does not sit out the spec's 10 s retry step.
  await advanceClockOffset(storage, 60_000, Date.now());
  receiver = await startCallbackReceiver({ port: receiverPort });
  const second = await startServer({ ...environment, KASSA_CALLBACK_POLL_MS: '50' });
  servers.push(second);
  const [callback] = await receiver.waitFor(1, { timeoutMs: 30_000 });
  const delivered = await deliveredCallback(storage, answer.trans_id);
  // Several more polls pass after Kassa recorded the delivery: nothing more is sent.
  const copiesWhenDelivered = receiver.received.length;
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(receiver.received.length, copiesWhenDelivered, 'nothing is sent after the delivery was recorded');
  assert.ok(callback.callbackId, 'every callback names itself');
  for (const copy of receiver.received) {
    assert.equal(copy.callbackId, callback.callbackId, 'a repeat is the same callback, which the merchant can drop');
    assert.equal(copy.rawBody, callback.rawBody);
  }
  assert.equal(new Set(receiver.received.map((copy) => copy.callbackId)).size, 1, 'the merchant keeps exactly one');
  assert.equal(callback.path, '/crash');
  assert.equal(verifyCallback(callback.fields, { password, email: 'doe@example.com' }), true);
  const { hash: _hash, trans_date: transDate, ...rest } = callback.fields;
  assert.match(transDate, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.deepEqual(rest, {
    action: 'SALE', result: 'SUCCESS', status: 'SETTLED', order_id: answer.order_id, trans_id: answer.trans_id,
    card: '411111******1111', card_expiration_date: '01/2025', descriptor: 'CRASH.TEST', amount: '1.99', currency: 'USD',
  });
  assert.equal(delivered.attempts.filter((attempt) => attempt.outcome === 'delivered').length, 1);
  assert.ok(delivered.attempts.length >= receiver.received.length, 'every copy the merchant got is an attempt on record');

  // A clean stop (SIGTERM) ends the dispatcher and the server without error.
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});
