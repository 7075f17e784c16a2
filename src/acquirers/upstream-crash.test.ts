import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { systemClock } from '../domain/clock.ts';
import { createMerchant } from '../operations/manage-merchants.ts';
import { openVault } from '../security/vault.ts';
import { openStorage } from '../storage/database.ts';
import { advanceClockOffset } from '../storage/sandbox-clock.ts';
import { startCallbackReceiver } from '../testing/callback-receiver.ts';
import { FaultProxy } from '../testing/fault-proxy.ts';
import { orderFields, runKassa, saleFields, transactionFields } from '../testing/harness.ts';
import { serverProcessArguments } from '../testing/processes.ts';
import { createSchema } from '../testing/server-process.ts';
import { freePort, startUpstreamKassa } from '../testing/upstream-process.ts';

/**
 * The crash test of issue #11: Kassa is killed (SIGKILL) 30 times mid-operation — after the
 * upstream (a second, real Kassa process) approved or declined the SALE, before Kassa wrote the
 * outcome. Afterwards the reconciler has resolved every payment: each one's state at Kassa is the
 * upstream's, the upstream was asked to move money exactly once per payment (none charged twice),
 * the money matches, and every merchant callback went out. Real processes, real database.
 */
const kills = 30;
const root = fileURLToPath(new URL('../..', import.meta.url));
const databaseUrl = process.env.DATABASE_URL || undefined;
const pan = '4111111111111111';

interface Life {
  child: ChildProcess;
  address: string;
  exited: Promise<number | null>;
}

async function startKassa(environment: NodeJS.ProcessEnv): Promise<Life> {
  const child = spawn(process.execPath, serverProcessArguments(), {
    cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += String(chunk); });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kassa did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { msg?: string; address?: string };
      try {
        entry = JSON.parse(line) as { msg?: string; address?: string };
      } catch {
        return;
      }
      if (entry.msg === 'kassa is listening' && entry.address) {
        clearTimeout(timer);
        resolve(entry.address);
      }
    });
    void exited.then((code) => reject(new Error(`kassa exited with ${code}: ${stderr}`)));
  });
  return { child, address, exited };
}

