import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { StorageSetupError, type Storage, type StorageConfig } from './database.ts';
import { cachedMerchantLookup } from './merchant-cache.ts';
import { migrateToLatest } from './migrations.ts';
import type { Database } from './schema.ts';
import { schemaScopedMigrationDatabase } from './schema-scoped-migrations.ts';

/** PostgreSQL storage, in its own module so that pg is loaded only when it is used (the SQLite
 * server starts without it: ~64 ms of CPU at every start). */

type PgModule = typeof pg;

/**
 * PostgreSQL: every statement with parameters runs as a named prepared statement, parsed and
 * planned once per connection (as postgres.js does by default) instead of on every execution.
 * For the SALE insert (three inserts as CTEs, ~55 parameters) that took PostgreSQL's CPU per
 * payment from 0.29 to 0.18 ms. The name is a digest of the text, so a name always means the
 * same text; texts are a fixed set here (insert shapes are cached, see storage/payments.ts),
 * and past a bound new texts simply run unnamed, so server-side memory stays bounded.
 */
const preparedTextsMax = 1_000;
const preparedNames = new Map<string, string>();

function preparedNameOf(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < preparedTextsMax) {
    name = `kassa_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    preparedNames.set(text, name);
  }
  return name;
}

/** The pool's client class: Kysely calls `query(text, values)`; this adds the name. The query
 * is built here and handed to pg whole: given a config object, pg copies it property by
 * property through their descriptors (cloneQueryConfig), ~1% of a SALE's CPU in the profile. */
function preparingClientOf(pg: PgModule) {
  return class PreparingClient extends pg.Client {
    // pg's query() has many overloads; Kysely uses (text, values) and gets a promise back.
    // biome-ignore lint/suspicious/noExplicitAny: the override must match every pg overload's return type
    override query(config: unknown, values?: unknown, callback?: unknown): any {
      if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
        const name = preparedNameOf(config);
        if (name !== undefined) {
          return new Promise((resolve, reject) => {
            const query = new pg.Query(config, values, (error, result) => (error ? reject(error) : resolve(result)));
            // Read by pg at submit time: a named query is parsed once per connection.
            (query as unknown as { name: string }).name = name;
            super.query(query);
          });
        }
      }
      return (super.query as (...args: unknown[]) => unknown)(config, values, callback);
    }
  };
}

/** Where DATABASE_URL points, without its password, for messages. */
function describePostgres(databaseUrl: string): { database: string; host: string; port: string; user: string } {
  const url = new URL(databaseUrl);
  return {
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres',
    host: url.hostname || 'localhost',
    port: url.port || '5432',
    user: decodeURIComponent(url.username),
  };
}

/** A missing database or an unreachable server is a setting to fix, not a crash to debug. */
function setupProblemOf(error: unknown, databaseUrl: string): StorageSetupError | undefined {
  const failure = (error as { cause?: unknown }).cause ?? error;
  const code = (failure as { code?: string }).code;
  const { database, host, port, user } = describePostgres(databaseUrl);
  if (code === '3D000') {
    const createdb = `createdb -h ${host} -p ${port}${user ? ` -U ${user}` : ''} ${database}`;
    return new StorageSetupError(`database "${database}" does not exist on ${host}:${port} — create it with: `
      + createdb);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new StorageSetupError(`cannot reach PostgreSQL at ${host}:${port} (${code}) — `
      + 'is it running, and is DATABASE_URL right?');
  }
  return undefined;
}

export async function openPostgresStorage(config: StorageConfig, databaseUrl: string): Promise<Storage> {
  const { default: pg } = await import('pg');
  // bigint columns come back from pg as strings; every bigint here is an amount in minor units
  // or epoch milliseconds, both far below 2^53, so numbers are exact.
  pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));
  const schema = config.postgresSchema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error('invalid PostgreSQL schema name');
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: config.postgresPoolSize ?? 8,
    // A request never waits forever for a connection.
    connectionTimeoutMillis: 10_000,
    Client: preparingClientOf(pg),
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(schemaScopedMigrationDatabase(pool, schema ?? 'public'), schema);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw setupProblemOf(error, databaseUrl) ?? error;
  }
  // Named, so an operator can tell the LISTEN connection in pg_stat_activity.
  const merchants = cachedMerchantLookup(db, {
    Client: pg.Client,
    connection: { connectionString: databaseUrl, application_name: `kassa merchant changes ${schema ?? 'public'}` },
  });
  return {
    db, dialect: 'postgres', write: (work) => db.transaction().execute(work), merchants,
    close: async () => {
      await merchants.close();
      await db.destroy();
    },
  };
}
