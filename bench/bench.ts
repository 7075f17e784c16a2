/**
 * `npm run bench`: how close the platform's SALE path comes to the cheapest possible SALE-shaped
 * request on this machine, over real HTTP on 127.0.0.1, for SQLite and (when reachable)
 * PostgreSQL. Every load is bounded in time; every child process, temporary folder and
 * PostgreSQL schema is removed at the end, also on Ctrl-C or failure.
 *
 * Per storage:
 *   1. baseline peak — bench/baseline-server.ts (bare Fastify + parseFormText + one md5 + one
 *      committed ~30-column insert), autocannon, 32 connections;
 *   2. Kassa SALE peak — the real server (src/server.ts) with a merchant created by the CLI
 *      (3-D Secure off), approved test card, unique order_id per request;
 *   3. Kassa SALE at half that peak — autocannon `overallRate` (as asked), and an open-loop
 *      paced generator (evenly spaced requests, latency measured from the intended send time);
 *      see the note printed with the table for why both;
 *   4. GET_TRANS_STATUS peak over ~200 trans_ids answered by the SALE run (Formula 2 hash);
 *   5. ratio Kassa SALE req/s ÷ baseline req/s (target ≥ 0.7) and p99 at half peak (≤ 10 ms,
 *      issue 15's aim); under the table, where the paced row's tail went (bench/tail-row.ts):
 *      the share over 10 ms at the client and inside the server, the server's event-loop delay
 *      and GC pauses, and the timer lateness of an idle probe process beside the load;
 *   6. SALE with limits: the merchant routed (by the CLI) to a MID with day/week/month limits
 *      and a mapping day limit, SALE peak again, interleaved (plain, limited, limited, plain)
 *      with a second merchant on the default unlimited route on the same server and database;
 *      ratio of the summed req/s (target ≥ 0.9), and, for comparison, to the SALE peak row.
 *   7. metrics cost (issue 13): SALE peak on fresh servers started with metrics on and with
 *      KASSA_METRICS=off, in the order on, off, off, on (so a drift over the four loads cancels),
 *      after a priming load that is not counted (the first load on a fresh schema is slow);
 *      ratio on ÷ off of the summed req/s (target ≥ 0.97). BENCH_METRICS_ROW=0 leaves it out;
 *      BENCH_ONLY=metrics runs only this row.
 * Each load also reports the cores used by the server, PostgreSQL, this generator and everything
 * else (/proc), and flags BUSY when unrelated work took a share. Prints a table and writes the
 * results as JSON to a fresh folder under the OS temp dir (path printed last); runs in ~2 min.
 *
 *   6. scheduler: BENCH_SCHEDULER_DUE (default 20,000; 0: none) bindings due at once, charged by
 *      the server's scheduler after `kassa clock advance 1d` (bench/scheduler-row.ts): charges/s
 *      and its ratio to the SALE peak of the same run (aim ≥ 0.5). BENCH_ONLY=scheduler runs only
 *      the SALE peak and this row.
 *   8. BENCH_ONLY=large (PostgreSQL only, issue 15's "past memory"): a small (BENCH_LARGE_SMALL,
 *      default 10,000) and a large (BENCH_LARGE_PAYMENTS, default 10,000,000) database of copied
 *      real payments (bench/large-row.ts), GET_TRANS_STATUS, GET_TRANS_STATUS_BY_ORDER and SALE
 *      peaks on each, and large ÷ small (aim ≥ 0.8). Building 10M takes a while; disk ~30 GB.
 * Environment (all optional): BENCH_DURATION (seconds per measured load, default 8),
 * BENCH_WARMUP (seconds, default 2), BENCH_CONNECTIONS (default 32), BENCH_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), BENCH_SKIP_POSTGRES=1.
 */
import autocannon, { type Instance, type Result } from 'autocannon';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { cardHashPart, orderHash, saleHash, transactionHash } from '../src/protocol/hash.ts';
import { seedLargeDatabase } from './large-row.ts';
import { benchScheduler, type SchedulerRowResult } from './scheduler-row.ts';
import { type TailAttribution, watchTail } from './tail-row.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const durationSeconds = Number(process.env.BENCH_DURATION ?? 8);
const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Hard ceiling on the whole run: whatever happens, it stops by itself. */
/** Due charges in the scheduler row (BENCH_SCHEDULER_DUE; 0 leaves the row out). */
const schedulerDue = Number(process.env.BENCH_SCHEDULER_DUE ?? 20_000);
/** The scheduler row's own bound: at the 0.5× SALE-peak aim, 20k charges take well under a minute. */
const schedulerDeadlineMs = Math.max(60_000, schedulerDue * 2);
/** BENCH_ONLY=scheduler: only the SALE peak (the row's yardstick) and the scheduler row. */
const onlyScheduler = process.env.BENCH_ONLY === 'scheduler';
/** BENCH_ONLY=metrics: only the metrics-cost row (its own servers and database). */
const onlyMetrics = process.env.BENCH_ONLY === 'metrics';
/** BENCH_ONLY=large: only the large-database rows. */
const onlyLarge = process.env.BENCH_ONLY === 'large';
const largeSizes = {
  small: Number(process.env.BENCH_LARGE_SMALL ?? 10_000),
  large: Number(process.env.BENCH_LARGE_PAYMENTS ?? 10_000_000),
};
const metricsRowWanted = !onlyScheduler && process.env.BENCH_METRICS_ROW !== '0';
/** The metrics row: four loads per storage, each on a server started for it. */
const metricsRowMs = metricsRowWanted ? 4 * (durationSeconds + warmupSeconds + 8) * 1_000 : 0;
/** The limits row: two warm-ups and four loads on the running server, and its CLI set-up. */
const limitsRowMs = (2 * (warmupSeconds + 1) + 4 * (durationSeconds + 1) + 10) * 1_000;
const overallDeadlineMs = onlyLarge
  // Seeding on this machine: 3,500–9,000 copies/s; bounded at 2,000/s, the loads take minutes.
  ? 600_000 + largeSizes.large / 2
  : 240_000 + (schedulerDue > 0 ? 2 * schedulerDeadlineMs : 0) + 2 * metricsRowMs + 2 * limitsRowMs;

const startWaitMs = 20_000;
const statusIdsWanted = 200;
/** Pause between loads so requests still in flight from one do not land in the next. */
const settleMs = 750;
/** More than this many cores used by unrelated processes during a load marks its row BUSY. */
const busyOtherCores = 0.3;
const targets = { ratio: 0.7, p99HalfPeakMs: 10, limitsRatio: 0.9, metricsRatio: 0.97 };

const card = { number: '4111111111111111', month: '01', year: '2025', cvv: '000' };
const payerEmail = 'doe@example.com';

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started or created is registered here and undone on every exit path.

interface Started {
  label: string;
  child: ChildProcess;
  stdoutLines: string[];
  stdoutLineCount: number;
  stderrTail: string;
  exited: Promise<number | null>;
  hasExited: boolean;
  /** Epoch ms when SIGTERM was sent: log lines after it belong to shutdown, not to a load. */
  stopRequestedAt?: number;
  /** pino lines at warn (40) or worse, counted as they arrive, split at SIGTERM. */
  log: ServerLog;
}

interface ServerLog {
  lines: number;
  warnOrWorse: number;
  warnOrWorseDuringShutdown: number;
  /** warn-or-worse lines by their `msg`, e.g. { 'callback given up': 1200 }. */
  byMessage: Record<string, number>;
  first: string[];
  firstDuringShutdown: string[];
}

