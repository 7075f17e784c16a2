import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  close(): Promise<void>;
}

function environmentFor(dataDirectory: string): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('KASSA_') && !['PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_URL'].includes(name),
    ),
  );
  return { ...inherited, KASSA_DATA_DIR: dataDirectory, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' };
}

export async function startUpstreamKassa(): Promise<UpstreamKassa> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-upstream-'));
  const environment = environmentFor(dataDirectory);
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
      '--three-ds',
      'off',
      '--json',
    ],
    {
      cwd: root,
      env: environment,
      timeout: 60_000,
    },
  );
  const merchant = JSON.parse(created.stdout) as { client_key: string; password: string };
  const child: ChildProcess = spawn(process.execPath, serverProcessArguments(), {
    cwd: root,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`upstream did not start: ${output}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /"address":"(http:\/\/[^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`${match[1]}/`);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('exit', (status) => reject(new Error(`upstream exited (${status}): ${output}`)));
  });
  return {
    url,
    clientKey: merchant.client_key,
    password: merchant.password,
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDirectory, { recursive: true, force: true });
    },
  };
}
