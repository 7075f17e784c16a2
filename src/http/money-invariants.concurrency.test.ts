import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';

/** Real HTTP, real concurrency: the server listens and many requests are in flight together. */
let platform: TestPlatform;
let baseUrl: string;
before(async () => {
  platform = await startTestPlatform();
  baseUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => platform.close());

async function post(fields: Record<string, string>): Promise<any> {
  const response = await fetch(`${baseUrl}/post`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  assert.equal(response.status, 200);
  return response.json();
}

async function paymentRow(transId: string) {
  return platform.context.storage.db.selectFrom('payments').selectAll().where('trans_id', '=', transId).executeTakeFirstOrThrow();
}

test('50 parallel partial refunds of 0.30 on a 10.00 sale: exactly 33 succeed, never more than captured', async () => {
  const sale = await post(saleFields(platform.merchant, { order_amount: '10.00' }));
  const answers = await Promise.all(Array.from({ length: 50 }, () =>
    post(transactionFields(platform.merchant, 'CREDITVOID', sale.trans_id, { amount: '0.30' }))));
  const accepted = answers.filter((body) => body.result === 'ACCEPTED').length;
  const refused = answers.filter((body) => body.error_code === 208006 || body.error_code === 208005).length;
  assert.equal(accepted, 33);
  assert.equal(refused, 17);
  const row = await paymentRow(sale.trans_id);
  assert.equal(Number(row.refunded_minor), 990);
  assert.equal(row.status, 'SETTLED');
  const refunds = await platform.context.storage.db.selectFrom('payment_operations').select(['status', 'amount_minor'])
    .where('trans_id', '=', sale.trans_id).where('type', '=', 'REFUND').execute();
  assert.equal(refunds.filter((refund) => refund.status === 'success').length, 33);
});

test('10 parallel refunds of everything, in parts: all succeed and the payment ends REFUND', async () => {
  for (let round = 0; round < 5; round += 1) {
    const sale = await post(saleFields(platform.merchant, { order_amount: '10.00' }));
    const answers = await Promise.all(Array.from({ length: 10 }, () =>
      post(transactionFields(platform.merchant, 'CREDITVOID', sale.trans_id, { amount: '1.00' }))));
    assert.ok(answers.every((body) => body.result === 'ACCEPTED'), JSON.stringify(answers));
    const row = await paymentRow(sale.trans_id);
    assert.equal(Number(row.refunded_minor), 1000);
    assert.equal(row.status, 'REFUND', `round ${round}`);
  }
});

test('20 parallel captures of one AUTH: exactly one wins, the rest get 208003', async () => {
  const auth = await post(saleFields(platform.merchant, { order_amount: '10.00', auth: 'Y' }));
  const answers = await Promise.all(Array.from({ length: 20 }, (_, index) =>
    post(transactionFields(platform.merchant, 'CAPTURE', auth.trans_id, { amount: `${(index % 10) + 1}.00` }))));
  const winners = answers.filter((body) => body.result === 'SUCCESS');
  assert.equal(winners.length, 1);
  assert.ok(answers.filter((body) => body !== winners[0]).every((body) => body.error_code === 208003));
  const row = await paymentRow(auth.trans_id);
  assert.equal(row.status, 'SETTLED');
  assert.equal(formatMinor(Number(row.captured_minor)), winners[0].amount);
});

test('a capture racing a CREDITVOID on one AUTH: reversed and never captured, or captured and then refunded', async () => {
  for (let round = 0; round < 8; round += 1) {
    const auth = await post(saleFields(platform.merchant, { order_amount: '10.00', auth: 'Y' }));
    const [capture, creditvoid] = await Promise.all([
      post(transactionFields(platform.merchant, 'CAPTURE', auth.trans_id)),
      post(transactionFields(platform.merchant, 'CREDITVOID', auth.trans_id)),
    ]);
    const row = await paymentRow(auth.trans_id);
    const story = JSON.stringify({ capture, creditvoid, status: row.status });
    if (capture.result === 'SUCCESS') {
      // CREDITVOID that arrives after the capture is a refund of the settled payment.
      assert.equal(Number(row.captured_minor), 1000, story);
      if (creditvoid.result === 'ACCEPTED') assert.equal(row.status, 'REFUND', story);
      else assert.equal(row.status, 'SETTLED', story);
    } else {
      assert.equal(capture.error_code, 208003, story);
      assert.equal(creditvoid.result, 'ACCEPTED', story);
      assert.equal(row.status, 'REVERSAL', story);
      assert.equal(Number(row.captured_minor), 0, story);
    }
  }
});

test('the same SALE sent 10 times at once makes one payment; the rest are duplicates', async () => {
  const fields = saleFields(platform.merchant, { order_id: 'ORDER-RACE' });
  const answers = await Promise.all(Array.from({ length: 10 }, () => post(fields)));
  assert.equal(answers.filter((body) => body.result === 'SUCCESS').length, 1);
  assert.equal(answers.filter((body) => body.error_message === 'Duplicate request.').length, 9);
  const rows = await platform.context.storage.db.selectFrom('payments').select('trans_id').where('order_id', '=', 'ORDER-RACE').execute();
  assert.equal(rows.length, 1);
});

test('VOID racing refunds: the payment is either voided with nothing refunded, or refunded and not voided', async () => {
  for (let round = 0; round < 5; round += 1) {
    const sale = await post(saleFields(platform.merchant, { order_amount: '10.00' }));
    const [voided, ...refunds] = await Promise.all([
      post(transactionFields(platform.merchant, 'VOID', sale.trans_id)),
      ...Array.from({ length: 3 }, () => post(transactionFields(platform.merchant, 'CREDITVOID', sale.trans_id, { amount: '1.00' }))),
    ]);
    const row = await paymentRow(sale.trans_id);
    const refundedCount = refunds.filter((body) => body.result === 'ACCEPTED').length;
    if (voided.result === 'SUCCESS') {
      assert.equal(row.status, 'VOID');
      assert.equal(Number(row.refunded_minor), 0);
      assert.equal(refundedCount, 0);
    } else {
      assert.equal(Number(row.refunded_minor), refundedCount * 100);
    }
  }
});

function formatMinor(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
}

test('10 different SALEs for one order at once, all needing 3-D Secure: one waits, nine are told the previous is not completed', async () => {
  const threeDs = await platform.addMerchant({ threeDsEnabled: true });
  const answers = await Promise.all(Array.from({ length: 10 }, (_, index) =>
    post(saleFields(threeDs, { order_id: 'ORDER-3DS-RACE', card_exp_month: '05', order_amount: `${index + 1}.00` }))));
  assert.equal(answers.filter((body) => body.status === '3DS').length, 1);
  assert.equal(answers.filter((body) => body.error_message === 'Previous payment not completed.').length, 9);
  const rows = await platform.context.storage.db.selectFrom('payments').select('status').where('order_id', '=', 'ORDER-3DS-RACE').execute();
  assert.deepEqual(rows.map((row) => row.status), ['3DS']);
});