function observeLogLine(started: Started, line: string): void {
  if (line.trim() === '') return;
  let level = 60;
  let message = '(not JSON)';
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string };
    level = Number(entry.level);
    message = String(entry.msg ?? '');
  } catch {
    // a line that is not pino JSON (a crash trace) counts as an error
  }
  const log = started.log;
  log.lines += 1;
  if (!(level >= 40)) return;
  log.warnOrWorse += 1;
  log.byMessage[message] = (log.byMessage[message] ?? 0) + 1;
  if (started.stopRequestedAt !== undefined) {
    log.warnOrWorseDuringShutdown += 1;
    if (log.firstDuringShutdown.length < 2) log.firstDuringShutdown.push(line.slice(0, 500));
  } else if (log.first.length < 3) {
    log.first.push(line.slice(0, 500));
  }
}

const children = new Set<Started>();
const temporaryDirectories = new Set<string>();
const postgresSchemas = new Set<string>();
const activeLoads = new Set<{ stop(): void }>();
let cleaningUp: Promise<void> | undefined;

async function stopChild(started: Started): Promise<void> {
  if (!started.hasExited) {
    started.stopRequestedAt = Date.now();
    started.child.kill('SIGTERM');
    const timer = setTimeout(() => { if (!started.hasExited) started.child.kill('SIGKILL'); }, 5_000);
    await started.exited;
    clearTimeout(timer);
  }
  children.delete(started);
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    postgresSchemas.delete(schema);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  temporaryDirectories.delete(directory);
}

function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const load of activeLoads) load.stop();
    await Promise.all([...children].map((started) => stopChild(started)));
    for (const directory of [...temporaryDirectories]) removeDirectory(directory);
    for (const schema of [...postgresSchemas]) {
      await dropSchema(schema).catch((error: Error) => console.error(`could not drop schema ${schema}: ${error.message}`));
    }
  })();
  return cleaningUp;
}

// Last resort if the process exits without the async cleanup having run.
process.on('exit', () => {
  for (const started of children) if (!started.hasExited) started.child.kill('SIGKILL');
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping loads, child processes and removing temporary data…`);
    const forced = setTimeout(() => process.exit(130), 10_000);
    forced.unref();
    void cleanup().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  console.error(`bench: overall deadline of ${overallDeadlineMs / 1000} s passed; aborting`);
  const forced = setTimeout(() => process.exit(1), 10_000);
  forced.unref();
  void cleanup().finally(() => process.exit(1));
}, overallDeadlineMs);
watchdog.unref();

// ---------------------------------------------------------------------------------------------
// Child processes.

function startChild(label: string, args: string[], environment: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, args, { cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  const started: Started = {
    label, child, stdoutLines: [], stdoutLineCount: 0, stderrTail: '', hasExited: false,
    log: { lines: 0, warnOrWorse: 0, warnOrWorseDuringShutdown: 0, byMessage: {}, first: [], firstDuringShutdown: [] },
    exited: new Promise((resolve) => child.once('exit', (code) => { started.hasExited = true; resolve(code); })),
  };
  child.once('error', () => { started.hasExited = true; });
  children.add(started);
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      started.stdoutLineCount += 1;
      if (started.stdoutLines.length < 200) started.stdoutLines.push(line);
      observeLogLine(started, line);
      newline = pending.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    started.stderrTail = (started.stderrTail + chunk).slice(-8_000);
  });
  return started;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(what: string, started: Started, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + startWaitMs;
  while (Date.now() < deadline) {
    if (started.hasExited) throw new Error(`${started.label} exited while ${what}:\n${started.stderrTail || started.stdoutLines.join('\n')}`);
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`${started.label}: gave up after ${startWaitMs / 1000} s ${what}:\n${started.stderrTail}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function runCli(args: string[], environment: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/kassa.mjs', ...args], { cwd: root, env: environment, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kassa ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

interface MerchantCredentials { clientKey: string; password: string }

/** --init: on SQLite the CLI refuses a data directory without a database unless told to create one. */
const merchantCreateArguments = ['merchant', 'create', '--init', '--email', 'bench@kassa.test', '--three-ds', 'off', '--json'];

const runTag = randomBytes(3).toString('hex');
let orderCounter = 0;
const nextOrderId = () => {
  orderCounter += 1;
  return `B${runTag}-${orderCounter}`;
};

/** The SALE form with every field fixed but order_id: the Formula 1 hash does not sign it. */
function saleBodyTemplate(merchant: MerchantCredentials): (orderId: string) => string {
  const marker = 'ORDERIDMARKER';
  const form = new URLSearchParams({
    action: 'SALE', client_key: merchant.clientKey, order_id: marker, order_amount: '1.99', order_currency: 'USD',
    order_description: 'Product', card_number: card.number, card_exp_month: card.month, card_exp_year: card.year,
    card_cvv2: card.cvv, payer_first_name: 'John', payer_last_name: 'Doe', payer_address: 'Big street', payer_country: 'US',
    payer_state: 'CA', payer_city: 'City', payer_zip: '123456', payer_email: payerEmail, payer_phone: '199999999',
    payer_ip: '123.123.123.123', term_url_3ds: 'http://client.site.com/return.php',
    hash: saleHash({ email: payerEmail, password: merchant.password, cardDigits: cardHashPart(card.number) }),
  }).toString();
  const [before, after] = form.split(marker);
  return (orderId) => before + encodeURIComponent(orderId) + after;
}

function statusBodies(merchant: MerchantCredentials, transIds: string[]): string[] {
  return transIds.map((transId) => new URLSearchParams({
    action: 'GET_TRANS_STATUS', client_key: merchant.clientKey, trans_id: transId,
    hash: transactionHash({ email: payerEmail, password: merchant.password, cardDigits: cardHashPart(card.number) }, transId),
  }).toString());
}

// ---------------------------------------------------------------------------------------------
// Answers: every body is parsed and checked (the same client cost for baseline and platform).

class Tally {
  responses = 0;
  ok = 0;
  errors = 0;
  statusCodes: Record<string, number> = {};
  results: Record<string, number> = {};
  firstErrors: string[] = [];
  transIds: string[] = [];

  constructor(private readonly collectTransIds = 0) {}

  record(status: number, body: string): void {
    this.responses += 1;
    this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
    let parsed: { result?: unknown; trans_id?: unknown } | undefined;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const result = typeof parsed?.result === 'string' ? parsed.result : '(no JSON result)';
    this.results[result] = (this.results[result] ?? 0) + 1;
    if (status >= 200 && status < 300 && result === 'SUCCESS') {
      this.ok += 1;
      if (this.transIds.length < this.collectTransIds && typeof parsed?.trans_id === 'string') this.transIds.push(parsed.trans_id);
      return;
    }
    this.errors += 1;
    if (this.firstErrors.length < 5) this.firstErrors.push(`HTTP ${status}: ${body.slice(0, 400)}`);
  }

  failure(message: string): void {
    this.errors += 1;
    if (this.firstErrors.length < 5) this.firstErrors.push(message);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc): who used the two cores during a load — the server, this process
// (the load generator) or something else on the machine. Other work makes every number lower.

interface CpuShare { server: number; database: number; bench: number; other: number; idle: number }

function cpuJiffies(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { busy: total - fields[3] - fields[4], total };
  } catch {
    return undefined;
  }
}

function processJiffies(pid: number | 'self'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** CPU of every PostgreSQL process (backends, WAL writer, checkpointer), by pid. */
function postgresJiffies(): Map<string, number> {
  const byPid = new Map<string, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return byPid;
  }
  for (const pid of entries) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      if (name !== 'postgres' && !name.startsWith('postgres:')) continue;
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      byPid.set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the process ended between listing and reading
    }
  }
  return byPid;
}

function cpuMeter(serverPid: number | undefined): () => CpuShare | undefined {
  const cores = os.cpus().length;
  const database = postgresJiffies();
  const machine = cpuJiffies();
  const server = serverPid === undefined ? 0 : processJiffies(serverPid);
  const bench = processJiffies('self');
  return () => {
    const machineAfter = cpuJiffies();
    const serverAfter = serverPid === undefined ? 0 : processJiffies(serverPid);
    const benchAfter = processJiffies('self');
    let databaseUsed = 0;
    for (const [pid, jiffies] of postgresJiffies()) databaseUsed += jiffies - (database.get(pid) ?? 0);
    if (!machine || !machineAfter || server === undefined || serverAfter === undefined || bench === undefined || benchAfter === undefined) return undefined;
    const total = machineAfter.total - machine.total;
    if (total <= 0) return undefined;
    const inCores = (jiffies: number) => round((jiffies / total) * cores);
    const busy = inCores(machineAfter.busy - machine.busy);
    const serverCores = inCores(serverAfter - server);
    const benchCores = inCores(benchAfter - bench);
    const databaseCores = inCores(databaseUsed);
    return {
      server: serverCores, database: databaseCores, bench: benchCores,
      other: round(Math.max(0, busy - serverCores - databaseCores - benchCores)), idle: round(cores - busy),
    };
  };
}

// ---------------------------------------------------------------------------------------------
// Loads.

interface LoadResult {
  name: string;
  kind: 'autocannon' | 'paced';
  requestedRate?: number;
  durationSeconds: number;
  requestsPerSecond: number;
  completed: number;
  /** autocannon's own histogram (coordinated-omission corrected when a rate is set). */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Raw per-response times as measured (autocannon 'response' events), uncorrected. */
  rawP50Ms?: number;
  rawP99Ms?: number;
  non2xx: number;
  connectionErrors: number;
  timeouts: number;
  bodyErrors: number;
  results: Record<string, number>;
  firstErrors: string[];
  /** Cores used during the load by the server, by this process, by anything else; and idle. */
  cpu?: CpuShare;
  /** Paced loads: the share of answers slower than the p99 target, and where the tail went. */
  shareOverTarget?: number;
  tail?: TailAttribution;
  /** Not run (BENCH_ONLY): left out of the table. */
  skipped?: boolean;
  /** The baseline server's stderr (tail), for the report. */
  stderrTail?: string;
}

function skippedLoad(name: string): LoadResult {
  return {
    name, kind: 'autocannon', durationSeconds: 0, requestsPerSecond: 0, completed: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0,
    maxMs: 0, non2xx: 0, connectionErrors: 0, timeouts: 0, bodyErrors: 0, results: {}, firstErrors: [], skipped: true,
  };
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))];
}

