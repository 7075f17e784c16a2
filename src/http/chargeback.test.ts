import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createChargeback } from '../operations/chargeback.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant') } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const kassa = (...args: string[]) => runKassa(platform, ...args);
const payment = async (overrides: Record<string, string> = {}) => (await platform.post(saleFields(platform.merchant, { order_amount: '10.00', ...overrides }))).body;
const send = async (action: string, transId: string, extra: Record<string, string> = {}) =>
  (await platform.post(transactionFields(platform.merchant, action, transId, extra))).body;

test('`kassa chargeback create` moves a settled payment to CHARGEBACK and the merchant receives the spec\'s signed callback', { timeout: 60_000 }, async () => {
  const settled = await payment();
  const { stdout } = await kassa('chargeback', 'create', '--trans-id', settled.trans_id, '--amount', '4.00', '--reason-code', '4837',
    '--bank-date', '2026-11-20', '--json');
  assert.equal(JSON.parse(stdout).status, 'CHARGEBACK');
  assert.equal((await send('GET_TRANS_STATUS', settled.trans_id)).status, 'CHARGEBACK');
  const details = await send('GET_TRANS_DETAILS', settled.trans_id);
  assert.deepEqual(details.transactions.map((row: any) => [row.type, row.status, row.amount]),
    [['SALE', 'success', '10.00'], ['CHARGEBACK', 'success', '4.00']]);
  // Nothing more can be done with the money: no refund, no void, no second chargeback.
  assert.equal((await send('CREDITVOID', settled.trans_id)).error_code, 208005);
  assert.equal((await send('VOID', settled.trans_id)).result, 'DECLINED');
  await assert.rejects(kassa('chargeback', 'create', '--trans-id', settled.trans_id, '--reason-code', '4837'), /900106/);

  await dispatcher.runOnce();
  const callback = receiver.received.find((received) => received.fields.action === 'CHARGEBACK')!;
  assert.equal(verifyCallback(callback.fields, { password: platform.merchant.password, email: 'doe@example.com' }), true);
  const { hash: _hash, chargeback_date: chargebackDate, ...fields } = callback.fields;
  assert.match(chargebackDate, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.deepEqual(fields, {
    action: 'CHARGEBACK', result: 'SUCCESS', status: 'CHARGEBACK', order_id: settled.order_id, trans_id: settled.trans_id,
    amount: '4.00', bank_date: '2026-11-20', reason_code: '4837',
    card: '411111******1111', card_expiration_date: '01/2025',
  });
});

test('208010 guards the amount (what was captured and not refunded); only SETTLED payments; unknown 208001', { timeout: 60_000 }, async () => {
  const settled = await payment();
  assert.equal((await send('CREDITVOID', settled.trans_id, { amount: '7.00' })).result, 'ACCEPTED');
  await assert.rejects(kassa('chargeback', 'create', '--trans-id', settled.trans_id, '--amount', '3.01', '--reason-code', '10.4'),
    /208010 Not acceptable to request the chargeback for amount bigger than payment's amount\./);
  const { stdout } = await kassa('chargeback', 'create', '--trans-id', settled.trans_id, '--reason-code', '10.4', '--json');
  assert.equal(JSON.parse(stdout).amount, '3.00', 'no amount: everything left');
  const auth = await payment({ auth: 'Y' });
  await assert.rejects(kassa('chargeback', 'create', '--trans-id', auth.trans_id, '--reason-code', '4837'), /900106/);
  await assert.rejects(kassa('chargeback', 'create', '--trans-id', '00000000-0000-7000-8000-000000000000', '--reason-code', '4837'), /208001/);
});

test('a chargeback racing 10 parallel refunds never takes more than is left: refunded + charged back ≤ captured', { timeout: 60_000 }, async () => {
  for (let round = 0; round < 3; round += 1) {
    const settled = await payment();
    const refunds = Array.from({ length: 10 }, () => send('CREDITVOID', settled.trans_id, { amount: '1.00' }));
    const chargeback = createChargeback(platform.context, { transId: settled.trans_id, amount: '6.00', reasonCode: '4837' })
      .then(() => 'recorded', (error: ProtocolError) => error.name);
    const [answers, outcome] = await Promise.all([Promise.all(refunds), chargeback]);
    const row = await platform.context.storage.db.selectFrom('payments').selectAll().where('trans_id', '=', settled.trans_id).executeTakeFirstOrThrow();
    const accepted = answers.filter((answer) => answer.result === 'ACCEPTED').length;
    assert.equal(Number(row.refunded_minor), accepted * 100);
    if (outcome === 'recorded') {
      assert.equal(row.status, 'CHARGEBACK');
      assert.ok(Number(row.refunded_minor) + 600 <= Number(row.captured_minor), `refunded ${row.refunded_minor} + 600 > 1000`);
    } else {
      assert.ok(['chargebackTooLarge', 'chargebackNotAllowed'].includes(outcome), outcome);
      assert.ok(accepted >= 5, 'a chargeback of 6.00 is refused only when more than 4.00 was refunded');
    }
  }
});
