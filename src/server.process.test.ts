import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usingPostgres } from './testing/harness.ts';
import { serverProcessArguments } from './testing/processes.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Starts the real server process; answers its exit status and stderr (bounded by a timeout). */
function runServer(
  environment: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, serverProcessArguments(), {
      cwd: root,
      env: environment,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

function withoutKassaSettings(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('KASSA_') && !['PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_URL'].includes(name),
    ),
  );
}

test('bad settings: every problem on its own line, no stack trace, exit status 2', { timeout: 60_000 }, async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-settings-'));
  t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
  const { status, stderr } = await runServer({
    ...withoutKassaSettings(),
    KASSA_DATA_DIR: dataDirectory,
    PORT: 'abc',
    LOG_LEVEL: 'loud',
    KASSA_PUBLIC_URL: 'notaurl',
  });
  assert.equal(status, 2, stderr);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 3, stderr);
  assert.match(lines[0], /^kassa: PORT must be a whole number from 0 to 65535, got "abc"$/);
  assert.match(lines[1], /^kassa: LOG_LEVEL must be one of .*, got "loud"$/);
  assert.match(lines[2], /^kassa: KASSA_PUBLIC_URL must be an http\(s\) URL .*, got "notaurl"$/);
});

test('a port another process listens on: one line naming it, no stack trace, exit status 2', {
  timeout: 60_000,
}, async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-port-'));
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    taken.close();
    rmSync(dataDirectory, { recursive: true, force: true });
  });
  const port = (taken.address() as net.AddressInfo).port;
  const { status, stderr } = await runServer({
    ...withoutKassaSettings(), KASSA_DATA_DIR: dataDirectory, HOST: '127.0.0.1', PORT: String(port),
  });
  assert.equal(status, 2, stderr);
  assert.equal(stderr.trim(), `kassa: cannot listen on 127.0.0.1:${port} (HOST, PORT): another process is listening `
    + 'there (stop it, or set another port)');
});

test('a DATABASE_URL naming a database that does not exist: one line saying how to create it, exit status 2', {
  timeout: 60_000,
  skip: usingPostgres ? false : 'needs PostgreSQL: set DATABASE_URL',
}, async () => {
  const url = new URL(process.env.DATABASE_URL!);
  const database = `kassa_missing_${randomBytes(4).toString('hex')}`;
  url.pathname = `/${database}`;
  const { status, stderr } = await runServer({ ...withoutKassaSettings(), DATABASE_URL: url.toString(), PORT: '0' });
  assert.equal(status, 2, stderr);
  const where = `${url.hostname}:${url.port || '5432'}`;
  const expected = `kassa: database "${database}" does not exist on ${where} — create it with: createdb `;
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.ok(stderr.startsWith(expected), stderr);
  assert.ok(stderr.trim().endsWith(` ${database}`), stderr);
});