const round = (value: number, digits = 2) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

async function autocannonLoad(options: {
  name: string; url: string; body: () => string; tally: Tally; seconds: number; overallRate?: number; serverPid?: number;
}): Promise<LoadResult> {
  const rawLatencies: number[] = [];
  const meter = cpuMeter(options.serverPid);
  const instance: Instance = autocannon({
    url: options.url,
    connections,
    duration: options.seconds,
    timeout: 10,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: [{
      method: 'POST',
      path: '/post',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (request) => { request.body = options.body(); return request; },
      onResponse: (status, body) => options.tally.record(status, body),
    }],
  });
  instance.on('response', (...args: unknown[]) => { rawLatencies.push(args[3] as number); });
  activeLoads.add(instance);
  // autocannon stops itself after `duration`; this is the belt to those braces.
  const guard = setTimeout(() => instance.stop(), (options.seconds + 15) * 1_000);
  let result: Result;
  try {
    result = await instance;
  } finally {
    clearTimeout(guard);
    activeLoads.delete(instance);
  }
  const cpu = meter();
  rawLatencies.sort((a, b) => a - b);
  return {
    name: options.name,
    kind: 'autocannon',
    requestedRate: options.overallRate,
    durationSeconds: round(result.duration),
    requestsPerSecond: round(result.requests.average, 1),
    completed: result.requests.total,
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    rawP50Ms: round(percentile(rawLatencies, 0.5)),
    rawP99Ms: round(percentile(rawLatencies, 0.99)),
    non2xx: result.non2xx,
    connectionErrors: result.errors,
    timeouts: result.timeouts,
    bodyErrors: options.tally.errors,
    results: options.tally.results,
    firstErrors: options.tally.firstErrors,
    cpu,
  };
}

/**
 * Open loop: request i is due at start + i/rate whatever happened to earlier ones, sent on a
 * keep-alive pool of `connections` sockets, and its latency counts from when it was due — so
 * a stall shows up in the percentiles instead of silently slowing the sender down.
 */
async function pacedLoad(options: {
  name: string; port: number; body: () => string; tally: Tally; seconds: number; rate: number; serverPid?: number;
}): Promise<LoadResult> {
  const meter = cpuMeter(options.serverPid);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const intervalMs = 1_000 / options.rate;
  let sent = 0;
  let finished = 0;
  let non2xx = 0;
  let connectionErrors = 0;
  let timeouts = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const handle = { stop() { stopped = true; agent.destroy(); wake?.(); } };
  activeLoads.add(handle);

  const send = (dueAt: number) => {
    const payload = options.body();
    const request = http.request({
      host: '127.0.0.1', port: options.port, path: '/post', method: 'POST', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(payload) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        latencies.push(performance.now() - dueAt);
        const status = response.statusCode ?? 0;
        if (status < 200 || status >= 300) non2xx += 1;
        options.tally.record(status, Buffer.concat(chunks).toString('utf8'));
        finished += 1;
        wake?.();
      });
    });
    request.setTimeout(10_000, () => { timeouts += 1; request.destroy(new Error('timeout')); });
    request.on('error', (error) => {
      connectionErrors += 1;
      if (!stopped) options.tally.failure(`request error: ${error.message}`);
      finished += 1;
      wake?.();
    });
    request.end(payload);
  };

  const startedAt = performance.now();
  try {
    await new Promise<void>((resolve) => {
      const tick = () => {
        if (stopped) return resolve();
        const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1);
        while (sent < due) {
          send(startedAt + sent * intervalMs);
          sent += 1;
        }
        if (sent < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    // Let the last requests finish (bounded).
    const drainDeadline = performance.now() + 10_000;
    while (!stopped && finished < sent && performance.now() < drainDeadline) {
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 50); });
    }
  } finally {
    wake = undefined;
    activeLoads.delete(handle);
    agent.destroy();
  }
  const cpu = meter();
  const elapsedSeconds = (performance.now() - startedAt) / 1_000;
  latencies.sort((a, b) => a - b);
  return {
    name: options.name,
    kind: 'paced',
    requestedRate: options.rate,
    durationSeconds: round(elapsedSeconds),
    requestsPerSecond: round(latencies.length / elapsedSeconds, 1),
    completed: latencies.length,
    p50Ms: round(percentile(latencies, 0.5)),
    p90Ms: round(percentile(latencies, 0.9)),
    p99Ms: round(percentile(latencies, 0.99)),
    maxMs: round(latencies.at(-1) ?? Number.NaN),
    shareOverTarget: latencies.filter((latency) => latency > targets.p99HalfPeakMs).length / (latencies.length || 1),
    non2xx, connectionErrors, timeouts,
    bodyErrors: options.tally.errors,
    results: options.tally.results,
    firstErrors: options.tally.firstErrors,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------
// One storage, end to end.

type StorageName = 'sqlite' | 'postgres';

interface StorageReport {
  storage: StorageName;
  baseline: LoadResult;
  salePeak: LoadResult;
  saleHalfAutocannon: LoadResult;
  saleHalfPaced: LoadResult;
  statusPeak: LoadResult;
  scheduler?: SchedulerRowResult & { cpu?: CpuShare; ratioToSalePeak: number };
  ratio: number;
  /** SALE peak with day, week and month limits, interleaved with SALE peak without. */
  limitsCost?: LimitsCost;
  /** Fresh servers with metrics on and KASSA_METRICS=off, loads in the order on, off, off, on. */
  metricsCost?: MetricsCost;
  statusIdsUsed: number;
  serverLog: ServerLog;
  baselineStderr: string;
  kassaStderr: string;
}

function progress(message: string): void {
  process.stdout.write(`[${((performance.now() - benchStartedAt) / 1_000).toFixed(1).padStart(5)} s] ${message}\n`);
}

function storageEnvironment(storage: StorageName, schema: string | undefined): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...process.env };
  // An inherited DATABASE_URL must not turn the SQLite run into a PostgreSQL one.
  environment.DATABASE_URL = storage === 'postgres' ? postgresUrl : '';
  environment.KASSA_PG_SCHEMA = storage === 'postgres' ? schema : '';
  return environment;
}

