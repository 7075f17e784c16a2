import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { systemClock } from '../../../src/domain/clock.ts';
import { createMerchant } from '../../../src/operations/manage-merchants.ts';
import { openVault } from '../../../src/security/vault.ts';
import { openStorage } from '../../../src/storage/database.ts';

/**
 * The "done when": a merchant's own TypeScript project installs the SDK (packed as it
 * would be published, installed from the tarball), is type-checked against its declarations,
 * and runs SALE, 3-D Secure, a refund and callback verification against `npm start`.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const databaseUrl = process.env.DATABASE_URL || undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `npm start` in its own process group (npm, sh and node), listening once it logs so. */
async function npmStart(environment: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn('npm', ['start'], { cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += String(chunk); });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen within 60 s: ${stderr}`)), 60_000);
    lines.on('line', (line) => {
      if (line.includes('"kassa is listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}: ${stderr}`));
    });
  });
  return child;
}

/** Packs the SDK and installs the tarball into a fresh project (no network: it has no dependencies). */
async function merchantProject(): Promise<string> {
  const project = mkdtempSync(join(tmpdir(), 'kassa-shop-'));
  await run('npm', ['pack', '--pack-destination', project, '--silent'], { cwd: join(root, 'packages/sdk') });
  const tarball = readdirSync(project).find((name) => name.endsWith('.tgz'))!;
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 'shop', private: true, type: 'module', dependencies: { '@kassa/sdk': `file:./${tarball}` },
  }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project });
  for (const file of ['shop.ts', 'tsconfig.json']) copyFileSync(join(root, 'packages/sdk/test/shop', file), join(project, file));
  // The merchant's compiler sees only the package's declarations (and Node's types).
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project,
    '--typeRoots', join(root, 'node_modules/@types')], { cwd: project });
  return project;
}

test('a merchant project installs the packed SDK and runs SALE, 3-D Secure, a refund and verified callbacks against npm start', {
  timeout: 240_000,
}, async (t) => {
  const cleanups: (() => Promise<void> | void)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const project = await merchantProject();
  cleanups.push(() => rmSync(project, { recursive: true, force: true }));

  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-sdk-'));
  cleanups.push(() => rmSync(dataDirectory, { recursive: true, force: true }));
  let schema: string | undefined;
  if (databaseUrl) {
    schema = `test_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
    cleanups.push(async () => {
      const dropper = new pg.Client({ connectionString: databaseUrl });
      await dropper.connect();
      await dropper.query(`DROP SCHEMA ${schema} CASCADE`);
      await dropper.end();
    });
  }
  const secretKey = randomBytes(32).toString('hex');
  const [kassaPort, callbackPort] = [await freePort(), await freePort()];
  const storage = await openStorage({ databaseUrl, dataDirectory, postgresSchema: schema });
  const context = { storage, vault: openVault({ secretKey, dataDirectory }), clock: systemClock };
  const common = { email: 'ops@shop.test', allowedIps: ['127.0.0.1', '::1'], channels: [], s2sCardEnabled: true };
  const shop = await createMerchant(context, {
    ...common, callbackUrl: `http://127.0.0.1:${callbackPort}/shop`, threeDsEnabled: false, descriptor: 'SHOP',
  });
  const secure = await createMerchant(context, {
    ...common, callbackUrl: `http://127.0.0.1:${callbackPort}/secure`, threeDsEnabled: true, descriptor: 'SECURE',
  });
  await storage.close();

  const kassa = await npmStart({
    PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(kassaPort), LOG_LEVEL: 'info',
    KASSA_PUBLIC_URL: `http://127.0.0.1:${kassaPort}`, KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, KASSA_PG_SCHEMA: schema } : {}),
  });
  const exited = new Promise((resolve) => kassa.once('exit', resolve));
  cleanups.push(async () => {
    process.kill(-kassa.pid!, 'SIGTERM');
    await exited;
  });

  const { stdout } = await run(process.execPath, [join(project, 'out/shop.js')], {
    cwd: project, timeout: 60_000,
    env: {
      ...process.env, KASSA_URL: `http://127.0.0.1:${kassaPort}/post`, CALLBACK_PORT: String(callbackPort),
      SHOP_KEY: shop.merchant.clientKey, SHOP_PASSWORD: shop.password,
      SECURE_KEY: secure.merchant.clientKey, SECURE_PASSWORD: secure.password,
    },
  });
  const outcome = JSON.parse(stdout);
  assert.equal(outcome.sale.status, 'SETTLED');
  assert.equal(outcome.refund.result, 'ACCEPTED');
  assert.deepEqual(outcome.challenge, { result: 'REDIRECT', status: '3DS' });
  assert.equal(outcome.afterChallenge.status, 'SETTLED');
  const callbacks: string[] = outcome.callbacks;
  assert.ok(callbacks.includes(`SALE SUCCESS SETTLED ${outcome.sale.trans_id}`), callbacks.join('\n'));
  assert.ok(callbacks.some((line) => line.startsWith('CREDITVOID SUCCESS') && line.endsWith(outcome.sale.trans_id)), callbacks.join('\n'));
  assert.ok(callbacks.includes(`SALE SUCCESS SETTLED ${outcome.afterChallenge.trans_id}`), callbacks.join('\n'));
});
