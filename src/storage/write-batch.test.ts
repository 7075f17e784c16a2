import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStorage, type Storage } from './database.ts';

/** The group commit is a SQLite mechanism, so this test always runs on a SQLite file. */
test('concurrent writes share commits; a failing one is rolled back alone and the rest persist', async () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-batch-'));
  const storage = await openStorage({ dataDirectory });
  try {
    const merchant = (index: number, clientKey: string) => ({
      merchant_id: `m-${index}`, client_key: clientKey, password_ciphertext: 'x', email: 'a@b.c', callback_url: null,
      allowed_ips_json: '[]', channels_json: '[]', three_ds_enabled: 0, s2s_card_enabled: 1, descriptor: 'd',
      created_at_ms: 1, updated_at_ms: 1,
    });
    const writes = Array.from({ length: 200 }, (_, index) => storage.write(async (transaction) => {
      // Write 50 reuses write 0's unique client_key: it must fail without taking others down.
      await transaction.insertInto('merchants').values(merchant(index, index === 50 ? 'key-0' : `key-${index}`)).execute();
      return index;
    }));
    const outcomes = await Promise.allSettled(writes);
    const failed = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [index] : []));
    assert.deepEqual(failed, [50]);
    const rows = await storage.db.selectFrom('merchants').select('merchant_id').execute();
    assert.equal(rows.length, 199);
    assert.ok(!rows.some((row) => row.merchant_id === 'm-50'));
  } finally {
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});

test('an error thrown by the work itself rejects that write only', async () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-batch-'));
  const storage = await openStorage({ dataDirectory });
  try {
    const results = await Promise.allSettled([
      storage.write(async () => 'first'),
      storage.write(async () => { throw new Error('boom'); }),
      storage.write(async () => 'third'),
    ]);
    assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled']);
  } finally {
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});

/** SQLite's `synchronous` as the work sees it: 1 is NORMAL (no wait for the disk), 2 FULL. */
async function synchronousSeen(transaction: Parameters<Parameters<Storage['write']>[0]>[0]): Promise<number> {
  const { rows } = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(transaction);
  return Number(rows[0].synchronous);
}

test('a commit skips the wait for the disk only when every write in it allows that (ADR 0103)', async () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-batch-'));
  const storage = await openStorage({ dataDirectory });
  try {
    const lazy = { waitForDisk: false };
    assert.equal(await storage.write(synchronousSeen, lazy), 1, 'a lone finish of a durable claim');
    const mixed = await Promise.all([storage.write(synchronousSeen, lazy), storage.write(synchronousSeen)]);
    assert.deepEqual(mixed, [2, 2], 'a batch that holds one write needing the disk waits for it');
    assert.equal(await storage.write(synchronousSeen), 2, 'the next write waits again');
    const { rows } = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(storage.db);
    assert.equal(Number(rows[0].synchronous), 2, 'the connection is back to FULL');
    const failed = storage.write(async () => { throw new Error('boom'); }, lazy);
    await assert.rejects(failed, /boom/);
    assert.equal(await storage.write(synchronousSeen), 2, 'and after a failed lazy write');
  } finally {
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});