async function createSchema(prefix: string): Promise<string> {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    postgresSchemas.add(schema);
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  return schema;
}

async function benchStorage(storage: StorageName): Promise<StorageReport> {
  if (onlyMetrics) return metricsOnlyReport(storage, await benchMetricsCost(storage));
  const baseline = onlyScheduler ? skippedLoad('baseline SALE-shaped peak') : await benchBaseline(storage);
  const report = await benchKassa(storage, baseline);
  return metricsRowWanted ? { ...report, metricsCost: await benchMetricsCost(storage) } : report;
}

interface MetricsCost {
  /** Loads in the order run: on, off, off, on. */
  loads: Array<{ metrics: 'on' | 'off'; load: LoadResult }>;
  /** Summed req/s with metrics ÷ summed req/s without. */
  ratio: number;
  /** Server CPU per SALE (ms), on and off: steadier than req/s when the machine is shared. */
  serverCpuPerSaleMs: { on: number; off: number };
}

/** What metrics cost a SALE (issue 13: "SALE req/s within 3% of before"): the same server and
 * database with and without them, each load on a freshly started server, in an ABBA order. */
async function benchMetricsCost(storage: StorageName): Promise<MetricsCost> {
  const dataDirectory = mkdtempSync(join(os.tmpdir(), 'kassa-bench-metrics-'));
  temporaryDirectories.add(dataDirectory);
  const schema = storage === 'postgres' ? await createSchema('bench_metrics') : undefined;
  const environment: NodeJS.ProcessEnv = {
    ...storageEnvironment(storage, schema),
    HOST: '127.0.0.1', LOG_LEVEL: 'warn', KASSA_DATA_DIR: dataDirectory,
    KASSA_SECRET_KEY: randomBytes(32).toString('hex'),
  };
  const cliOutput = await runCli(merchantCreateArguments, environment);
  const created = JSON.parse(cliOutput.trim().split('\n').at(-1) ?? '{}') as { client_key?: string; password?: string };
  if (!created.client_key || !created.password) throw new Error('metrics row: the CLI created no merchant');
  const saleBody = saleBodyTemplate({ clientKey: created.client_key, password: created.password });
  const loads: MetricsCost['loads'] = [];
  // The first load on a fresh PostgreSQL schema is the slowest of the five by 10-25% whatever
  // the setting (0.82 and 0.72 "on ÷ off" with "on" first, 1.00 with "off" first): a priming
  // load, not counted, takes that penalty.
  for (const [index, metrics] of (['on', 'on', 'off', 'off', 'on'] as const).entries()) {
    const priming = index === 0;
    const port = await freePort();
    const kassa = startChild(`kassa server (${storage}, metrics ${metrics})`, ['--import', 'tsx', 'src/server.ts'],
      { ...environment, PORT: String(port), KASSA_METRICS: metrics });
    await waitFor(`waiting for port ${port}`, kassa, async () => ((await canConnect(port)) ? true : undefined));
    const url = `http://127.0.0.1:${port}`;
    const body = () => saleBody(nextOrderId());
    await autocannonLoad({ name: 'warm-up', url, body, tally: new Tally(), seconds: warmupSeconds });
    await sleep(settleMs);
    progress(`${storage}: SALE peak with metrics ${metrics}${priming ? ' (priming, not counted)' : ''}, `
      + `${connections} connections, ${durationSeconds} s`);
    const load = await autocannonLoad({
      name: `Kassa SALE peak, metrics ${metrics}`, url, body, tally: new Tally(),
      seconds: durationSeconds, serverPid: kassa.child.pid,
    });
    if (!priming) loads.push({ metrics, load });
    await stopChild(kassa);
    await sleep(settleMs);
  }
  removeDirectory(dataDirectory);
  if (schema) await dropSchema(schema);
  const summed = (wanted: 'on' | 'off') => loads.filter((entry) => entry.metrics === wanted)
    .reduce((total, entry) => total + entry.load.requestsPerSecond, 0);
  const cpuPerSale = (wanted: 'on' | 'off') => {
    const chosen = loads.filter((entry) => entry.metrics === wanted);
    const cores = chosen.reduce((total, entry) => total + (entry.load.cpu?.server ?? Number.NaN), 0);
    return round((cores * 1_000) / summed(wanted), 3);
  };
  return {
    loads, ratio: round(summed('on') / summed('off'), 3),
    serverCpuPerSaleMs: { on: cpuPerSale('on'), off: cpuPerSale('off') },
  };
}

function metricsOnlyReport(storage: StorageName, metricsCost: MetricsCost): StorageReport {
  return {
    storage, baseline: skippedLoad('baseline'), salePeak: skippedLoad('SALE peak'),
    saleHalfAutocannon: skippedLoad('half peak'), saleHalfPaced: skippedLoad('half peak paced'),
    statusPeak: skippedLoad('GET_TRANS_STATUS peak'),
    metricsCost, ratio: 0, statusIdsUsed: 0,
    serverLog: {
      lines: 0, warnOrWorse: 0, warnOrWorseDuringShutdown: 0, byMessage: {}, first: [], firstDuringShutdown: [],
    },
    baselineStderr: '', kassaStderr: '',
  };
}

