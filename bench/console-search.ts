/**
 * `npx tsx bench/console-search.ts`: the console's payment search with many payments (issue #12:
 * p99 ≤ 50 ms with 1M payments, on SQLite and PostgreSQL). Seeds BENCH_SEARCH_PAYMENTS payments
 * (default 1,000,000) over 20 merchants and 30 days straight into a fresh database (batched
 * inserts: the SALE path is not what is measured here), then runs each search the payments page
 * offers BENCH_SEARCH_ROUNDS times (default 200) through storage/console.ts's searchPayments —
 * the query the page runs — and prints p50/p99 per search. The temporary folder and PostgreSQL
 * schema are removed at the end. BENCH_SKIP_POSTGRES=1 skips PostgreSQL; BENCH_DATABASE_URL
 * defaults to postgres://postgres@127.0.0.1:5432/test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { searchPayments, type PaymentSearch } from '../src/storage/console.ts';
import { openStorage, type Storage } from '../src/storage/database.ts';
import { backgroundMerchantId, seedBackgroundPayments } from '../src/testing/seed-payments.ts';

const paymentCount = Number(process.env.BENCH_SEARCH_PAYMENTS ?? 1_000_000);
const rounds = Number(process.env.BENCH_SEARCH_ROUNDS ?? 200);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const merchantCount = 20;
const dayMs = 24 * 60 * 60 * 1000;
const startMs = Date.UTC(2026, 9, 1);

const merchantIdOf = backgroundMerchantId;

async function seed(storage: Storage): Promise<void> {
  await seedBackgroundPayments(storage, { count: paymentCount, merchantCount, startMs });
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

async function searches(storage: Storage): Promise<[string, (round: number) => PaymentSearch][]> {
  const middle = await storage.db
    .selectFrom('payments')
    .select(['created_at_ms', 'trans_id'])
    .where('order_id', '=', `ORDER-${Math.floor(paymentCount / 2)}`)
    .executeTakeFirstOrThrow();
  const page = { limit: 51 };
  const someOrder = (round: number) => `ORDER-${(round * 7_919) % paymentCount}`;
  return [
    ['order_id among all', (round) => ({ ...page, orderId: someOrder(round) })],
    ['trans_id', () => ({ ...page, transId: middle.trans_id })],
    ['last 4 digits', (round) => ({ ...page, cardLastFour: String(round % 10_000).padStart(4, '0') })],
    [
      'first 6 + last 4',
      (round) => ({ ...page, cardBin: '411111', cardLastFour: String(round % 10_000).padStart(4, '0') }),
    ],
    ['status DECLINED', () => ({ ...page, status: 'DECLINED' })],
    [
      'merchant + one day',
      (round) => ({
        ...page,
        merchantId: merchantIdOf(round % merchantCount),
        createdFromMs: startMs + 10 * dayMs,
        createdBeforeMs: startMs + 11 * dayMs,
      }),
    ],
    ['amount', (round) => ({ ...page, amountMinor: 100 + (round % 5_000) })],
    ['newest page (no filter)', () => ({ ...page })],
    [
      'deep keyset page',
      () => ({ ...page, after: { createdAtMs: Number(middle.created_at_ms), transId: middle.trans_id } }),
    ],
    [
      'merchant + status + deep page',
      (round) => ({
        ...page,
        merchantId: merchantIdOf(round % merchantCount),
        status: 'SETTLED',
        after: { createdAtMs: Number(middle.created_at_ms), transId: middle.trans_id },
      }),
    ],
  ];
}

async function measure(storage: Storage): Promise<{ search: string; p50Ms: number; p99Ms: number; rows: number }[]> {
  const results = [];
  for (const [name, searchOf] of await searches(storage)) {
    const timings: number[] = [];
    let rows = 0;
    for (let round = 0; round < rounds; round += 1) {
      const begun = performance.now();
      rows = (await searchPayments(storage, searchOf(round))).length;
      timings.push(performance.now() - begun);
    }
    timings.sort((a, b) => a - b);
    results.push({ search: name, p50Ms: percentile(timings, 0.5), p99Ms: percentile(timings, 0.99), rows });
  }
  return results;
}

async function run(label: string, open: () => Promise<Storage>, cleanUp: () => Promise<void>): Promise<void> {
  const storage = await open();
  try {
    const seededAt = performance.now();
    await seed(storage);
    console.log(`${label}: ${paymentCount} payments seeded in ${((performance.now() - seededAt) / 1000).toFixed(1)} s`);
    const results = await measure(storage);
    for (const result of results) {
      const verdict = result.p99Ms <= 50 ? 'ok' : 'SLOW';
      console.log(
        `  ${result.search.padEnd(32)} p50 ${result.p50Ms.toFixed(2).padStart(7)} ms`
          + `  p99 ${result.p99Ms.toFixed(2).padStart(7)} ms`
          + `  (${result.rows} rows)  ${verdict}`,
      );
    }
  } finally {
    await storage.close();
    await cleanUp();
  }
}

const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-search-bench-'));
await run(
  'SQLite',
  () => openStorage({ dataDirectory }),
  async () => rmSync(dataDirectory, { recursive: true, force: true }),
);
if (process.env.BENCH_SKIP_POSTGRES !== '1') {
  const schema = `bench_search_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await run(
    'PostgreSQL',
    () => openStorage({ databaseUrl, dataDirectory, postgresSchema: schema }),
    async () => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  );
}
