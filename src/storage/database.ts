import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import { migrateToLatest } from './migrations.ts';
import { WriteBatcher } from './write-batch.ts';
import { sqliteMerchantLookup, type MerchantLookup } from './merchant-cache.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface StorageConfig {
  /** postgres://… selects PostgreSQL; absent selects the embedded SQLite file. */
  databaseUrl?: string;
  /** Folder of the SQLite file (and the key file). */
  dataDirectory: string;
  /** PostgreSQL schema to use (tests isolate themselves this way); default `public`. */
  postgresSchema?: string;
  /** Connections in the PostgreSQL pool; ~8 is the measured sweet spot on 2 cores. */
  postgresPoolSize?: number;
}

export interface Storage {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Runs a write transaction; on SQLite concurrent ones share a commit (see WriteBatcher). */
  write<T>(work: (transaction: Transaction<Database>) => Promise<T>): Promise<T>;
  /** Merchants by client_key for authenticating requests, cached and kept exact: by change
   * notifications on PostgreSQL, by data_version on SQLite (storage/merchant-cache.ts). */
  merchants: MerchantLookup;
  close(): Promise<void>;
}

export function sqliteFilePath(dataDirectory: string): string {
  return join(dataDirectory, 'kassa.sqlite');
}

/** Statements kept prepared, keyed by their SQL. Kysely asks better-sqlite3 to prepare every
 * query afresh, which the profile showed as ~0.3 ms of a SALE; the queries are a small fixed
 * set, so a bounded cache removes that cost. */
const preparedStatementsMax = 256;

function withStatementCache(file: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => file.close(),
    prepare(sqlText: string): SqliteDatabase.Statement {
      let statement = statements.get(sqlText);
      if (!statement) {
        statement = file.prepare(sqlText);
        if (statements.size >= preparedStatementsMax) statements.delete(statements.keys().next().value!);
        statements.set(sqlText, statement);
      }
      return statement;
    },
  };
}

/** The database cannot be used as configured; the message says what to do, in one line. */
export class StorageSetupError extends Error {}

export async function openStorage(config: StorageConfig): Promise<Storage> {
  // pg (and what it loads) only when PostgreSQL is used: a SQLite server starts without it.
  if (config.databaseUrl) {
    return (await import('./postgres-storage.ts')).openPostgresStorage(config, config.databaseUrl);
  }
  mkdirSync(config.dataDirectory, { recursive: true });
  const file = new SqliteDatabase(sqliteFilePath(config.dataDirectory));
  // WAL lets the CLI read and write while the server runs; FULL makes a committed payment
  // survive a power loss; the busy timeout lets two processes take turns instead of failing.
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = FULL');
  file.pragma('busy_timeout = 5000');
  // After a checkpoint the WAL file keeps its largest size unless told otherwise; a process that
  // then stops without closing leaves it for the next start to read whole (recovery). Truncating
  // it past 64 MiB bounds that read, whatever the write history.
  file.pragma('journal_size_limit = 67108864');
  file.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(file) }) });
  await migrateToLatest(db);
  const batcher = new WriteBatcher(db);
  return { db, dialect: 'sqlite', write: (work) => batcher.run(work), merchants: sqliteMerchantLookup(db, () => file.pragma('data_version', { simple: true }) as number), close: () => db.destroy() };
}
