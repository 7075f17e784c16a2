import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type Driver, Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { migrateToLatest, missingMigrations } from './migrations.ts';
import { schemaScopedMigrationDatabase } from './schema-scoped-migrations.ts';
import { WriteBatcher, type WriteOptions } from './write-batch.ts';
import { cachedMerchantLookup, sqliteMerchantLookup, type MerchantLookup } from './merchant-cache.ts';
import { PostgresHostChoice, postgresUrlsOf, ReadOnlyHostError } from './postgres-hosts.ts';

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
  /** Runs a write transaction; on SQLite concurrent ones share a commit (see WriteBatcher).
   * `waitForDisk: false` is honoured on SQLite only (docs/adr/0103). */
  write<T>(work: (transaction: Transaction<Database>) => Promise<T>, options?: WriteOptions): Promise<T>;
  /** Merchants by client_key for authenticating requests, cached and kept exact: by change
   * notifications on PostgreSQL, by data_version on SQLite (storage/merchant-cache.ts). */
  merchants: MerchantLookup;
  /** PostgreSQL: the pool's connections (total, idle) and requests waiting for one. */
  poolStatistics?(): { total: number; idle: number; waiting: number };
  /** For /health/ready: what is wrong with the database now, or an empty list. */
  readinessProblems(): Promise<string[]>;
  /** The SQLite file (for `kassa backup`); undefined on PostgreSQL. */
  sqliteFile?: SqliteDatabase.Database;
  close(): Promise<void>;
}

// bigint columns come back from pg as strings; every bigint here is an amount in minor units
// or epoch milliseconds, both far below 2^53, so numbers are exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));

export function sqliteFilePath(dataDirectory: string): string {
  return join(dataDirectory, 'kassa.sqlite');
}

/** Statements kept prepared, keyed by their SQL. Kysely asks better-sqlite3 to prepare every
 * query afresh, which the profile showed as ~0.3 ms of a SALE; the queries are a small fixed
 * set, so a bounded cache removes that cost. */
const preparedStatementsMax = 256;

/**
 * Every SQLite transaction begins IMMEDIATE: it takes the write lock at BEGIN, waiting up to the
 * busy timeout for another process (the CLI, a second server). A deferred one that read first
 * and then wrote could not wait: when another process had written meanwhile, SQLite answers
 * "database is locked" at once (seen as 900500s in the two-server limits race test).
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

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
class PreparingClient extends pg.Client {
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
}

/**
 * The pool's client class for a host choice: each new connection goes to the host that last
 * worked; one that cannot be reached, or (with several hosts) is a read-only standby, moves the
 * choice on (storage/postgres-hosts.ts). The read-write check is one query per new connection.
 */
