/**
 * The benchmark's baseline: the least a SALE-shaped request can cost on this machine.
 * Bare Fastify, the platform's own form parser (parseFormText), one md5 check (the SALE
 * formula, as the platform computes it) and one committed insert of one ~30-column row in one
 * transaction — SQLite with the platform's pragmas, or PostgreSQL with a pool of 8 — then a
 * small JSON answer. Nothing else: no merchant look-up, no replay check, no encryption.
 *
 * Started by bench/bench.ts as `node --import tsx bench/baseline-server.ts`; listens on
 * 127.0.0.1 port 0 and prints `{"port":N}` as its first stdout line.
 *
 * Environment: BENCH_STORAGE=sqlite|postgres, BENCH_DATA_DIR (sqlite), DATABASE_URL and
 * BENCH_PG_SCHEMA (postgres, schema already created), BENCH_CLIENT_KEY, BENCH_PASSWORD.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import Fastify from 'fastify';
import pg from 'pg';
import { bodyLimitBytes, parseFormText } from '../src/http/form-body.ts';
import { cardHashPart, hashesMatch, saleHash } from '../src/protocol/hash.ts';

const storageKind = process.env.BENCH_STORAGE === 'postgres' ? 'postgres' : 'sqlite';
const clientKey = process.env.BENCH_CLIENT_KEY ?? '';
const password = process.env.BENCH_PASSWORD ?? '';

/** The payments table's shape (32 columns), so the row written is the same size. */
const columns = [
  'trans_id', 'merchant_id', 'order_id', 'action', 'is_auth', 'status', 'amount_minor', 'captured_minor',
  'refunded_minor', 'currency', 'order_description', 'payer_email', 'payer_json', 'card_bin', 'card_last_four',
  'card_length', 'card_expiry', 'card_brand', 'card_ciphertext', 'card_fingerprint', 'channel_id', 'parameters_json',
  'term_url_3ds', 'term_url_target', 'recurring_init', 'descriptor', 'decline_reason', 'request_fingerprint',
  'operation_lock', 'settled_at_ms', 'created_at_ms', 'updated_at_ms',
] as const;
const integerColumns = new Set(['is_auth', 'card_length', 'recurring_init']);
const bigintColumns = new Set(['amount_minor', 'captured_minor', 'refunded_minor', 'settled_at_ms', 'created_at_ms', 'updated_at_ms']);
const nullableColumns = new Set(['channel_id', 'parameters_json', 'term_url_target', 'decline_reason', 'operation_lock', 'settled_at_ms']);
const createTable = `CREATE TABLE IF NOT EXISTS baseline_payments (${columns.map((name) => {
  const type = integerColumns.has(name) ? 'integer' : bigintColumns.has(name) ? 'bigint' : 'text';
  return `${name} ${type}${name === 'trans_id' ? ' PRIMARY KEY' : nullableColumns.has(name) ? '' : ' NOT NULL'}`;
}).join(', ')})`;

type Row = (string | number | null)[];

interface Store {
  insert(row: Row): Promise<void>;
  close(): Promise<void>;
}

function openSqlite(): Store {
  const directory = process.env.BENCH_DATA_DIR;
  if (!directory) throw new Error('BENCH_DATA_DIR is required for sqlite');
  const file = new SqliteDatabase(join(directory, 'baseline.sqlite'));
  // The same pragmas as src/storage/database.ts.
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = FULL');
  file.pragma('busy_timeout = 5000');
  file.pragma('foreign_keys = ON');
  file.exec(createTable);
  const statement = file.prepare(`INSERT INTO baseline_payments (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const insertInTransaction = file.transaction((row: Row) => { statement.run(row); });
  return {
    async insert(row) { insertInTransaction(row); },
    async close() { file.close(); },
  };
}

async function openPostgres(): Promise<Store> {
  const schema = process.env.BENCH_PG_SCHEMA;
  if (!schema || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('BENCH_PG_SCHEMA is required for postgres');
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL, max: 8, connectionTimeoutMillis: 10_000, options: `-c search_path=${schema}`,
  });
  await pool.query(createTable);
  const text = `INSERT INTO baseline_payments (${columns.join(', ')}) VALUES (${columns.map((_, index) => `$${index + 1}`).join(', ')})`;
  return {
    async insert(row) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        try {
          await client.query({ name: 'baseline_insert', text, values: row });
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      } finally {
        client.release();
      }
    },
    async close() { await pool.end(); },
  };
}

const store = storageKind === 'postgres' ? await openPostgres() : openSqlite();

const app = Fastify({ logger: false, bodyLimit: bodyLimitBytes });
app.removeAllContentTypeParsers();
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: bodyLimitBytes },
  (_request, body, done) => { done(null, parseFormText(body as string)); });

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

app.post('/post', async (request, reply) => {
  const fields = (request.body ?? {}) as Record<string, unknown>;
  const pan = text(fields.card_number);
  const expected = saleHash({ email: text(fields.payer_email), password, cardDigits: cardHashPart(pan) });
  if (text(fields.client_key) !== clientKey || !hashesMatch(expected, text(fields.hash))) {
    return reply.send({ result: 'ERROR', error_message: 'Hash is not valid' });
  }
  const nowMs = Date.now();
  const transId = randomUUID();
  const payer = {
    first_name: text(fields.payer_first_name), last_name: text(fields.payer_last_name), address: text(fields.payer_address),
    country: text(fields.payer_country), city: text(fields.payer_city), zip: text(fields.payer_zip), email: text(fields.payer_email),
  };
  const values: Record<(typeof columns)[number], string | number | null> = {
    trans_id: transId, merchant_id: clientKey, order_id: text(fields.order_id), action: 'SALE', is_auth: 0, status: 'SETTLED',
    amount_minor: 199, captured_minor: 199, refunded_minor: 0, currency: text(fields.order_currency),
    order_description: text(fields.order_description), payer_email: text(fields.payer_email), payer_json: JSON.stringify(payer),
    card_bin: pan.slice(0, 6), card_last_four: pan.slice(-4), card_length: pan.length,
    card_expiry: `${text(fields.card_exp_month)}/${text(fields.card_exp_year)}`, card_brand: 'VISA',
    // Stand-ins of the same length as the platform's ciphertext and fingerprints (no crypto here).
    card_ciphertext: `v1.baseline.${'x'.repeat(90)}`, card_fingerprint: 'f'.repeat(64), channel_id: null, parameters_json: null,
    term_url_3ds: text(fields.term_url_3ds), term_url_target: null, recurring_init: 0, descriptor: 'KASSA',
    decline_reason: null, request_fingerprint: transId.replace(/-/g, '').padEnd(64, '0'), operation_lock: null,
    settled_at_ms: nowMs, created_at_ms: nowMs, updated_at_ms: nowMs,
  };
  await store.insert(columns.map((name) => values[name]));
  return reply.send({
    action: 'SALE', result: 'SUCCESS', status: 'SETTLED', order_id: values.order_id, trans_id: transId,
    trans_date: new Date(nowMs).toISOString(), amount: '1.99', currency: values.currency,
  });
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.close().then(() => store.close()).then(() => process.exit(0), () => process.exit(1));
  });
}
