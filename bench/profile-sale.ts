/**
 * `npx tsx bench/profile-sale.ts [sqlite|postgres]`: where a SALE's cost goes. Starts the real
 * server (src/server.ts, workers running) under `node --cpu-prof`, loads it with approved SALEs
 * for PROFILE_SECONDS (default 8) from 32 autocannon connections (or PROFILE_RATE evenly spaced
 * SALEs a second; PROFILE_LIMITS=1 routes the merchant to the bench's four limits), then prints
 *   - SALEs per second and, on PostgreSQL, what the database did per SALE (commits, rows
 *     inserted/updated/deleted per table, from pg_stat_* counters — no extension needed);
 *   - the Node functions with the most self time, from the .cpuprofile (path printed).
 * A tool for finding the next thing to speed up, not a measurement to quote: `npm run bench`
 * is that. Everything it starts or creates is removed at the end; it stops by itself.
 */
import autocannon, { type Result } from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { cardHashPart, saleHash } from '../src/protocol/hash.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const storage = process.argv[2] === 'sqlite' ? 'sqlite' : 'postgres';
const seconds = Number(process.env.PROFILE_SECONDS ?? 8);
const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const topFunctions = 30;
const hardStop = setTimeout(() => { console.error('profile: 120 s passed; giving up'); process.exit(1); }, 120_000);
hardStop.unref();

const work = mkdtempSync(join(os.tmpdir(), 'kassa-profile-'));
const schema = storage === 'postgres' ? `profile_${randomBytes(4).toString('hex')}` : '';
const admin = storage === 'postgres' ? new pg.Client({ connectionString: postgresUrl }) : undefined;
if (admin) {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
}
const port = await new Promise<number>((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const address = server.address() as net.AddressInfo;
    server.close(() => resolve(address.port));
  });
});
const environment = {
  ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', KASSA_DATA_DIR: join(work, 'data'),
  KASSA_SECRET_KEY: randomBytes(32).toString('hex'),
  DATABASE_URL: storage === 'postgres' ? postgresUrl : '', KASSA_PG_SCHEMA: schema,
};
const created = JSON.parse(execFileSync(process.execPath,
  ['bin/kassa.mjs', 'merchant', 'create', '--init', '--email', 'profile@kassa.test', '--three-ds', 'off', '--json'],
  { cwd: root, env: environment, encoding: 'utf8' }).trim().split('\n').at(-1)!) as { client_key: string; password: string };
if (process.env.PROFILE_LIMITS === '1') {
  // The bench's limits row: a MID with day, week and month limits far above the load, and a
  // mapping day limit, so every SALE reserves four limits in its own write.
  const routing = (...args: string[]) =>
    execFileSync(process.execPath, ['bin/kassa.mjs', 'routing', ...args], { cwd: root, env: environment });
  const huge = ['--currency', 'USD', '--amount', '1000000000.00'];
  routing('mid', 'create', '--name', 'profile-limited');
  for (const window of ['day', 'week', 'month']) {
    routing('limit', 'set', '--mid', 'profile-limited', '--window', window, ...huge);
  }
  routing('mapping', 'set', '--client-key', created.client_key, '--mids', 'profile-limited');
  routing('limit', 'set', '--client-key', created.client_key, '--window', 'day', ...huge);
}

const server = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', join(work, 'prof'), '--import', 'tsx', 'src/server.ts'],
  { cwd: root, env: environment, stdio: ['ignore', 'ignore', 'inherit'] });
const exited = new Promise((resolve) => server.once('exit', resolve));
for (let tries = 0; tries < 200; tries += 1) {
  const open = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  if (open) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const email = 'doe@example.com';
const form = (orderId: string) => new URLSearchParams({
  action: 'SALE', client_key: created.client_key, order_id: orderId, order_amount: '1.99', order_currency: 'USD',
  order_description: 'Product', card_number: '4111111111111111', card_exp_month: '01', card_exp_year: '2025',
  card_cvv2: '000', payer_first_name: 'John', payer_last_name: 'Doe', payer_address: 'Big street', payer_country: 'US',
  payer_state: 'CA', payer_city: 'City', payer_zip: '123456', payer_email: email, payer_phone: '199999999',
  payer_ip: '123.123.123.123', term_url_3ds: 'http://client.site.com/return.php',
  hash: saleHash({ email, password: created.password, cardDigits: cardHashPart('4111111111111111') }),
}).toString();

async function databaseCounters() {
  if (!admin) return undefined;
  const commits = await admin.query(`SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = current_database()`);
  const tables = await admin.query(`SELECT relname, n_tup_ins::bigint AS ins, n_tup_upd::bigint AS upd, n_tup_del::bigint AS del,
    seq_scan::bigint AS seq, idx_scan::bigint AS idx FROM pg_stat_user_tables WHERE schemaname = $1`, [schema]);
  return { commits: Number(commits.rows[0].n), tables: Object.fromEntries(tables.rows.map((row: Record<string, string>) => [row.relname, row])) };
}

/** CPU time (ms) used so far by every process of this name (Linux /proc): what PostgreSQL's
 * backends spent, which the server's own profile cannot show. */
function processCpuMs(name: string): number {
  let jiffies = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== name) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      jiffies += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return jiffies * 10; // USER_HZ is 100 on Linux
}