function clientClassFor(choice: PostgresHostChoice): typeof pg.Client {
  return class HostChoosingClient extends PreparingClient {
    readonly chosenUrl: string;
    constructor(config?: string | pg.ClientConfig) {
      const chosenUrl = choice.current;
      super({ ...(typeof config === 'object' ? config : {}), connectionString: chosenUrl });
      this.chosenUrl = chosenUrl;
      // A connection the server drops (restart, failover) while the client is checked out but
      // between queries is an 'error' event nobody else listens to, which would end the process.
      // The next query on it fails, and the pool drops it: the request gets 900503.
      this.on('error', () => undefined);
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's connect has a callback and a promise form
    override connect(callback?: any): any {
      const connecting = (async () => {
        try {
          await super.connect();
        } catch (error) {
          choice.failed(this.chosenUrl);
          throw error;
        }
        if (!choice.multiple) return;
        const { rows } = await super.query('select pg_is_in_recovery() as standby');
        if (rows[0]?.standby) {
          choice.failed(this.chosenUrl);
          const { host, port } = describePostgres(this.chosenUrl);
          throw new ReadOnlyHostError(`PostgreSQL at ${host}:${port} is a read-only standby`);
        }
      })();
      if (!callback) return connecting.then(() => this);
      connecting.then(() => callback(null, this), (error: Error) => callback(error));
      return undefined;
    }
  };
}

/** The database cannot be used as configured; the message says what to do, in one line. */
export class StorageSetupError extends Error {}

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

export async function openStorage(config: StorageConfig): Promise<Storage> {
  if (config.databaseUrl) {
    const schema = config.postgresSchema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('invalid PostgreSQL schema name');
    const choice = new PostgresHostChoice(postgresUrlsOf(config.databaseUrl) ?? [config.databaseUrl]);
    const Client = clientClassFor(choice);
    const searchPath = schema ? { options: `-c search_path=${schema}` } : {};
    const pool = new pg.Pool({
      connectionString: choice.current,
      max: config.postgresPoolSize ?? 8,
      // A request never waits long for a connection: with PostgreSQL down it is answered with
      // the protocol's error in seconds, not held (docs/adr/0063).
      connectionTimeoutMillis: 5_000,
      // A dead server behind a live route is noticed by the kernel, not only at the next write.
      keepAlive: true,
      Client,
      ...searchPath,
    });
    // An idle connection the server dropped (restart, failover) is an 'error' on the pool; the
    // pool removes it, and the next request opens a fresh one. Unhandled, it would end the process.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      await migrateToLatest(schemaScopedMigrationDatabase(pool, schema ?? 'public'), schema);
    } catch (error) {
      await db.destroy().catch(() => undefined);
      throw setupProblemOf(error, config.databaseUrl) ?? error;
    }
    // Named, so an operator can tell the LISTEN connection in pg_stat_activity.
    const merchants = cachedMerchantLookup(db, {
      connection: () => ({ connectionString: choice.current, application_name: `kassa merchant changes ${schema ?? 'public'}` }),
      createClient: (connection) => new Client(connection),
    });
    return {
      db, dialect: 'postgres', write: (work) => db.transaction().execute(work), merchants,
      poolStatistics: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      readinessProblems: async () => {
        const problems = await databaseProblems(db);
        if (problems.length === 0 && !merchants.caching) {
          merchants.listen();
          problems.push('the merchant-change LISTEN connection is not connected');
        }
        return problems;
      },
      close: async () => {
        await merchants.close();
        await db.destroy();
      },
    };
  }
  mkdirSync(config.dataDirectory, { recursive: true });
  const file = new SqliteDatabase(sqliteFilePath(config.dataDirectory));
  // WAL lets the CLI read and write while the server runs; FULL makes a committed payment
  // survive a power loss; the busy timeout lets two processes take turns instead of failing.
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = FULL');
  file.pragma('busy_timeout = 5000');
  // A checkpointed WAL keeps its largest size, and a start after an unclean stop reads it whole
  // (recovery): truncating it past 64 MiB bounds that start-up read, whatever the write history.
  file.pragma('journal_size_limit = 67108864');
  file.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(file) }) });
  await migrateToLatest(db);
  const batcher = new WriteBatcher(db);
  return {
    db, dialect: 'sqlite', write: (work, options) => batcher.run(work, options),
    merchants: sqliteMerchantLookup(db, dataVersionReader(file)),
    readinessProblems: () => databaseProblems(db), sqliteFile: file, close: () => db.destroy(),
  };
}

/** Read on every request by the merchant cache: prepared once, since file.pragma() prepares its
 * statement anew on each call (4% of a SALE's profile). */
function dataVersionReader(file: SqliteDatabase.Database): () => number {
  const statement = file.prepare('PRAGMA data_version').pluck();
  return () => statement.get() as number;
}

/** Reachable, and every migration this version knows applied (an older restore, or a node of a
 * newer version that ran one this node does not know, is not ready in a way the operator must see). */
async function databaseProblems(db: Kysely<Database>): Promise<string[]> {
  try {
    const missing = await missingMigrations(db);
    return missing.length === 0 ? [] : [`migrations not applied: ${missing.join(', ')}`];
  } catch (error) {
    return [`database unreachable: ${(error as Error).message}`];
  }
}
