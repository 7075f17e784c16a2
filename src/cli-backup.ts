import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { KassaConfig } from './config.ts';
import { sqliteFilePath } from './storage/database.ts';

/**
 * `kassa backup FILE` and `kassa restore FILE` for SQLite (docs/adr/0064). The backup is
 * SQLite's online backup API (better-sqlite3 `db.backup`): a consistent copy of one moment,
 * taken page by page while the server keeps writing (a page changed meanwhile restarts the copy
 * from the changed point, so the result is always one committed state). PostgreSQL has its own
 * tools: the README's runbook (pg_dump, base backups and WAL archiving for PITR).
 */

export const backupUsage = `
  kassa backup FILE          SQLite: a consistent copy of the database, safe while the server runs
  kassa restore FILE         SQLite: put a backup in place as KASSA_DATA_DIR's database (server stopped;
                             refuses to overwrite an existing database)
  A backup holds no key: keep secret.key (or KASSA_SECRET_KEY) safe separately, or nothing
  stored in it (card numbers, merchant passwords) can be decrypted.`;

export class BackupError extends Error {}

function refusePostgres(config: KassaConfig, command: string): void {
  if (config.databaseUrl) {
    throw new BackupError(`${command} is for SQLite; on PostgreSQL use pg_dump or a base backup with WAL archiving `
      + '(README: Backups)');
  }
}

const keyReminder = 'the backup holds no key: keep secret.key (or KASSA_SECRET_KEY) safe separately';

export async function backupCommand(config: KassaConfig, file: string | undefined, stdout: (text: string) => void) {
  refusePostgres(config, 'kassa backup');
  if (!file) throw new BackupError('kassa backup needs the file to write: kassa backup FILE');
  const source = sqliteFilePath(config.dataDirectory);
  if (!existsSync(source)) throw new BackupError(`no Kassa database in ${config.dataDirectory} (KASSA_DATA_DIR)`);
  const target = resolve(file);
  if (existsSync(target)) throw new BackupError(`${target} exists; name a new file`);
  mkdirSync(dirname(target), { recursive: true });
  // Written beside the target and renamed at the end, so a failed backup leaves no half file.
  const partial = `${target}.partial`;
  const database = new SqliteDatabase(source, { fileMustExist: true });
  try {
    database.pragma('busy_timeout = 5000');
    await database.backup(partial);
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    database.close();
  }
  const check = checkDatabaseFile(target);
  stdout(`backed up ${source} to ${target} (${check.payments} payments); ${keyReminder}\n`);
}

/** An SQLite file that passes integrity_check and is a Kassa database; its payment count. */
function checkDatabaseFile(file: string): { payments: number } {
  let database: SqliteDatabase.Database;
  try {
    database = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new BackupError(`${file} cannot be opened as SQLite: ${(error as Error).message}`);
  }
  try {
    const integrity = database.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new BackupError(`${file} fails SQLite's integrity check: ${String(integrity)}`);
    const kassaTable = database.prepare("select 1 from sqlite_master where type = 'table' and name = 'payments'").get();
    if (!kassaTable) throw new BackupError(`${file} is not a Kassa database (no payments table)`);
    const row = database.prepare('select count(*) as count from payments').get() as { count: number };
    return { payments: row.count };
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`${file} is not a readable SQLite database: ${(error as Error).message}`);
  } finally {
    database.close();
  }
}

export async function restoreCommand(config: KassaConfig, file: string | undefined, stdout: (text: string) => void) {
  refusePostgres(config, 'kassa restore');
  if (!file) throw new BackupError('kassa restore needs the backup to restore: kassa restore FILE');
  const source = resolve(file);
  if (!existsSync(source)) throw new BackupError(`${source} does not exist`);
  const { payments } = checkDatabaseFile(source);
  const target = sqliteFilePath(config.dataDirectory);
  if (existsSync(target)) {
    throw new BackupError(`${target} exists: stop the server and move the data directory's database aside first`);
  }
  mkdirSync(config.dataDirectory, { recursive: true });
  const partial = `${target}.partial`;
  copyFileSync(source, partial);
  renameSync(partial, target);
  const hasKey = Boolean(config.secretKey) || existsSync(join(config.dataDirectory, 'secret.key'));
  stdout(`restored ${source} into ${target} (${payments} payments)`
    + `${hasKey ? '' : '; no key yet: put the original secret.key in the data directory or set KASSA_SECRET_KEY'}\n`);
}
