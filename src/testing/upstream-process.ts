import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serverProcessArguments } from './processes.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** A second, real Kassa process (its own SQLite data directory and merchant) to be the upstream
 * platform of the upstream S2S CARD connector's tests. */
export interface UpstreamKassa {
  url: string;
  clientKey: string;
  password: string;
  /** `kassa …` on the upstream's own database and settings (e.g. `trigger 3ds-timeout`): stdout. */
  kassa(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fixed port, so the upstream's pages (its ACS, its TermUrl) name an address that works. */
function environmentFor(dataDirectory: string, port: number): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('KASSA_') && !['PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_URL'].includes(name),
    ),
  );
  return {
    ...inherited, KASSA_DATA_DIR: dataDirectory, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info',
    KASSA_PUBLIC_URL: `http://127.0.0.1:${port}`,
  };
}

export interface UpstreamOptions {
  /** The upstream merchant's callback URL (Kassa's bank-callback endpoint, or a proxy to it);
   * with it the merchant has 3-D Secure on. */
  callbackUrl?: string;
  /** Runs `kassa …` commands on this process's database before it starts (the bench configures
   * a downstream Kassa's upstream MID with it). */
  beforeStart?: (kassa: (...args: string[]) => Promise<string>, merchant: { clientKey: string }) => Promise<void>;
}

/** The address the child logs once it listens. Only the start-up lines are kept: after that it
 * logs a line per request, and keeping (and searching) them all made this process slower the
 * longer it ran. */
function startedAddress(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let output = '';
    let started = false;
    const keep = (chunk: Buffer) => {
      if (!started) output += chunk.toString('utf8');
    };
    const timer = setTimeout(() => reject(new Error(`upstream did not start: ${output}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (started) return;
      keep(chunk);
      const match = /"address":"(http:\/\/[^"]+)"/.exec(output);
      if (match) {
        started = true;
        output = '';
        clearTimeout(timer);
        resolve(`${match[1]}/`);
      }
    });
    child.stderr!.on('data', keep);
    child.on('exit', (status) => reject(new Error(`upstream exited (${status}): ${output}`)));
  });
}

export async function startUpstreamKassa(options: UpstreamOptions = {}): Promise<UpstreamKassa> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-upstream-'));
  const environment = environmentFor(dataDirectory, await freePort());
  const created = await run(
    process.execPath,
    [
      join(root, 'bin', 'kassa.mjs'),
      'merchant',
      'create',
      '--init',
      '--email',
      'psp@kassa.test',
      '--allow-ip',
      '127.0.0.1',
      ...(options.callbackUrl ? ['--callback-url', options.callbackUrl, '--three-ds', 'on'] : ['--three-ds', 'off']),
      '--json',
    ],
    {
      cwd: root,
      env: environment,
      timeout: 60_000,
    },
  );
  const merchant = JSON.parse(created.stdout) as { client_key: string; password: string };
  const kassa = async (...args: string[]) => {
    const options = { cwd: root, env: environment, timeout: 60_000 };
    return (await run(process.execPath, [join(root, 'bin', 'kassa.mjs'), ...args], options)).stdout;
  };
  await options.beforeStart?.(kassa, { clientKey: merchant.client_key });
  const child: ChildProcess = spawn(process.execPath, serverProcessArguments(), {
    cwd: root,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await startedAddress(child);
  return {
    url,
    clientKey: merchant.client_key,
    password: merchant.password,
    kassa,
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      // The bound's timer is cleared once the process has exited: left running it held every
      // test file that started an upstream open for 10 s after its last test.
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => { bound = setTimeout(resolve, 10_000); })]);
      clearTimeout(bound);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDirectory, { recursive: true, force: true });
    },
  };
}
