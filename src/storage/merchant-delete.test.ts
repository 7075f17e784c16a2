import assert from 'node:assert/strict';
import test from 'node:test';
import { sql } from 'kysely';
import { saleFields, startTestPlatform } from '../testing/harness.ts';

test('a merchant with payments cannot be deleted, on either database (foreign key on SQLite, trigger on PostgreSQL)', async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const { body } = await platform.post(saleFields(platform.merchant));
  assert.equal(body.result, 'SUCCESS');
  const { db } = platform.context.storage;
  await assert.rejects(sql`DELETE FROM merchants WHERE merchant_id = ${platform.merchant.merchantId}`.execute(db));
  const still = await db.selectFrom('merchants').select('merchant_id').where('merchant_id', '=', platform.merchant.merchantId).executeTakeFirst();
  assert.ok(still, 'the merchant is still there');
  // A merchant without payments is not held back.
  const unused = await platform.addMerchant();
  await sql`DELETE FROM merchants WHERE merchant_id = ${unused.merchantId}`.execute(db);
});