async function benchBaseline(storage: StorageName): Promise<LoadResult> {
  // --- Baseline -------------------------------------------------------------------------------
  const baselineDirectory = mkdtempSync(join(os.tmpdir(), 'kassa-bench-baseline-'));
  temporaryDirectories.add(baselineDirectory);
  const baselineSchema = storage === 'postgres' ? await createSchema('bench_base') : undefined;
  const baselineCredentials = { clientKey: '6f2d3c1e-0b7a-4c8e-9d5f-1a2b3c4d5e6f', password: randomBytes(16).toString('hex') };
  const baselineServer = startChild(`baseline server (${storage})`, ['--import', 'tsx', 'bench/baseline-server.ts'], {
    ...storageEnvironment(storage, undefined),
    BENCH_STORAGE: storage, BENCH_DATA_DIR: baselineDirectory, BENCH_PG_SCHEMA: baselineSchema ?? '',
    BENCH_CLIENT_KEY: baselineCredentials.clientKey, BENCH_PASSWORD: baselineCredentials.password,
  });
  const baselinePort = await waitFor('waiting for its port on stdout', baselineServer, async () => {
    const line = baselineServer.stdoutLines[0];
    if (!line) return undefined;
    const port = (JSON.parse(line) as { port?: number }).port;
    if (!port) throw new Error(`baseline server printed no port: ${line}`);
    return port;
  });
  const baselineUrl = `http://127.0.0.1:${baselinePort}`;
  const baselineBody = saleBodyTemplate(baselineCredentials);
  progress(`${storage}: baseline server on port ${baselinePort}; warming up ${warmupSeconds} s`);
  await autocannonLoad({ name: 'warm-up', url: baselineUrl, body: () => baselineBody(nextOrderId()), tally: new Tally(), seconds: warmupSeconds });
  await sleep(settleMs);
  progress(`${storage}: baseline peak, ${connections} connections, ${durationSeconds} s`);
  const baseline = await autocannonLoad({
    name: 'baseline SALE-shaped peak', url: baselineUrl, body: () => baselineBody(nextOrderId()), tally: new Tally(), seconds: durationSeconds,
    serverPid: baselineServer.child.pid,
  });
  await sleep(settleMs);
  await stopChild(baselineServer);
  removeDirectory(baselineDirectory);
  if (baselineSchema) await dropSchema(baselineSchema);
  baseline.stderrTail = baselineServer.stderrTail.slice(-1_000);
  return baseline;
}

async function benchKassa(storage: StorageName, baseline: LoadResult): Promise<StorageReport> {
  // --- Kassa ----------------------------------------------------------------------------------
  const dataDirectory = mkdtempSync(join(os.tmpdir(), 'kassa-bench-data-'));
  temporaryDirectories.add(dataDirectory);
  const schema = storage === 'postgres' ? await createSchema('bench') : undefined;
  const port = await freePort();
  const environment: NodeJS.ProcessEnv = {
    ...storageEnvironment(storage, schema),
    PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', KASSA_DATA_DIR: dataDirectory,
    KASSA_SECRET_KEY: randomBytes(32).toString('hex'),
  };
  progress(`${storage}: creating a merchant with the CLI (3-D Secure off)`);
  const cliOutput = await runCli(merchantCreateArguments, environment);
  const created = JSON.parse(cliOutput.trim().split('\n').at(-1) ?? '{}') as { client_key?: string; password?: string };
  if (!created.client_key || !created.password) throw new Error(`unexpected CLI output: ${cliOutput}`);
  const merchant = { clientKey: created.client_key, password: created.password };

  const kassa = startChild(`kassa server (${storage})`, ['--import', 'tsx', 'src/server.ts'], environment);
  await waitFor(`waiting for port ${port} to accept connections`, kassa, async () => ((await canConnect(port)) ? true : undefined));
  const kassaUrl = `http://127.0.0.1:${port}`;
  const saleBody = saleBodyTemplate(merchant);
  progress(`${storage}: Kassa on port ${port}; warming up ${warmupSeconds} s`);
  const warmupTally = new Tally();
  await autocannonLoad({ name: 'warm-up', url: kassaUrl, body: () => saleBody(nextOrderId()), tally: warmupTally, seconds: warmupSeconds });
  await sleep(settleMs);
  if (warmupTally.ok === 0) {
    throw new Error(`Kassa approved no SALE during warm-up; first answers:\n${warmupTally.firstErrors.join('\n')}`);
  }

  progress(`${storage}: Kassa SALE peak, ${connections} connections, ${durationSeconds} s`);
  const peakTally = new Tally(statusIdsWanted);
  const salePeak = await autocannonLoad({
    name: 'Kassa SALE peak', url: kassaUrl, body: () => saleBody(nextOrderId()), tally: peakTally, seconds: durationSeconds,
    serverPid: kassa.child.pid,
  });
  await sleep(settleMs);
  const halfRate = Math.max(1, Math.floor(salePeak.requestsPerSecond / 2));
  const { saleHalfAutocannon, saleHalfPaced, statusPeak, statusIdsUsed } = onlyScheduler
    ? {
      saleHalfAutocannon: skippedLoad('half peak'), saleHalfPaced: skippedLoad('half peak paced'),
      statusPeak: skippedLoad('GET_TRANS_STATUS peak'), statusIdsUsed: 0,
    }
    : await benchHalfPeakAndStatus(storage, kassa, port, saleBody, halfRate, peakTally, merchant);

  const scheduler = schedulerDue > 0
    ? await schedulerRow(storage, kassa, { dataDirectory, schema, environment, merchant, saleBody, salePeak })
    : undefined;
  const limitsCost = onlyScheduler ? undefined
    : await limitedSalePeak(storage, environment, merchant, kassaUrl, saleBody, kassa.child.pid);

  await stopChild(kassa);
  removeDirectory(dataDirectory);
  if (schema) await dropSchema(schema);

  return {
    storage,
    baseline,
    salePeak,
    saleHalfAutocannon,
    saleHalfPaced,
    statusPeak,
    limitsCost,
    scheduler,
    ratio: round(salePeak.requestsPerSecond / baseline.requestsPerSecond, 3),
    statusIdsUsed,
    serverLog: kassa.log,
    baselineStderr: baseline.stderrTail ?? '',
    kassaStderr: kassa.stderrTail.slice(-1_000),
  };
}

/** The scheduler row on the running server (bench/scheduler-row.ts). It runs before the limits
 * row, which routes the merchant to limits that every charge would then reserve too. */
async function schedulerRow(storage: StorageName, kassa: Started, run: {
  dataDirectory: string; schema: string | undefined; environment: NodeJS.ProcessEnv; merchant: MerchantCredentials;
  saleBody: (orderId: string) => string; salePeak: LoadResult;
}): Promise<StorageReport['scheduler']> {
  progress(`${storage}: scheduler, ${schedulerDue} bindings due at once after \`kassa clock advance 1d\``);
  const meter = cpuMeter(kassa.child.pid);
  const row = await benchScheduler({
    storage, kassaUrl: `http://127.0.0.1:${run.environment.PORT}`, dataDirectory: run.dataDirectory, postgresUrl,
    postgresSchema: run.schema, clientKey: run.merchant.clientKey, password: run.merchant.password,
    saleBody: run.saleBody, advanceClockOneDay: () => runCli(['clock', 'advance', '1d'], run.environment),
    dueCount: schedulerDue, deadlineMs: schedulerDeadlineMs,
  });
  const cpu = meter();
  await sleep(settleMs);
  return { ...row, cpu, ratioToSalePeak: round(row.chargesPerSecond / run.salePeak.requestsPerSecond, 3) };
}

