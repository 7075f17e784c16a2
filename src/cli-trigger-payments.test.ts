import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCallbackReceiver, type CallbackReceiver } from './testing/callback-receiver.ts';
import { runKassa, saleFields, startTestPlatform, type CliFailure, type TestPlatform } from './testing/harness.ts';
import { CallbackDispatcher } from './workers/callback-dispatcher.ts';

/**
 * `kassa payments list|show` and `kassa trigger EVENT` (docs/adr/0078) beside a running
 * platform, as a merchant developer sees them: the terminal's output, and the callbacks that
 * arrive at the merchant's endpoint over real HTTP.
 */
let platform: TestPlatform;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;

before(async () => {
  receiver = await startCallbackReceiver();
  platform = await startTestPlatform({ merchant: { callbackUrl: receiver.url('/merchant'), threeDsEnabled: true } });
  dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
});
after(async () => {
  await dispatcher.stop();
  await platform.close();
  await receiver.close();
});

const kassa = (...args: string[]) => runKassa(platform, ...args);
const kassaJson = async (...args: string[]) => JSON.parse((await kassa(...args, '--json')).stdout);
const failure = (...args: string[]) =>
  kassa(...args).then(
    () => assert.fail('expected exit 2'),
    (error: CliFailure) => error,
  );
const sale = async (overrides: Record<string, string> = {}) =>
  (await platform.post(saleFields(platform.merchant, { order_amount: '10.00', ...overrides }))).body;
const arrived = (transId: string) => receiver.received.filter((callback) => callback.fields.trans_id === transId);

test('payments list filters as the console; show gives amounts, operations and callbacks, never the card number', {
  timeout: 60_000,
}, async () => {
  const settled = await sale({ order_id: 'CLI-LIST-1' });
  const declined = await sale({ card_exp_month: '02' });
  const listed = await kassaJson('payments', 'list', '--client-key', platform.merchant.clientKey);
  assert.deepEqual(
    listed.payments.slice(0, 2).map((row: { trans_id: string }) => row.trans_id),
    [declined.trans_id, settled.trans_id],
  );
  const byStatus = await kassaJson('payments', 'list', '--status', 'declined', '--card', '1111');
  assert.ok(byStatus.payments.every((row: { status: string }) => row.status === 'DECLINED'));
  assert.ok(byStatus.payments.some((row: { trans_id: string }) => row.trans_id === declined.trans_id));
  const byOrder = (await kassa('payments', 'list', '--order-id', 'CLI-LIST-1')).stdout;
  assert.match(
    byOrder,
    new RegExp(`${settled.trans_id}  SETTLED\\s+10\\.00 USD  SALE\\s+411111\\*{6}1111  CLI-LIST-1`),
  );
  const bad = await failure('payments', 'list', '--card', '12', '--from', '2026-13-01');
  assert.deepEqual(
    [bad.code, bad.stderr],
    [2, 'kassa: not a valid filter: --card (first 6, last 4, or both), --from (YYYY-MM-DD)\n'],
  );

  const shown = await kassaJson('payments', 'show', settled.trans_id);
  assert.deepEqual(
    [shown.status, shown.amount, shown.card, shown.merchant],
    ['SETTLED', '10.00', '411111******1111', platform.merchant.clientKey],
  );
  assert.deepEqual(
    shown.operations.map((operation: { type: string; status: string }) => [operation.type, operation.status]),
    [['SALE', 'success']],
  );
  assert.equal(shown.callbacks.length, 1);
  const text = (await kassa('payments', 'show', settled.trans_id)).stdout;
  assert.match(text, /^trans_id\s+[0-9a-f-]{36}\n/);
  assert.doesNotMatch(text, /4111111111111111/);
  assert.match(
    (await failure('payments', 'show', '00000000-0000-4000-8000-000000000000')).stderr,
    /^kassa: no payment with trans_id/,
  );
});

test('trigger refund and chargeback reach the merchant as the real callbacks', { timeout: 60_000 }, async () => {
  const settled = await sale();
  const refund = await kassaJson('trigger', 'refund', '--trans-id', settled.trans_id, '--amount', '3.00');
  assert.deepEqual([refund.kind, refund.result], ['refund', 'approved']);
  const chargeback = await kassaJson('trigger', 'chargeback', '--trans-id', settled.trans_id, '--amount', '2.00');
  assert.equal(chargeback.status, 'CHARGEBACK');
  for (let run = 0; run < 3; run += 1) await dispatcher.runOnce();
  assert.deepEqual(
    arrived(settled.trans_id).map((callback) => [callback.fields.action, callback.fields.amount]),
    [
      ['SALE', '10.00'],
      ['CREDITVOID', '3.00'],
      ['CHARGEBACK', '2.00'],
    ],
  );
});

test('trigger callback-duplicate, -out-of-order and -delayed deliver copies the merchant must cope with', {
  timeout: 60_000,
}, async () => {
  const settled = await sale();
  await kassa('trigger', 'refund', '--trans-id', settled.trans_id, '--amount', '1.00');
  await dispatcher.runOnce();
  await dispatcher.runOnce();
  const [first, latest] = arrived(settled.trans_id);

  await kassa('trigger', 'callback-duplicate', '--trans-id', settled.trans_id);
  await dispatcher.runOnce();
  assert.equal(arrived(settled.trans_id).at(-1)!.rawBody, latest.rawBody, 'the same signed body again');

  await kassa('trigger', 'callback-out-of-order', '--trans-id', settled.trans_id);
  await dispatcher.runOnce();
  const late = arrived(settled.trans_id).at(-1)!;
  assert.deepEqual([late.fields.action, late.fields.status], ['SALE', 'SETTLED'], 'the SALE callback after the refund');
  assert.equal(late.rawBody, first.rawBody);

  const delayed = await kassaJson('trigger', 'callback-delayed', '--trans-id', settled.trans_id, '--delay', '2m');
  assert.equal(delayed.due_in_ms, 120_000);
  const before = arrived(settled.trans_id).length;
  await dispatcher.runOnce();
  assert.equal(arrived(settled.trans_id).length, before, 'not before its time');
  platform.clock.advance(120_000);
  await dispatcher.runOnce();
  assert.equal(arrived(settled.trans_id).length, before + 1);
});

test('trigger 3ds-timeout declines a payment waiting in 3-D Secure; mistakes exit 2 with the reason', {
  timeout: 60_000,
}, async () => {
  const waiting = await sale({ card_exp_month: '05' });
  assert.equal(waiting.status, '3DS');
  const expired = await kassaJson('trigger', '3ds-timeout', '--trans-id', waiting.trans_id);
  assert.deepEqual([expired.expired, expired.status], [true, 'DECLINED']);
  const again = await failure('trigger', '3ds-timeout', '--trans-id', waiting.trans_id);
  assert.match(again.stderr, /^kassa: payment .* is DECLINED, not waiting for 3-D Secure/);
  assert.match(
    (await failure('trigger', 'earthquake', '--trans-id', waiting.trans_id)).stderr,
    /^kassa: unknown event earthquake: one of chargeback/,
  );
  assert.match((await failure('trigger', 'refund')).stderr, /^kassa: --trans-id is required/);
  assert.match(
    (await failure('trigger', 'refund', '--trans-id', '00000000-0000-4000-8000-000000000000')).stderr,
    /^kassa: 208001 Payment not found\./,
  );
  assert.match(
    (await failure('trigger', 'callback-out-of-order', '--trans-id', (await sale({ card_exp_month: '02' })).trans_id))
      .stderr,
    /out of order needs a later one/,
  );
});
