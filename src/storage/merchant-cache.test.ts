import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { updateMerchant } from '../operations/manage-merchants.ts';
import { sqliteFilePath } from './database.ts';
import { startTestPlatform, usingPostgres, type TestPlatform } from '../testing/harness.ts';

/**
 * The merchant cache of a PostgreSQL server (storage/merchant-cache.ts): it answers from memory,
 * a change made by any other connection empties it at once, and it is not used while its LISTEN
 * connection is down. On SQLite, `PRAGMA data_version` and the process's own changes keep it exact.
 */
const skip = usingPostgres ? false : 'PostgreSQL only';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Another connection to the platform's schema: what the CLI or another node would be. */
async function otherConnection(t: test.TestContext, platform: TestPlatform): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL, options: `-c search_path=${platform.postgresSchema}` });
  await client.connect();
  t.after(() => client.end());
  return client;
}

async function setup(t: test.TestContext) {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const lookup = platform.context.storage.merchants;
  const descriptorOf = async () => (await lookup.byClientKey(platform.merchant.clientKey))?.descriptor;
  assert.equal(await descriptorOf(), 'SHOP.TEST');
  await until('the LISTEN connection', async () => (lookup.caching ? true : undefined));
  assert.equal(await descriptorOf(), 'SHOP.TEST'); // now cached
  return { platform, lookup, descriptorOf, other: await otherConnection(t, platform) };
}

test('a cached merchant changed by another connection is read anew at once', { skip, timeout: 30_000 }, async (t) => {
  const { platform, descriptorOf, other } = await setup(t);
  // Without the trigger's notice the old settings are still served: the cache is really used.
  await other.query('ALTER TABLE merchants DISABLE TRIGGER merchants_change_notice');
  await other.query(`UPDATE merchants SET descriptor = 'SILENT' WHERE client_key = $1`, [platform.merchant.clientKey]);
  assert.equal(await descriptorOf(), 'SHOP.TEST');
  // With it (as every change is made), the next lookups see the change.
  await other.query('ALTER TABLE merchants ENABLE TRIGGER merchants_change_notice');
  await other.query(`UPDATE merchants SET descriptor = 'NOTIFIED' WHERE client_key = $1`, [platform.merchant.clientKey]);
  await until('the changed descriptor', async () => ((await descriptorOf()) === 'NOTIFIED' ? true : undefined), 2_000);
});

test('while the LISTEN connection is down nothing is served from memory; it comes back by itself', { skip, timeout: 30_000 }, async (t) => {
  const { platform, lookup, descriptorOf, other } = await setup(t);
  const killed = await other.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
    [`kassa merchant changes ${platform.postgresSchema}`]);
  assert.equal(killed.rowCount, 1);
  await until('the cache to notice', async () => (lookup.caching ? undefined : true));
  // A change nobody is told about is still seen, because nothing is cached now.
  await other.query('ALTER TABLE merchants DISABLE TRIGGER merchants_change_notice');
  await other.query(`UPDATE merchants SET descriptor = 'UNHEARD' WHERE client_key = $1`, [platform.merchant.clientKey]);
  assert.equal(await descriptorOf(), 'UNHEARD');
  await other.query('ALTER TABLE merchants ENABLE TRIGGER merchants_change_notice');
  // Lookups start listening again after the reconnect delay.
  await until('the LISTEN connection again', async () => {
    await descriptorOf();
    return lookup.caching ? true : undefined;
  });
});

test('an unknown client_key is not remembered: a merchant that appears a moment later is served', { skip, timeout: 30_000 }, async (t) => {
  const { platform, lookup, other } = await setup(t);
  const laterKey = randomUUID();
  assert.equal(await lookup.byClientKey(laterKey), undefined);
  // Made to appear without a notice: only a lookup that did not remember the miss finds it.
  await other.query('ALTER TABLE merchants DISABLE TRIGGER merchants_change_notice');
  await other.query(`UPDATE merchants SET client_key = $1 WHERE client_key = $2`, [laterKey, platform.merchant.clientKey]);
  await other.query('ALTER TABLE merchants ENABLE TRIGGER merchants_change_notice');
  assert.equal((await lookup.byClientKey(laterKey))?.descriptor, 'SHOP.TEST');
});

const skipUnlessSqlite = usingPostgres ? 'SQLite only' : false;

test('SQLite: merchants are served from memory until this process or another connection changes one', { skip: skipUnlessSqlite, timeout: 30_000 }, async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const lookup = platform.context.storage.merchants;
  const key = platform.merchant.clientKey;
  const descriptorOf = async () => (await lookup.byClientKey(key))?.descriptor;
  assert.equal(await descriptorOf(), 'SHOP.TEST');
  // A write on the server's own connection that bypasses storage/merchants.ts is not seen:
  // the cache is really used.
  await sql`UPDATE merchants SET descriptor = 'BYPASS' WHERE client_key = ${key}`.execute(platform.context.storage.db);
  assert.equal(await descriptorOf(), 'SHOP.TEST');
  // This process's own changes are seen at once.
  await updateMerchant(platform.context, key, { descriptor: 'UPDATED' });
  assert.equal(await descriptorOf(), 'UPDATED');
  // So are another connection's (the CLI's, or sqlite3 by hand), through data_version.
  const other = new SqliteDatabase(sqliteFilePath(platform.dataDirectory));
  t.after(() => other.close());
  other.prepare('UPDATE merchants SET descriptor = ? WHERE client_key = ?').run('ELSEWHERE', key);
  assert.equal(await descriptorOf(), 'ELSEWHERE');
  // An unknown key is not remembered.
  const laterKey = randomUUID();
  assert.equal(await lookup.byClientKey(laterKey), undefined);
  await sql`UPDATE merchants SET client_key = ${laterKey} WHERE client_key = ${key}`.execute(platform.context.storage.db);
  assert.equal((await lookup.byClientKey(laterKey))?.descriptor, 'ELSEWHERE');
});
