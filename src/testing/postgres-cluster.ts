import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server-process.ts';

/**
 * Throwaway PostgreSQL clusters of this machine's binaries, each on its own port and data
 * directory under /tmp, for the tests that stop, kill and fail over the database (the shared
 * cluster on 5432 is never touched). initdb refuses to run as root: as root (CI) every command
 * runs as the `postgres` user, who owns the data directories.
 */

/** The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl, or why there is none. */
export function postgresBinaries(): { bin: string } | { missing: string } {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(base, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return { bin };
  }
  return { missing: `no PostgreSQL server binaries (initdb, pg_ctl) under ${base}/N/bin` };
}

interface RunAs { uid?: number; gid?: number }

function runAs(): RunAs | { missing: string } {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    return { missing: 'running as root, and there is no postgres user to run initdb as' };
  }
}

/** Why these tests cannot run here, or undefined when they can. They need no DATABASE_URL, but
 * run in the suite's PostgreSQL pass only (CI runs the suite twice; once is enough), or with
 * KASSA_TEST_PG_CLUSTERS=1. */
export function clusterSkipReason(): string | undefined {
  if (!process.env.DATABASE_URL && process.env.KASSA_TEST_PG_CLUSTERS !== '1') {
    return 'runs in the PostgreSQL pass (DATABASE_URL set) or with KASSA_TEST_PG_CLUSTERS=1';
  }
  const binaries = postgresBinaries();
  if ('missing' in binaries) return binaries.missing;
  const user = runAs();
  return 'missing' in user ? user.missing : undefined;
}

function run(bin: string, command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const user = runAs() as RunAs;
  return new Promise((resolve, reject) => {
    const child = spawn(join(bin, command), args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
    let output = '';
    child.stdout.on('data', (chunk) => { output += String(chunk); });
    child.stderr.on('data', (chunk) => { output += String(chunk); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${output}`));
    });
  });
}

export class ThrowawayCluster {
  private constructor(readonly bin: string, readonly dataDirectory: string, readonly port: number) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** A new primary: trust auth on loopback, replication allowed, settings appended. */
  static async create(settings: string[] = []): Promise<ThrowawayCluster> {
    const binaries = postgresBinaries();
    if ('missing' in binaries) throw new Error(binaries.missing);
    const cluster = new ThrowawayCluster(binaries.bin, ThrowawayCluster.#directory('kassa-pg-'), await freePort());
    await run(cluster.bin, 'initdb', ['-D', cluster.dataDirectory, '-U', 'postgres', '-A', 'trust', '--no-sync']);
    cluster.#configure(['wal_level = replica', 'max_wal_senders = 5', ...settings]);
    return cluster;
  }

  /** A streaming standby of `primary`, named `name` (for synchronous_standby_names). */
  static async standbyOf(primary: ThrowawayCluster, name: string): Promise<ThrowawayCluster> {
    const directory = ThrowawayCluster.#directory('kassa-pg-standby-');
    const standby = new ThrowawayCluster(primary.bin, directory, await freePort());
    rmSync(standby.dataDirectory, { recursive: true, force: true });
    await run(primary.bin, 'pg_basebackup', [
      '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', standby.dataDirectory, '-X', 'stream',
      '--no-sync',
    ]);
    appendFileSync(join(standby.dataDirectory, 'standby.signal'), '');
    // Once promoted it waits for no standby of its own: with none, every commit would hang.
    standby.#configure([
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${name}'`,
      "synchronous_standby_names = ''",
    ]);
    return standby;
  }

  static #directory(prefix: string): string {
    const directory = mkdtempSync(join(tmpdir(), prefix));
    const user = runAs() as RunAs;
    if (user.uid !== undefined) chownSync(directory, user.uid, user.gid!);
    return directory;
  }

  #configure(settings: string[]): void {
    const lines = [
      `port = ${this.port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${this.dataDirectory}'`,
      ...settings,
    ];
    appendFileSync(join(this.dataDirectory, 'postgresql.auto.conf'), `${lines.join('\n')}\n`);
  }

  async start(): Promise<void> {
    const log = join(this.dataDirectory, 'server.log');
    await run(this.bin, 'pg_ctl', ['-D', this.dataDirectory, '-l', log, '-w', '-t', '60', 'start']);
  }

  /** `immediate`: as a crash (no checkpoint), `fast`: a clean restart's stop. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await run(this.bin, 'pg_ctl', ['-D', this.dataDirectory, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /** kill -9 of the postmaster: the machine "dies" (its backends follow it). */
  killHard(): void {
    const pid = Number(readFileSync(join(this.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
  }

  async promote(): Promise<void> {
    await run(this.bin, 'pg_ctl', ['-D', this.dataDirectory, '-w', '-t', '60', 'promote']);
  }

  /** Stops whatever still runs and removes the data directory. */
  async remove(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dataDirectory, { recursive: true, force: true });
  }
}