async function postTo(url: string, fields: Record<string, string>): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return response.json();
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test(`SIGKILL ${kills} times after the upstream decided, before Kassa wrote: the reconciler makes Kassa equal it`, {
  timeout: 300_000,
}, async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-upstream-crash-'));
  const secretKey = randomBytes(32).toString('hex');
  const schema = databaseUrl ? await createSchema(databaseUrl) : undefined;
  const storage = await openStorage({ databaseUrl, dataDirectory, postgresSchema: schema?.schema });
  const upstream = await startUpstreamKassa();
  const proxy = await FaultProxy.start(upstream.url);
  const receiver = await startCallbackReceiver();
  const lives: Life[] = [];
  t.after(async () => {
    for (const life of lives) {
      if (life.child.exitCode === null && life.child.signalCode === null) life.child.kill('SIGKILL');
    }
    await Promise.all(lives.map((life) => life.exited));
    await proxy.close();
    await upstream.close();
    await receiver.close();
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
    await schema?.drop();
  });

  const vault = openVault({ secretKey, dataDirectory });
  const { merchant, password } = await createMerchant({ storage, vault, clock: systemClock }, {
    email: 'ops@shop.test', callbackUrl: receiver.url('/merchant'), allowedIps: ['127.0.0.1', '::1'], channels: [],
    threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'CRASH.TEST',
  });
  const shop = { clientKey: merchant.clientKey, password };
  const cli = { dataDirectory, secretKey, postgresSchema: schema?.schema };
  await runKassa(cli, 'routing', 'mid', 'create', '--name', 'upstream-psp', '--connector', 'upstream-s2s-card',
    '--setting', `baseUrl=${proxy.url}`, '--setting', `clientKey=${upstream.clientKey}`,
    '--setting', 'answerTimeoutMs=5000', '--secret', `password=${upstream.password}`);
  await runKassa(cli, 'routing', 'mapping', 'set', '--client-key', shop.clientKey, '--mids', 'upstream-psp');
  const port = await freePort();
  const environment: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info',
    KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey, KASSA_CALLBACK_TIMEOUT_MS: '2000',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, KASSA_PG_SCHEMA: schema!.schema } : {}),
  };

  // Every life: one SALE, the upstream decides (approve or decline by card), the answer is held
  // by the proxy, and Kassa is killed before it can write anything after its PREPARE.
  proxy.fault = 'noAnswerAfterCommit';
  const orders: { orderId: string; approved: boolean; amount: string }[] = [];
  for (let life = 0; life < kills; life += 1) {
    const kassa = await startKassa(environment);
    lives.push(kassa);
    const approved = life % 3 !== 2;
    const amount = `${10 + life}.25`;
    const card = { card_exp_month: approved ? '01' : '02', card_exp_year: '2038' };
    const fields = saleFields(shop, { order_amount: amount, ...card });
    orders.push({ orderId: fields.order_id, approved, amount });
    const forwardedBefore = proxy.forwarded;
    const sale = postTo(`${kassa.address}/post`, fields).catch(() => 'killed');
    await until('the upstream to decide', () => proxy.forwarded > forwardedBefore, 30_000);
    kassa.child.kill('SIGKILL');
    await kassa.exited;
    assert.equal(await sale, 'killed', 'Kassa never answered: it died first');
  }

  // The last life runs past the reconciler's grace (the sandbox clock moves on) and polls often.
  proxy.fault = 'none';
  await advanceClockOffset(storage, 5 * 60_000, Date.now());
  const kassa = await startKassa({ ...environment, KASSA_RECONCILER_POLL_MS: '200' });
  lives.push(kassa);
  const byOrder = async (orderId: string) => postTo(`${kassa.address}/post`, orderFields(shop, orderId, pan));
  const kassaStates = new Map<string, any>();
  await until('every payment resolved', async () => {
    for (const { orderId } of orders) {
      if (kassaStates.has(orderId)) continue;
      const state = await byOrder(orderId);
      if (state.status !== 'PREPARE') kassaStates.set(orderId, state);
    }
    return kassaStates.size === orders.length;
  }, 120_000);

  const upstreamSales = proxy.forwardedBodies.filter((body) => new URLSearchParams(body).get('action') === 'SALE');
  assert.equal(upstreamSales.length, kills, 'the upstream was asked to move money once per payment, never again');
  let kassaMinor = 0;
  let upstreamMinor = 0;
  for (const { orderId, approved, amount } of orders) {
    const state = kassaStates.get(orderId);
    const theirs = await postTo(`${upstream.url}post`, orderFields(upstream, state.trans_id, pan));
    assert.equal(state.status, theirs.status, `order ${orderId}: Kassa says what the upstream says`);
    assert.equal(state.status, approved ? 'SETTLED' : 'DECLINED');
    const ours = await postTo(`${kassa.address}/post`, transactionFields(shop, 'GET_TRANS_DETAILS', state.trans_id));
    const theirQuery = transactionFields(upstream, 'GET_TRANS_DETAILS', theirs.trans_id);
    const their = await postTo(`${upstream.url}post`, theirQuery);
    assert.equal(ours.amount, amount);
    assert.equal(their.amount, amount);
    const moved = (details: any) => details.transactions
      .filter((row: any) => row.type === 'SALE' && row.status === 'success')
      .reduce((sum: number, row: any) => sum + Math.round(Number(row.amount) * 100), 0);
    kassaMinor += moved(ours);
    upstreamMinor += moved(their);
  }
  assert.equal(kassaMinor, upstreamMinor, 'exactly the money the upstream moved');
  const expectedMinor = orders.filter((order) => order.approved)
    .reduce((sum, order) => sum + Math.round(Number(order.amount) * 100), 0);
  assert.equal(kassaMinor, expectedMinor, 'the approved payments, each once');
  await receiver.waitFor(kills, { timeoutMs: 60_000 });
  for (const { orderId, approved } of orders) {
    const callbacks = receiver.received.filter((received) => received.fields.order_id === orderId);
    assert.ok(callbacks.length >= 1, `the merchant got the callback of ${orderId}`);
    assert.equal(callbacks[0].fields.status, approved ? 'SETTLED' : 'DECLINED');
  }
});
