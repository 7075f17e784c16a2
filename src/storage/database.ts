import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { migrateToLatest } from './migrations.ts';

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
  close(): Promise<void>;
}

// bigint columns come back from pg as strings; every bigint here is an amount in minor units
// or epoch milliseconds, both far below 2^53, so numbers are exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));

export function sqliteFilePath(dataDirectory: string): string {
  return join(dataDirectory, 'kassa.sqlite');
}

export async function openStorage(config: StorageConfig): Promise<Storage> {
  if (config.databaseUrl) {
    const schema = config.postgresSchema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('invalid PostgreSQL schema name');
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: config.postgresPoolSize ?? 8,
      // A request never waits forever for a connection.
      connectionTimeoutMillis: 10_000,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrateToLatest(db, schema);
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  mkdirSync(config.dataDirectory, { recursive: true });
  const file = new SqliteDatabase(sqliteFilePath(config.dataDirectory));
  // WAL lets the CLI read and write while the server runs; FULL makes a committed payment
  // survive a power loss; the busy timeout lets two processes take turns instead of failing.
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = FULL');
  file.pragma('busy_timeout = 5000');
  file.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: file }) });
  await migrateToLatest(db);
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}