async function benchHalfPeakAndStatus(
  storage: StorageName, kassa: Started, port: number, saleBody: (orderId: string) => string, halfRate: number,
  peakTally: Tally, merchant: MerchantCredentials,
) {
  const kassaUrl = `http://127.0.0.1:${port}`;

  progress(`${storage}: Kassa SALE at half peak (${halfRate}/s), autocannon overallRate, ${durationSeconds} s`);
  const saleHalfAutocannon = await autocannonLoad({
    name: 'Kassa SALE @ half peak (autocannon overallRate)', url: kassaUrl, body: () => saleBody(nextOrderId()),
    tally: new Tally(), seconds: durationSeconds, overallRate: halfRate, serverPid: kassa.child.pid,
  });
  await sleep(settleMs);
  progress(`${storage}: Kassa SALE at half peak (${halfRate}/s), open-loop paced, ${durationSeconds} s`);
  const tail = await watchTail(port, targets.p99HalfPeakMs);
  const saleHalfPaced = await pacedLoad({
    name: 'Kassa SALE @ half peak (paced, open loop)', port, body: () => saleBody(nextOrderId()),
    tally: new Tally(), seconds: durationSeconds, rate: halfRate, serverPid: kassa.child.pid,
  });
  saleHalfPaced.tail = await tail.finish(saleHalfPaced.shareOverTarget ?? Number.NaN);
  await sleep(settleMs);

  const bodies = statusBodies(merchant, peakTally.transIds);
  if (bodies.length === 0) throw new Error('the SALE peak run returned no trans_id to query');
  let statusIndex = 0;
  const statusBody = () => {
    statusIndex += 1;
    return bodies[statusIndex % bodies.length];
  };
  progress(`${storage}: GET_TRANS_STATUS peak over ${bodies.length} trans_ids, ${durationSeconds} s`);
  await autocannonLoad({ name: 'warm-up', url: kassaUrl, body: statusBody, tally: new Tally(), seconds: 1 });
  await sleep(settleMs);
  const statusPeak = await autocannonLoad({
    name: 'Kassa GET_TRANS_STATUS peak', url: kassaUrl, body: statusBody, tally: new Tally(), seconds: durationSeconds,
    serverPid: kassa.child.pid,
  });
  // autocannon drops its connections at the deadline with requests still in flight; let the
  // server finish them before SIGTERM so shutdown is measured on a quiet server.
  await sleep(settleMs);
  return { saleHalfAutocannon, saleHalfPaced, statusPeak, statusIdsUsed: bodies.length };
}

/** What limits cost a SALE, measured on one server and one database. */
interface LimitsCost {
  /** The loads in the order they ran: plain, limited, limited, plain. */
  loads: { limited: boolean; load: LoadResult }[];
  /** Summed req/s of the limited loads ÷ that of the plain ones. */
  ratio: number;
}

/**
 * The merchant is moved (by the CLI, while the server runs) onto a MID with day, week and
 * month limits far above the load, and on a mapping with a day limit: every SALE then reserves
 * four limits in its own write. A second merchant, made now, keeps the default unlimited route.
 * The two are loaded in the order plain, limited, limited, plain on the same server, so the
 * ratio compares them at the same database size: against the SALE peak row, measured on an
 * almost empty database before the scheduler row's charges, it also counted the growth.
 * The ratio must stay ≥ 0.9.
 */
async function limitedSalePeak(
  storage: StorageName, environment: NodeJS.ProcessEnv, merchant: MerchantCredentials, kassaUrl: string,
  saleBody: (orderId: string) => string, serverPid: number | undefined,
): Promise<LimitsCost> {
  await sleep(settleMs);
  progress(`${storage}: routing the merchant to a MID with limits (CLI)`);
  const huge = '1000000000.00';
  const cli = (...args: string[]) => runCli(['routing', ...args], environment);
  await cli('mid', 'create', '--name', 'bench-limited');
  for (const window of ['day', 'week', 'month']) {
    await cli('limit', 'set', '--mid', 'bench-limited', '--window', window, '--currency', 'USD', '--amount', huge);
  }
  await cli('mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'bench-limited');
  const dayLimit = ['--window', 'day', '--currency', 'USD', '--amount', huge];
  await cli('limit', 'set', '--client-key', merchant.clientKey, ...dayLimit);
  const plainOutput = await runCli(['merchant', 'create', '--email', 'plain@kassa.test', '--three-ds', 'off', '--json'],
    environment);
  const plain = JSON.parse(plainOutput.trim().split('\n').at(-1) ?? '{}') as { client_key?: string; password?: string };
  if (!plain.client_key || !plain.password) throw new Error(`limits row: the CLI created no merchant: ${plainOutput}`);
  const plainBody = saleBodyTemplate({ clientKey: plain.client_key, password: plain.password });
  const bodies = { limited: () => saleBody(nextOrderId()), plain: () => plainBody(nextOrderId()) };
  for (const body of Object.values(bodies)) {
    await autocannonLoad({ name: 'warm-up', url: kassaUrl, body, tally: new Tally(), seconds: warmupSeconds });
    await sleep(settleMs);
  }
  const loads: LimitsCost['loads'] = [];
  for (const limited of [false, true, true, false]) {
    const name = limited ? 'Kassa SALE with limits peak' : 'Kassa SALE peak beside it (no limits)';
    progress(`${storage}: ${name}, ${connections} connections, ${durationSeconds} s`);
    const load = await autocannonLoad({
      name, url: kassaUrl, body: limited ? bodies.limited : bodies.plain, tally: new Tally(),
      seconds: durationSeconds, serverPid,
    });
    loads.push({ limited, load });
    await sleep(settleMs);
  }
  const summed = (limited: boolean) => loads.filter((entry) => entry.limited === limited)
    .reduce((total, entry) => total + entry.load.requestsPerSecond, 0);
  return { loads, ratio: round(summed(true) / summed(false), 3) };
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 });
  const attempt = (async () => {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  })().catch(() => false);
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_500).unref());
  const reachable = await Promise.race([attempt, timeout]);
  await client.end().catch(() => undefined);
  return reachable;
}

// ---------------------------------------------------------------------------------------------
// Output.

function errorCount(load: LoadResult): number {
  return load.bodyErrors + load.connectionErrors + load.timeouts;
}

