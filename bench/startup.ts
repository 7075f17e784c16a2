/**
 * `npm run bench:startup`: how long the compiled server (`node dist/server.js`, what `npm start`
 * runs) takes from spawn to accepting its first connection, on an empty SQLite database and on
 * one with BENCH_STARTUP_PAYMENTS payments (default 200,000), in the same run.
 *
 * The big database is made from one real SALE (through the app, in process): its payment,
 * operations and callback rows are copied N times in SQL with fresh keys, so rows are shaped
 * like real ones. Each start is repeated BENCH_STARTUP_RUNS times (default 5); the median wall
 * time and the median CPU time of the server process (utime+stime from /proc at the first
 * connection) are printed: on a shared machine CPU time is the steadier figure.
 */
import SqliteDatabase from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.ts';
import { configFromEnvironment } from '../src/config.ts';
import { createMerchant } from '../src/operations/manage-merchants.ts';
import { cardHashPart, saleHash } from '../src/protocol/hash.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const paymentsWanted = Number(process.env.BENCH_STARTUP_PAYMENTS ?? 200_000);
const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 5);
const startDeadlineMs = 30_000;
const clockTicksPerSecond = 100;

function environmentFor(dataDirectory: string, port: number, secretKey: string): NodeJS.ProcessEnv {
  return {
    ...process.env, DATABASE_URL: '', KASSA_PG_SCHEMA: '', KASSA_DATA_DIR: dataDirectory, KASSA_SECRET_KEY: secretKey,
    PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
  };
}

/** A data directory with a merchant and one approved SALE (and its callback row). */
async function seededDirectory(secretKey: string): Promise<string> {
  const dataDirectory = mkdtempSync(join(os.tmpdir(), 'kassa-bench-startup-'));
  const saved = { ...process.env };
  Object.assign(process.env, environmentFor(dataDirectory, 0, secretKey));
  const kassa = await buildApp(configFromEnvironment());
  process.env = saved;
  try {
    const { merchant, password } = await createMerchant(kassa.context, {
      email: 'bench@kassa.test', callbackUrl: 'http://127.0.0.1:9/callback', allowedIps: ['127.0.0.1', '::1'],
      channels: ['web'],
      threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'BENCH',
    });
    const payerEmail = 'doe@example.com';
    const answer = await kassa.app.inject({
      method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        action: 'SALE', client_key: merchant.clientKey, order_id: 'startup-1', order_amount: '1.99',
        order_currency: 'USD',
        order_description: 'Product', card_number: '4111111111111111', card_exp_month: '01', card_exp_year: '2025',
        card_cvv2: '000', payer_first_name: 'John', payer_last_name: 'Doe', payer_address: 'Big street',
        payer_country: 'US', payer_state: 'CA', payer_city: 'City', payer_zip: '123456', payer_email: payerEmail,
        payer_phone: '199999999', payer_ip: '123.123.123.123', term_url_3ds: 'http://client.site.com/return.php',
        hash: saleHash({ email: payerEmail, password, cardDigits: cardHashPart('4111111111111111') }),
      }).toString(),
    });
    if (answer.json().result !== 'SUCCESS') throw new Error(`seed SALE failed: ${answer.body}`);
  } finally {
    await kassa.close();
  }
  return dataDirectory;
}

/** Copies every row of `table` `copies` times, giving the listed columns a numbered suffix. */
function copyRows(file: SqliteDatabase.Database, table: string, numbered: string[], copies: number): void {
  const info = file.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  const columns = info.map((column) => column.name);
  const values = columns.map((column) => (numbered.includes(column) ? `${column} || '-' || seq.n` : column));
  file.exec(`INSERT INTO ${table} (${columns.join(', ')})
    SELECT ${values.join(', ')} FROM ${table},
      (WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${copies}) SELECT n FROM seq) seq`);
}

function grow(dataDirectory: string, payments: number): void {
  const file = new SqliteDatabase(join(dataDirectory, 'kassa.sqlite'));
  const copies = payments - 1;
  // Callbacks were delivered long ago in a database this size: only the seed's row stays pending.
  copyRows(file, 'payments', ['trans_id', 'order_id', 'request_fingerprint'], copies);
  copyRows(file, 'payment_operations', ['operation_id', 'trans_id'], copies);
  copyRows(file, 'outbox', ['outbox_id', 'trans_id'], copies);
  file.exec(`UPDATE outbox SET delivered_at_ms = created_at_ms WHERE outbox_id LIKE '%-%'`);
  file.close();
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

async function startOnce(
  dataDirectory: string, secretKey: string,
): Promise<{ wallSeconds: number; cpuSeconds: number }> {
  const port = await freePort();
  const startedAt = performance.now();
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/server.js'], {
    cwd: root, env: environmentFor(dataDirectory, port, secretKey), stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    while (performance.now() - startedAt < startDeadlineMs) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      if (await canConnect(port)) {
        return { wallSeconds: (performance.now() - startedAt) / 1_000, cpuSeconds: cpuSecondsOf(child.pid!) };
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('server did not accept a connection in time');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const median = (values: number[]) => [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)];

async function measure(label: string, dataDirectory: string, secretKey: string) {
  const samples = [];
  for (let run = 0; run < runs; run += 1) samples.push(await startOnce(dataDirectory, secretKey));
  const wall = median(samples.map((sample) => sample.wallSeconds));
  const cpu = median(samples.map((sample) => sample.cpuSeconds));
  console.log(`${label.padEnd(28)} wall ${wall.toFixed(3)} s   cpu ${cpu.toFixed(2)} s   (median of ${runs})`);
  return { wall, cpu };
}

const secretKey = randomBytes(32).toString('hex');
const small = await seededDirectory(secretKey);
const big = await seededDirectory(secretKey);
try {
  const growStartedAt = performance.now();
  grow(big, paymentsWanted);
  console.log(`built ${paymentsWanted} payments in ${((performance.now() - growStartedAt) / 1_000).toFixed(1)} s`);
  console.log(`load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}, ${os.cpus().length} cores`);
  const empty = await measure('1 payment', small, secretKey);
  const full = await measure(`${paymentsWanted} payments`, big, secretKey);
  const ratios = `wall ${(full.wall / empty.wall).toFixed(2)}, cpu ${(full.cpu / empty.cpu).toFixed(2)}`;
  console.log(`ratio big ÷ small: ${ratios}`);
  console.log(`load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`);
} finally {
  rmSync(small, { recursive: true, force: true });
  rmSync(big, { recursive: true, force: true });
}
