import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { saleFields } from './harness.ts';

/**
 * Real server processes and a real HTTP SALE load, for the tests of what happens underneath a
 * running Kassa: SIGTERM, backups, PostgreSQL restarts and failover.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  address: string;
  /** Every JSON log line so far, parsed. */
  logLines: Array<Record<string, unknown>>;
  /** Its log lines at level error or above (at most 100), for a failing test's message. */
  errorLines: string[];
  stderr(): string;
  exited: Promise<number | null>;
}

export type RunningServer = ServerProcess;

/** Starts `src/server.ts` as its own process and waits (20 s at most) for 'kassa is listening'. */
export async function startServerProcess(environment: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += String(chunk); });
  const logLines: Array<Record<string, unknown>> = [];
  const errorLines: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s: ${stderr}`)), 20_000);
    lines.on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logLines.push(entry);
      if (typeof entry.level === 'number' && entry.level >= 50 && errorLines.length < 100) errorLines.push(line);
      if (entry.msg === 'kassa is listening' && typeof entry.address === 'string') {
        clearTimeout(timer);
        resolve(entry.address);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });
  return { child, address, logLines, errorLines, stderr: () => stderr, exited };
}

/** A fresh PostgreSQL schema on `databaseUrl`, and its removal. */
export async function createSchema(databaseUrl: string): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const run = async (text: string) => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE SCHEMA ${schema}`);
  return { schema, drop: () => run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

export type RequestOutcome =
  | { kind: 'answered'; body: Record<string, unknown>; statusCode: number }
  /** The connection was refused: the request never reached a server. */
  | { kind: 'refused' }
  /** Reset or cut: the request may have reached the server and got no answer. */
  | { kind: 'cut'; error: string };

export interface SaleRecord {
  orderId: string;
  sentAtMs: number;
  answeredAtMs: number;
  outcome: RequestOutcome;
}

/** One form POST over HTTP/1.1, bounded by `timeoutMs`. */
export function postForm(
  address: string, fields: Record<string, string>, agent: Agent, timeoutMs = 15_000,
): Promise<RequestOutcome> {
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve) => {
    const request = httpRequest(`${address}/post`, {
      method: 'POST', agent, timeout: timeoutMs,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => resolve({ kind: 'cut', error: error.message }));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ kind: 'answered', body: JSON.parse(text), statusCode: response.statusCode ?? 0 });
        } catch {
          resolve({ kind: 'answered', body: { unparsed: text }, statusCode: response.statusCode ?? 0 });
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error: NodeJS.ErrnoException) => {
      const refused = error.code === 'ECONNREFUSED';
      resolve(refused ? { kind: 'refused' } : { kind: 'cut', error: error.code ?? error.message });
    });
    request.end(body);
  });
}

export interface SaleLoad {
  records: SaleRecord[];
  /** Stops sending; resolves when every request in flight has its outcome. */
  stop(): Promise<void>;
  /** Resolves once `count` requests have been answered. */
  answered(count: number, timeoutMs?: number): Promise<void>;
}

/**
 * `concurrency` clients, each sending SALEs one after another over keep-alive connections until
 * stopped (or, with `stopWhenRefused`, until its connection is refused). `address()` is asked
 * before every request, so a test can point the load elsewhere.
 */
export function startSaleLoad(
  address: () => string, merchant: { clientKey: string; password: string },
  options: {
    concurrency?: number; stopWhenRefused?: boolean; pauseMs?: number;
    /** Asked before every request: false stops the client (a load balancer taking the node out). */
    routable?: () => boolean;
  } = {},
): SaleLoad {
  const records: SaleRecord[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 });
  let stopped = false;
  const waiters = new Set<() => void>();
  const client = async () => {
    while (!stopped && (options.routable?.() ?? true)) {
      const fields = saleFields(merchant);
      const sentAtMs = Date.now();
      const outcome = await postForm(address(), fields, agent);
      records.push({ orderId: fields.order_id!, sentAtMs, answeredAtMs: Date.now(), outcome });
      for (const wake of waiters) wake();
      if (outcome.kind === 'refused' && options.stopWhenRefused) return;
      if (outcome.kind !== 'answered' || options.pauseMs) {
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 50));
      }
    }
  };
  const clients = Array.from({ length: options.concurrency ?? 8 }, () => client());
  return {
    records,
    async stop() {
      stopped = true;
      await Promise.all(clients);
      agent.destroy();
    },
    answered(count, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (records.filter((record) => record.outcome.kind === 'answered').length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fewer than ${count} answers within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/**
 * What a load balancer does: asks /health/ready every `intervalMs` and takes the node out of
 * rotation after `failuresToRemove` answers in a row that are not 200 (or no answer).
 * `routable()` says whether it is in.
 */
export function watchReadiness(
  address: () => string, intervalMs = 50, failuresToRemove = 1,
): { routable: () => boolean; stop(): void } {
  let routable = true;
  let stopped = false;
  let failures = 0;
  const poll = async () => {
    while (!stopped && routable) {
      let ready = false;
      try {
        const response = await fetch(`${address()}/health/ready`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        ready = response.status === 200;
      } catch {
        ready = false;
      }
      failures = ready ? 0 : failures + 1;
      if (failures >= failuresToRemove) routable = false;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  };
  void poll();
  return { routable: () => routable, stop: () => { stopped = true; } };
}

/** Answered SUCCESS payments (trans_id by order_id). */
export function successfulPayments(records: readonly SaleRecord[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const record of records) {
    if (record.outcome.kind === 'answered' && record.outcome.body.result === 'SUCCESS') {
      found.set(record.orderId, String(record.outcome.body.trans_id));
    }
  }
  return found;
}