function tableRows(report: StorageReport): string[][] {
  const cpu = (load: LoadResult) => (load.cpu
    ? [load.cpu.server, load.cpu.database, load.cpu.bench, load.cpu.other].map((value) => value.toFixed(2)).join('/') : 'n/a');
  const row = (load: LoadResult, label: string, verdict = '') => [
    report.storage, label, load.requestsPerSecond.toFixed(0), String(load.p50Ms), String(load.p99Ms),
    load.rawP99Ms === undefined ? '' : String(load.rawP99Ms), String(errorCount(load)),
    cpu(load) + ((load.cpu?.other ?? 0) > busyOtherCores ? ' BUSY' : ''), verdict,
  ];
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const { scheduler } = report;
  const schedulerRows = scheduler ? [
    [report.storage,
      `scheduler: ${scheduler.dueCount} due, ${scheduler.charged} charged in ${scheduler.seconds.toFixed(1)} s`,
      scheduler.chargesPerSecond.toFixed(0), '', '', '', String(scheduler.dueCount - scheduler.distinct),
      scheduler.cpu ? [scheduler.cpu.server, scheduler.cpu.database, scheduler.cpu.bench, scheduler.cpu.other]
        .map((value) => value.toFixed(2)).join('/') : 'n/a', ''],
    [report.storage, 'ratio scheduler ÷ SALE peak', scheduler.ratioToSalePeak.toFixed(3), '', '', '', '', '',
      `≥0.5: ${pass(scheduler.ratioToSalePeak >= 0.5)}`],
  ] : [];
  const all = [
    row(report.baseline, `baseline peak (${connections} conn)`),
    row(report.salePeak, `Kassa SALE peak (${connections} conn)`),
    row(report.saleHalfAutocannon, `SALE @ ${report.saleHalfAutocannon.requestedRate}/s autocannon`,
      `p99≤${targets.p99HalfPeakMs}: ${pass(report.saleHalfAutocannon.p99Ms <= targets.p99HalfPeakMs)}`),
    row(report.saleHalfPaced, `SALE @ ${report.saleHalfPaced.requestedRate}/s paced`,
      `p99≤${targets.p99HalfPeakMs}: ${pass(report.saleHalfPaced.p99Ms <= targets.p99HalfPeakMs)}`),
    row(report.statusPeak, `GET_TRANS_STATUS peak (${report.statusIdsUsed} ids)`),
    [report.storage, 'ratio SALE ÷ baseline', report.ratio.toFixed(3), '', '', '', '', '', `≥${targets.ratio}: ${pass(report.ratio >= targets.ratio)}`],
  ];
  const loads = [report.baseline, report.salePeak, report.saleHalfAutocannon, report.saleHalfPaced, report.statusPeak];
  const kept = all.filter((_, index) => index >= loads.length ? !report.baseline.skipped : !loads[index].skipped);
  const cpuPerSaleMs = report.metricsCost?.serverCpuPerSaleMs ?? { on: Number.NaN, off: Number.NaN };
  const metricsRows = report.metricsCost ? [
    ...report.metricsCost.loads.map(({ metrics, load }) => row(load, `SALE peak, metrics ${metrics} (fresh server)`)),
    [report.storage, 'ratio SALE metrics on ÷ off', report.metricsCost.ratio.toFixed(3), '', '', '', '', '',
      `≥${targets.metricsRatio}: ${pass(report.metricsCost.ratio >= targets.metricsRatio)}`],
    [report.storage, 'server CPU ms per SALE, metrics on / off', `${cpuPerSaleMs.on}/${cpuPerSaleMs.off}`,
      '', '', '', '', '', ''],
  ] : [];
  return [...kept, ...tailRows(report), ...schedulerRows, ...limitsRows(report), ...metricsRows];
}

/** The limits row's four loads and two ratios: to the plain loads beside them (the target) and,
 * for comparison with earlier runs, to the SALE peak row. */
function limitsRows(report: StorageReport): string[][] {
  const cost = report.limitsCost;
  if (!cost) return [];
  const cpu = (load: LoadResult) => (load.cpu
    ? [load.cpu.server, load.cpu.database, load.cpu.bench, load.cpu.other].map((value) => value.toFixed(2)).join('/')
    : 'n/a');
  const limited = cost.loads.filter((entry) => entry.limited);
  const toPeakRow = round(limited.reduce((total, entry) => total + entry.load.requestsPerSecond, 0)
    / limited.length / report.salePeak.requestsPerSecond, 3);
  return [
    ...cost.loads.map(({ limited: isLimited, load }) => [report.storage,
      isLimited ? `SALE with limits peak (${connections} conn)` : 'SALE peak beside it, no limits',
      load.requestsPerSecond.toFixed(0), String(load.p50Ms), String(load.p99Ms), '', String(errorCount(load)),
      cpu(load) + ((load.cpu?.other ?? 0) > busyOtherCores ? ' BUSY' : ''), '']),
    [report.storage, 'ratio SALE with limits ÷ SALE beside it', cost.ratio.toFixed(3), '', '', '', '', '',
      `≥${targets.limitsRatio}: ${cost.ratio >= targets.limitsRatio ? 'PASS' : 'FAIL'}`],
    [report.storage, 'ratio SALE with limits ÷ SALE peak row', toPeakRow.toFixed(3), '', '', '', '', '', ''],
  ];
}

/** Where the paced row's tail went (bench/tail-row.ts), as two rows under the table. */
function tailRows(report: StorageReport): string[][] {
  const tail = report.saleHalfPaced.tail;
  if (!tail || report.saleHalfPaced.skipped) return [];
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  return [
    [report.storage, `paced: over ${targets.p99HalfPeakMs} ms at client ${percent(tail.clientShareOverTarget)}, `
      + `in server ${percent(tail.serverShareOverTarget)}`, '', '', '', '', '', '', ''],
    [report.storage, `paced: server loop delay p99/max ${tail.serverLoopDelayP99Ms}/${tail.serverLoopDelayMaxMs} ms, `
      + `GC>10ms ${tail.gcPausesOver10Ms} (${tail.gcMsPerSecond} ms/s), `
      + `idle probe p99/max ${tail.probeLatenessP99Ms}/${tail.probeLatenessMaxMs} ms`, '', '', '', '', '', '', ''],
  ];
}

function renderTable(rows: string[][]): string {
  const header = ['storage', 'test', 'req/s', 'p50 ms', 'p99 ms', 'raw p99', 'errors', 'cpu srv/pg/gen/other', 'target'];
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((cells) => cells[column].length)));
  const numeric = new Set([2, 3, 4, 5, 6]);
  const line = (cells: string[]) => cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------

const benchStartedAt = performance.now();

