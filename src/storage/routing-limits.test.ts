import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runKassa, saleFields, startTestPlatform, usingPostgres } from '../testing/harness.ts';
import { ensureLimitCounters, type LimitReservation, reserveLimits, shardShareMinor } from './routing-limits.ts';

const window = 'day:2026-11-23';

function reservation(limitId: string, preferredShard: number): LimitReservation {
  return { limitId, windowKey: window, limitMinor: 800, amountMinor: 5, preferredShard, refusal: 'midDayLimit' };
}

/** SQLite takes every limit's chosen shard in one statement; when one of them is full after all,
 * what the others took must be given back before the payment goes shard by shard. */
test('a chosen shard that filled after the read: the payment takes from another, nothing counted twice', async () => {
  const platform = await startTestPlatform();
  try {
    const { storage } = platform.context;
    const keys = ['limit-a', 'limit-b'].map((limitId) => ({ limitId, windowKey: window }));
    await ensureLimitCounters(storage, keys);
    await storage.db.updateTable('limit_counters').set({ used_minor: shardShareMinor(800, 3) })
      .where('limit_id', '=', 'limit-b').where('shard', '=', 3).execute();

    await storage.write((transaction) =>
      reserveLimits(transaction, 'trans-1', [reservation('limit-b', 3), reservation('limit-a', 0)]));

    const counters = await storage.db.selectFrom('limit_counters').select(['limit_id', 'shard', 'used_minor'])
      .where('used_minor', '>', 0).orderBy('limit_id').orderBy('shard').execute();
    const used = (limitId: string) => counters.filter((row) => row.limit_id === limitId)
      .reduce((sum, row) => sum + Number(row.used_minor), 0);
    assert.equal(used('limit-a'), 5, 'limit A is counted once');
    assert.equal(used('limit-b'), shardShareMinor(800, 3) + 5);
    const holds = await storage.db.selectFrom('limit_holds').select(['limit_id', 'shard', 'amount_minor'])
      .where('trans_id', '=', 'trans-1').orderBy('limit_id').execute();
    assert.equal(holds.filter((hold) => hold.limit_id === 'limit-a').length, 1);
    assert.equal(holds.filter((hold) => hold.limit_id === 'limit-a' && hold.shard === 0).length, 1);
    assert.ok(holds.filter((hold) => hold.limit_id === 'limit-b').every((hold) => hold.shard !== 3));
    assert.equal(holds.reduce((sum, hold) => sum + Number(hold.amount_minor), 0), 10);
  } finally {
    await platform.close();
  }
});

test('a limit whose window has no counter rows yet: they are made, and the other limit is counted once', async () => {
  const platform = await startTestPlatform();
  try {
    const { storage } = platform.context;
    await ensureLimitCounters(storage, [{ limitId: 'limit-a', windowKey: window }]);

    await storage.write((transaction) =>
      reserveLimits(transaction, 'trans-1', [reservation('limit-a', 2), reservation('limit-b', 4)]));

    const counters = await storage.db.selectFrom('limit_counters').select(['limit_id', 'used_minor']).execute();
    const used = (limitId: string) => counters.filter((row) => row.limit_id === limitId)
      .reduce((sum, row) => sum + Number(row.used_minor), 0);
    assert.equal(used('limit-a'), 5, 'limit A is counted once');
    assert.equal(used('limit-b'), 5);
    assert.equal(counters.filter((row) => row.limit_id === 'limit-b').length, 8, "limit B's shards were made");
  } finally {
    await platform.close();
  }
});

/** PostgreSQL: a SALE whose chosen shard another transaction holds (until its commit, disk flush
 * included) takes a free shard instead of waiting for it. */
test('a SALE does not wait for a limit shard another transaction holds', {
  skip: usingPostgres ? false : 'PostgreSQL row locks',
  timeout: 60_000,
}, async () => {
  const platform = await startTestPlatform();
  const locker = new pg.Client({ connectionString: process.env.DATABASE_URL });
  try {
    await runKassa(platform, 'routing', 'mid', 'create', '--name', 'limited');
    await runKassa(platform, 'routing', 'limit', 'set', '--mid', 'limited', '--window', 'day', '--currency', 'USD',
      '--amount', '1000.00');
    const { clientKey } = platform.merchant;
    await runKassa(platform, 'routing', 'mapping', 'set', '--client-key', clientKey, '--mids', 'limited');
    const sale = () => platform.post(saleFields(platform.merchant));
    assert.equal((await sale()).body.status, 'SETTLED', 'a first SALE makes the window counters');

    await locker.connect();
    await locker.query(`SET search_path TO ${platform.postgresSchema}`);
    await locker.query('BEGIN');
    await locker.query('SELECT shard FROM limit_counters WHERE shard <> 5 FOR UPDATE');
    const waitedMs = 20_000;
    // One after another: with one free shard, concurrent SALEs would rightly queue on it.
    const sales = (async () => {
      const answered = [];
      for (let index = 0; index < 4; index += 1) answered.push(await sale());
      return answered;
    })();
    const answers = await Promise.race([
      sales,
      new Promise<undefined>((resolve) => {
        const timer = setTimeout(resolve, waitedMs);
        void sales.finally(() => clearTimeout(timer));
      }),
    ]);
    await locker.query('ROLLBACK');
    assert.ok(answers, `the SALEs were still waiting for the locked shards after ${waitedMs} ms`);
    assert.deepEqual(answers.map((answer) => answer.body.status), ['SETTLED', 'SETTLED', 'SETTLED', 'SETTLED']);
    const transIds = answers.map((answer) => String(answer.body.trans_id));
    const holds = await platform.context.storage.db.selectFrom('limit_holds').select(['shard'])
      .where('trans_id', 'in', transIds).execute();
    assert.deepEqual(holds.map((hold) => hold.shard), [5, 5, 5, 5]);
  } finally {
    await locker.end().catch(() => undefined);
    await platform.close();
  }
});
