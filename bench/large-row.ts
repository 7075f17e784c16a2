/**
 * The bench's large-database rows (issue #15, "data past memory"), PostgreSQL only:
 * `BENCH_ONLY=large npm run bench` builds a small and a large database (BENCH_LARGE_SMALL,
 * default 10,000 payments; BENCH_LARGE_PAYMENTS, default 10,000,000) and bench.ts measures
 * GET_TRANS_STATUS, GET_TRANS_STATUS_BY_ORDER and SALE on each, reporting large ÷ small
 * (aim ≥ 0.8).
 *
 * Rows are copies of real ones: the merchant's first approved SALE (made over HTTP by the
 * warm-up, so its card ciphertext, payer and hashes are real) and its sub-transaction are copied
 * N times in SQL, in batches, each copy with its own trans_id (time-ordered, as Kassa's are),
 * order_id, request fingerprint and a time in order over the year before — so the statement
 * that reads one payment by trans_id or by order_id meets the same indexes, B-tree depths and
 * heap pages a PSP's year of payments would give it. Copies share the original's card and
 * e-mail, which is what lets one Formula 2 hash per copy be computed by the load generator.
 */
import pg from 'pg';

export interface LargeSeed {
  postgresUrl: string;
  schema: string;
  clientKey: string;
  copies: number;
  /** Copies per INSERT statement: a bound on one transaction's size. */
  batch: number;
  progress: (message: string) => void;
}

export interface LargeSeedResult {
  seconds: number;
  /** payments + payment_operations with their indexes, as PostgreSQL reports them. */
  totalBytes: number;
  /** trans_ids and order_ids of copies picked at random pages of the table. */
  transIds: string[];
  orderIds: string[];
}

const dayMs = 24 * 60 * 60 * 1000;

/** A UUIDv7-shaped text as Kassa makes them (its time first, so new ids append to the primary
 * key's B-tree rather than land at random pages), the rest from md5 of `expression`. */
function uuidOf(atMsExpression: string, expression: string): string {
  const time = `lpad(to_hex(${atMsExpression}), 12, '0')`;
  const hex = `md5(${expression})`;
  return `substr(${time}, 1, 8) || '-' || substr(${time}, 9, 4) || '-7' || substr(${hex}, 1, 3) || '-' `
    + `|| substr(${hex}, 4, 4) || '-' || substr(${hex}, 8, 12)`;
}

async function columnsOf(client: pg.Client, schema: string, table: string): Promise<string[]> {
  const result = await client.query<{ column_name: string }>(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 '
      + 'ORDER BY ordinal_position',
    [schema, table],
  );
  return result.rows.map((row) => row.column_name);
}

/** `INSERT INTO table (…) SELECT …` with some columns replaced by expressions of `seq.n`. */
function copyStatement(table: string, columns: string[], replaced: Record<string, string>, from: string): string {
  const values = columns.map((column) => replaced[column] ?? `t.${column}`);
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${values.join(', ')} FROM ${from}`;
}

export async function seedLargeDatabase(seed: LargeSeed): Promise<LargeSeedResult> {
  const client = new pg.Client({ connectionString: seed.postgresUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${seed.schema}`);
    // The one-open-payment-per-order trigger takes an advisory lock per inserted row: a batch
    // of copies (all SETTLED, so it has nothing to refuse) would fill the server's lock table —
    // other sessions then fail with "out of shared memory". A superuser skips the triggers;
    // anyone else gets batches small enough for the default lock table.
    const batch = await client.query('SET session_replication_role = replica')
      .then(() => seed.batch, () => Math.min(seed.batch, 500));
    const template = await client.query<{ trans_id: string; created_at_ms: string }>(
      `SELECT p.trans_id, p.created_at_ms FROM payments p JOIN merchants m ON m.merchant_id = p.merchant_id
       WHERE m.client_key = $1 AND p.status = 'SETTLED' ORDER BY p.created_at_ms LIMIT 1`,
      [seed.clientKey],
    );
    const original = template.rows[0];
    if (!original) throw new Error('large row: the warm-up left no approved SALE to copy');
    const tag = `'${seed.schema}-' || seq.n`;
    // Copy n is made at an even step over the year before the original: in time order, as a
    // PSP's payments are written.
    const stepMs = Math.max(1, Math.floor((365 * dayMs) / seed.copies));
    const atMs = `(${Number(original.created_at_ms)}::bigint - (${seed.copies}::bigint - seq.n) * ${stepMs})`;
    const paymentColumns = await columnsOf(client, seed.schema, 'payments');
    const operationColumns = await columnsOf(client, seed.schema, 'payment_operations');
    const startedMs = performance.now();
    for (let first = 1; first <= seed.copies; first += batch) {
      const last = Math.min(seed.copies, first + batch - 1);
      const series = `generate_series(${first}, ${last}) AS seq(n)`;
      await client.query('BEGIN');
      await client.query(copyStatement('payments', paymentColumns, {
        trans_id: uuidOf(atMs, tag), order_id: `'L-' || seq.n`, request_fingerprint: `'large-' || seq.n`,
        request_id: 'NULL', created_at_ms: atMs, updated_at_ms: atMs, settled_at_ms: atMs,
      }, `payments t CROSS JOIN ${series} WHERE t.trans_id = '${original.trans_id}'`));
      await client.query(copyStatement('payment_operations', operationColumns, {
        operation_id: uuidOf(atMs, `'op-' || ${tag}`), trans_id: uuidOf(atMs, tag), created_at_ms: atMs,
      }, `payment_operations t CROSS JOIN ${series} WHERE t.trans_id = '${original.trans_id}'`));
      await client.query('COMMIT');
      if (last % 1_000_000 === 0 || last === seed.copies) {
        const elapsedSeconds = ((performance.now() - startedMs) / 1000).toFixed(0);
        seed.progress(`${seed.schema}: ${last} of ${seed.copies} copies in ${elapsedSeconds} s`);
      }
    }
    await client.query('VACUUM ANALYZE payments');
    await client.query('VACUUM ANALYZE payment_operations');
    const seconds = (performance.now() - startedMs) / 1000;
    const size = await client.query<{ bytes: string }>(
      "SELECT pg_total_relation_size('payments') + pg_total_relation_size('payment_operations') AS bytes",
    );
    // ~20,000 rows from random pages, 2,000 of them in random order: reads scattered over the
    // whole table, as a PSP's lookups are (a LIMIT alone would take the first sampled pages).
    const percent = Math.min(100, (20_000 / seed.copies) * 100);
    const sample = await client.query<{ trans_id: string; order_id: string }>(
      `SELECT trans_id, order_id FROM payments TABLESAMPLE SYSTEM (${percent})
       WHERE order_id LIKE 'L-%' ORDER BY random() LIMIT 2000`,
    );
    return {
      seconds, totalBytes: Number(size.rows[0]?.bytes ?? 0),
      transIds: sample.rows.map((row) => row.trans_id), orderIds: sample.rows.map((row) => row.order_id),
    };
  } finally {
    await client.end();
  }
}