async function main(): Promise<number> {
  const cpus = os.cpus();
  progress(`Kassa bench: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}, ${connections} connections, ${durationSeconds} s per load`);
  const reports: StorageReport[] = [];
  const skipped: string[] = [];
  const failures: string[] = [];

  const storages: StorageName[] = ['sqlite'];
  if (process.env.BENCH_SKIP_POSTGRES === '1') {
    skipped.push('PostgreSQL: skipped (BENCH_SKIP_POSTGRES=1)');
  } else if (await postgresReachable()) {
    storages.push('postgres');
  } else {
    skipped.push('PostgreSQL: skipped (not reachable)');
    progress('PostgreSQL: skipped (not reachable)');
  }
  for (const storage of storages) {
    try {
      reports.push(await benchStorage(storage));
    } catch (error) {
      failures.push(`${storage}: ${(error as Error).message}`);
      progress(`${storage}: FAILED — ${(error as Error).message}`);
      await cleanup();
      cleaningUp = undefined;
    }
  }

  console.log('\n=== Kassa benchmark (127.0.0.1, autocannon 8) ===');
  console.log(`machine: ${cpus.length} cores (${cpus[0]?.model ?? '?'}), load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}, Node ${process.version}`);
  if (reports.length > 0) console.log(`\n${renderTable(reports.flatMap(tableRows))}`);
  console.log(`
p50/p99: autocannon's histogram (whole ms; with overallRate it adds coordinated-omission samples);
raw p99: the same run's per-response times, uncorrected. "paced": open-loop generator, requests evenly
spaced at the rate shown, latency counted from when each request was due.
autocannon's overallRate is bursty: each connection sends its per-second quota back-to-back at the
top of every second, then idles — so the paced row is the one that reflects "half of peak".
errors: non-SUCCESS bodies + non-2xx + connection errors + timeouts.
cpu: cores used during the load by the server / PostgreSQL processes / this load generator / every
other process on the machine (out of ${cpus.length}). BUSY: other > ${busyOtherCores} core — the machine was shared
during that load, so its numbers understate what the code can do; rerun on a quiet machine.`);
  for (const line of skipped) console.log(line);

  for (const report of reports) {
    const loads = [report.baseline, report.salePeak, report.saleHalfAutocannon, report.saleHalfPaced, report.statusPeak];
    for (const load of loads) {
      if (errorCount(load) === 0) continue;
      console.log(`\n${report.storage} — ${load.name}: ${errorCount(load)} errors (non2xx ${load.non2xx}, connection ${load.connectionErrors}, timeouts ${load.timeouts}); results ${JSON.stringify(load.results)}`);
      for (const body of load.firstErrors) console.log(`  ${body}`);
    }
    const { serverLog } = report;
    if (serverLog.warnOrWorse - serverLog.warnOrWorseDuringShutdown > 0) {
      console.log(`\n${report.storage} — Kassa logged ${serverLog.warnOrWorse - serverLog.warnOrWorseDuringShutdown} warn/error lines under load (by message, whole run: ${JSON.stringify(serverLog.byMessage)}); first:`);
      for (const line of serverLog.first) console.log(`  ${line}`);
    }
    if (serverLog.warnOrWorseDuringShutdown > 0) {
      console.log(`\n${report.storage} — Kassa logged ${serverLog.warnOrWorseDuringShutdown} warn/error lines after SIGTERM; first:`);
      for (const line of serverLog.firstDuringShutdown) console.log(`  ${line}`);
    }
    if (report.kassaStderr.trim()) console.log(`\n${report.storage} — Kassa stderr (tail):\n${report.kassaStderr}`);
  }
  for (const failure of failures) console.log(`\nFAILED ${failure}`);

  const resultsDirectory = mkdtempSync(join(os.tmpdir(), 'kassa-bench-results-'));
  mkdirSync(resultsDirectory, { recursive: true });
  const resultsFile = join(resultsDirectory, 'latest.json');
  writeFileSync(resultsFile, `${JSON.stringify({
    at: new Date().toISOString(),
    machine: { cores: cpus.length, model: cpus[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings: { connections, durationSeconds, warmupSeconds, postgresUrl: postgresUrl.replace(/:[^:@/]*@/, ':***@') },
    targets,
    reports,
    skipped,
    failures,
    totalSeconds: round((performance.now() - benchStartedAt) / 1_000, 1),
  }, null, 2)}\n`);
  console.log(`\nresults JSON: ${resultsFile}`);
  console.log(`total time: ${((performance.now() - benchStartedAt) / 1_000).toFixed(1)} s`);
  return failures.length > 0 ? 1 : 0;
}

interface LargeReport {
  payments: number;
  seedSeconds: number;
  totalBytes: number;
  loads: { status: LoadResult; byOrder: LoadResult; sale: LoadResult };
}

/** One database of `payments` copied payments (bench/large-row.ts) and the three peaks on it. */
async function benchLargeDatabase(payments: number): Promise<LargeReport> {
  const schema = await createSchema(`bench_large_${payments}`);
  const port = await freePort();
  const environment: NodeJS.ProcessEnv = {
    ...storageEnvironment('postgres', schema), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
    KASSA_DATA_DIR: mkdtempSync(join(os.tmpdir(), 'kassa-bench-large-')),
    KASSA_SECRET_KEY: randomBytes(32).toString('hex'),
  };
  temporaryDirectories.add(environment.KASSA_DATA_DIR!);
  const cliOutput = await runCli(merchantCreateArguments, environment);
  const merchant = JSON.parse(cliOutput.trim().split('\n').at(-1) ?? '{}') as { client_key: string; password: string };
  const credentials = { clientKey: merchant.client_key, password: merchant.password };
  const kassa = startChild(`kassa server (large ${payments})`, ['--import', 'tsx', 'src/server.ts'], environment);
  await waitFor(`waiting for port ${port}`, kassa, async () => ((await canConnect(port)) ? true : undefined));
  const url = `http://127.0.0.1:${port}`;
  const saleBody = saleBodyTemplate(credentials);
  const sale = () => saleBody(nextOrderId());
  await autocannonLoad({ name: 'warm-up', url, body: sale, tally: new Tally(), seconds: warmupSeconds });
  progress(`large: copying ${payments} payments into ${schema}`);
  const seeded = await seedLargeDatabase({
    postgresUrl, schema, clientKey: credentials.clientKey, copies: payments, batch: 20_000, progress,
  });
  const terms = { email: payerEmail, password: credentials.password, cardDigits: cardHashPart(card.number) };
  const statusBodies = seeded.transIds.map((transId) => new URLSearchParams({
    action: 'GET_TRANS_STATUS', client_key: credentials.clientKey, trans_id: transId,
    hash: transactionHash(terms, transId),
  }).toString());
  const orderBodies = seeded.orderIds.map((orderId) => new URLSearchParams({
    action: 'GET_TRANS_STATUS_BY_ORDER', client_key: credentials.clientKey, order_id: orderId,
    hash: orderHash(terms, orderId),
  }).toString());
  const cycling = (bodies: string[]) => {
    let index = 0;
    return () => {
      index += 1;
      return bodies[index % bodies.length]!;
    };
  };
  const peak = async (name: string, body: () => string) => {
    await sleep(settleMs);
    progress(`large ${payments}: ${name}, ${connections} connections, ${durationSeconds} s`);
    const serverPid = kassa.child.pid;
    return autocannonLoad({ name, url, body, tally: new Tally(), seconds: durationSeconds, serverPid });
  };
  const loads = {
    status: await peak('GET_TRANS_STATUS peak', cycling(statusBodies)),
    byOrder: await peak('GET_TRANS_STATUS_BY_ORDER peak', cycling(orderBodies)),
    sale: await peak('SALE peak', sale),
  };
  await stopChild(kassa);
  await dropSchema(schema);
  return { payments, seedSeconds: seeded.seconds, totalBytes: seeded.totalBytes, loads };
}

async function largeMain(): Promise<number> {
  if (!(await postgresReachable())) {
    console.log('large: PostgreSQL not reachable; nothing measured');
    return 1;
  }
  const small = await benchLargeDatabase(largeSizes.small);
  const large = await benchLargeDatabase(largeSizes.large);
  const rows: string[][] = [];
  for (const report of [small, large]) {
    for (const [label, load] of Object.entries(report.loads)) {
      rows.push([`${report.payments}`, label, load.requestsPerSecond.toFixed(0), String(load.p50Ms), String(load.p99Ms),
        String(errorCount(load)), `${(report.totalBytes / 2 ** 30).toFixed(1)} GiB`]);
    }
  }
  for (const label of ['status', 'byOrder', 'sale'] as const) {
    const ratio = large.loads[label].requestsPerSecond / small.loads[label].requestsPerSecond;
    const verdict = `≥0.8: ${ratio >= 0.8 ? 'PASS' : 'FAIL'}`;
    rows.push(['ratio', `${label} large ÷ small`, ratio.toFixed(3), '', '', '', verdict]);
  }
  const header = ['payments', 'load', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'size / target'];
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  const loadAverage = os.loadavg().map((value) => value.toFixed(2)).join(' ');
  console.log(`\n=== Kassa large-database bench (PostgreSQL), load average ${loadAverage} ===`);
  console.log([line(header), ...rows.map(line)].join('\n'));
  console.log(`seeding: ${small.seedSeconds.toFixed(0)} s (small), ${large.seedSeconds.toFixed(0)} s (large); `
    + `memory ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`);
  return 0;
}

let exitCode = 1;
try {
  exitCode = onlyLarge ? await largeMain() : await main();
} catch (error) {
  console.error(`bench failed: ${(error as Error).stack ?? error}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