let counter = 0;
const pacedRate = Number(process.env.PROFILE_RATE ?? 0);

/** PROFILE_RATE=n: an open-loop generator instead — n evenly spaced SALEs a second, latency
 * counted from when each was due (what `npm run bench` calls "paced"). */
async function pacedLoad(duration: number): Promise<{ total: number; p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const latencies: number[] = [];
  const total = Math.round(pacedRate * duration);
  const startedAt = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const send = (dueAt: number) => {
      counter += 1;
      const body = form(`P-${counter}`);
      const request = http.request({ host: '127.0.0.1', port, path: '/post', method: 'POST', agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (response) => {
        response.resume();
        response.on('end', () => {
          latencies.push(performance.now() - dueAt);
          if (latencies.length === total) resolve();
        });
      });
      request.setTimeout(10_000, () => request.destroy());
      request.on('error', () => {
        latencies.push(10_000);
        if (latencies.length === total) resolve();
      });
      request.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - startedAt) / (1_000 / pacedRate)) + 1);
      while (sent < due) send(startedAt + (sent++) * (1_000 / pacedRate));
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { total, p50: latencies[Math.floor(total * 0.5)], p99: latencies[Math.floor(total * 0.99)] };
}

const load = (duration: number): Promise<Result> => Promise.resolve(autocannon({
  url: `http://127.0.0.1:${port}`, connections: 32, duration, timeout: 10,
  requests: [{
    method: 'POST', path: '/post', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    setupRequest: (request) => {
      counter += 1;
      return { ...request, body: form(`P-${counter}`) };
    },
  }],
}));
await load(2);
await new Promise((resolve) => setTimeout(resolve, 1_000)); // let the workers drain the warm-up
// pg_stat counters are sent by backends at transaction end and read from a snapshot; a fresh
// snapshot per read is what we want.
await admin?.query('SELECT pg_stat_clear_snapshot()');
const before = await databaseCounters();
const postgresCpuBeforeMs = processCpuMs('postgres');
const result = pacedRate > 0
  ? await pacedLoad(seconds).then(({ total, p50, p99 }) => ({
    requests: { total, average: total / seconds }, latency: { p50: Math.round(p50 * 10) / 10, p99: Math.round(p99 * 10) / 10 }, non2xx: 0,
  }))
  : await load(seconds);
const postgresCpuMs = processCpuMs('postgres') - postgresCpuBeforeMs;
await new Promise((resolve) => setTimeout(resolve, 1_500));
await admin?.query('SELECT pg_stat_clear_snapshot()');
const after = await databaseCounters();
server.kill('SIGTERM');
await exited;

const sales = result.requests.total;
console.log(`${storage}: ${Math.round(result.requests.average)} SALE/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`);
if (before && after) {
  console.log(`PostgreSQL per SALE: ${((after.commits - before.commits) / sales).toFixed(2)} commits (whole database), `
    + `${(postgresCpuMs / sales).toFixed(3)} ms of CPU (every postgres process, during the load)`);
  for (const [name, row] of Object.entries(after.tables)) {
    const was = before.tables[name] ?? { ins: 0, upd: 0, del: 0, seq: 0, idx: 0 };
    const per = (key: 'ins' | 'upd' | 'del' | 'seq' | 'idx') => ((Number(row[key]) - Number(was[key])) / sales).toFixed(2);
    if (per('ins') === '0.00' && per('upd') === '0.00' && per('idx') === '0.00' && per('seq') === '0.00') continue;
    console.log(`  ${name.padEnd(24)} ins ${per('ins')}  upd ${per('upd')}  del ${per('del')}  idx scans ${per('idx')}  seq scans ${per('seq')}`);
  }
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const profileFile = readdirSync(join(work, 'prof')).find((name) => name.endsWith('.cpuprofile'))!;
const profile = JSON.parse(readFileSync(join(work, 'prof', profileFile), 'utf8')) as
  { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const selfMicros = new Map<number, number>();
for (const [index, id] of profile.samples.entries()) {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
}
const byFunction = new Map<string, number>();
let totalMicros = 0;
for (const node of profile.nodes) {
  const micros = selfMicros.get(node.id) ?? 0;
  totalMicros += micros;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^file:\/\//, '').replace(`${root}/`, '').replace(/^.*node_modules\//, 'nm/');
  const key = `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
}
const idle = [...byFunction].filter(([key]) => key.startsWith('(idle)')).reduce((sum, [, micros]) => sum + micros, 0);
console.log(`Node: ${((totalMicros - idle) / 1000 / sales).toFixed(3)} ms of CPU per SALE (profile over the whole run incl. warm-up: divide with care)`);
for (const [key, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, topFunctions)) {
  console.log(`${(micros / (totalMicros - idle) * 100).toFixed(1).padStart(5)}%  ${key}`);
}
console.log(`profile: ${join(work, 'prof', profileFile)}`);
if (admin) {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
rmSync(join(work, 'data'), { recursive: true, force: true });
