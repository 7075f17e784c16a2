import { test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, transactionFields } from '../testing/harness.ts';
import { ChallengeSweeper } from './challenge-sweeper.ts';

test('the running sweeper declines a 3-D Secure payment left past its deadline', async () => {
  const platform = await startTestPlatform({ config: { challengeTimeoutMs: 60_000 } });
  const sweeper = new ChallengeSweeper(platform.context, { pollIntervalMs: 10 });
  try {
    const merchant = await platform.addMerchant({ threeDsEnabled: true });
    const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05' }))).body;
    assert.equal(sale.status, '3DS');
    sweeper.start();
    platform.clock.advance(60_000);
    let status = '';
    for (let attempt = 0; attempt < 200 && status !== 'DECLINED'; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      status = (await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', sale.trans_id))).body.status;
    }
    assert.equal(status, 'DECLINED');
  } finally {
    await sweeper.stop();
    await platform.close();
  }
});
