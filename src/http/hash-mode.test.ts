import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { createScheduleHash, emailHash, saleHash, scheduleHash, transactionHash } from '../protocol/hash.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

/**
 * The 5.6.x SHA-256 hash mode, per merchant: the same formulas with sha256 in place of md5, for
 * the requests the merchant signs and the callbacks Kassa signs. An md5 hash from a SHA-256
 * merchant (or the reverse) is a wrong hash.
 */
let platform: TestPlatform;
let receiver: CallbackReceiver;
before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/sha') } });
});
after(async () => {
  await platform.close();
  await receiver.close();
});

const email = 'doe@example.com';
const cardDigits = '4111111111';

test('kassa merchant update --hash-mode sha256: requests are checked and callbacks signed with sha256', async () => {
  const { merchant } = platform;
  const sale = (await platform.post(saleFields(merchant))).body;
  assert.equal(sale.result, 'SUCCESS');
  const shown = JSON.parse(
    (
      await runKassa(
        platform,
        'merchant',
        'update',
        '--client-key',
        merchant.clientKey,
        '--hash-mode',
        'sha256',
        '--json',
      )
    ).stdout,
  );
  assert.equal(shown.hash_mode, 'sha256');

  // SALE (Formula 1) in sha256; the md5 hash of the same fields is refused.
  const shaFields = saleFields(merchant, {
    hash: saleHash({ email, password: merchant.password, cardDigits }, 'sha256'),
  });
  const shaSale = (await platform.post(shaFields)).body;
  assert.equal(shaSale.result, 'SUCCESS', JSON.stringify(shaSale));
  assert.equal((await platform.post(saleFields(merchant))).body.error_code, 900003, 'an md5 SALE hash is wrong now');

  const status = (digest: 'md5' | 'sha256') =>
    platform.post({
      action: 'GET_TRANS_STATUS',
      client_key: merchant.clientKey,
      trans_id: sale.trans_id,
      hash: transactionHash({ email, password: merchant.password, cardDigits }, sale.trans_id, digest),
    });
  const sha = (await status('sha256')).body;
  assert.equal(sha.result, 'SUCCESS', JSON.stringify(sha));
  assert.equal((await status('md5')).body.error_code, 900003, 'md5 is a wrong hash for a SHA-256 merchant');

  const created = (
    await platform.post({
      action: 'CREATE_SCHEDULE',
      client_key: merchant.clientKey,
      name: 'Plan',
      interval_length: '1',
      interval_unit: 'month',
      payments_count: '2',
      hash: createScheduleHash(merchant.password, 'sha256'),
    })
  ).body;
  assert.equal(created.result, 'SUCCESS', JSON.stringify(created));
  const info = (
    await platform.post({
      action: 'SCHEDULE_INFO',
      client_key: merchant.clientKey,
      schedule_id: created.schedule_id,
      hash: scheduleHash(created.schedule_id, merchant.password, 'sha256'),
    })
  ).body;
  assert.equal(info.result, 'SUCCESS');

  // The SALE's callback, sent now, is signed with the merchant's mode at send time.
  const dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  await dispatcher.runOnce();
  const [callback] = await receiver.waitFor(1, { path: '/sha' });
  assert.equal(callback.fields.hash.length, 64, 'a sha256 hex digest');
  assert.equal(verifyCallback(callback.fields, { password: merchant.password, email, digest: 'sha256' }), true);
  assert.equal(verifyCallback(callback.fields, { password: merchant.password, email }), false);

  await assert.rejects(
    runKassa(platform, 'merchant', 'update', '--client-key', merchant.clientKey, '--hash-mode', 'sha1'),
    /--hash-mode takes md5 or sha256/,
  );
});

test('Formula 8 is md5(strtoupper(strrev(email) . PASSWORD)), and sha256 in SHA-256 mode', () => {
  // strrev('a@b.co') = 'oc.b@a', then the PASSWORD; strtoupper of the whole: 'OC.B@ASECRET'.
  assert.equal(emailHash('a@b.co', 'Secret'), createHash('md5').update('OC.B@ASECRET').digest('hex'));
  assert.equal(emailHash('a@b.co', 'Secret', 'sha256'), createHash('sha256').update('OC.B@ASECRET').digest('hex'));
});
