import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { expireChallenge } from '../operations/complete-challenge.ts';
import { hiddenInputsOf } from '../testing/checkout.ts';
import { orderFields, saleFields, transactionFields } from '../testing/harness.ts';
import { startUpstreamPlatform, type UpstreamPlatform } from '../testing/upstream-platform.ts';

// (Spawns a second Kassa through testing/upstream-process.ts, child_process: the runner gives it a process slot.)
// Kassa is a merchant of a second, real Kassa process (the upstream). The upstream's callbacks
// come to Kassa's own endpoint through a fault proxy that duplicates and reorders them; Kassa
// verifies them, applies each outcome once and sends its own callback to its merchant. 3-D
// Secure passes through: the cardholder goes to the upstream's ACS and back through Kassa.
let setup: UpstreamPlatform;

before(async () => {
  setup = await startUpstreamPlatform();
});
after(async () => {
  await setup?.close();
});
beforeEach(async () => {
  setup.api.fault = 'none';
  setup.api.once = false;
  setup.api.passBeforeFault = 0;
  setup.callbacks.fault = 'none';
  setup.callbacks.reorderOnly = undefined;
  await setup.callbacks.flushHeld();
});

async function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/** The upstream's own word on one of Kassa's payments (our trans_id is its order_id). */
async function upstreamStatusOf(transId: string, card = '4111111111111111'): Promise<string> {
  const { upstream } = setup;
  const answer = await postForm(`${upstream.url}post`, orderFields(upstream, transId, card));
  return ((await answer.json()) as { status: string }).status;
}

async function callbacksArrived(transId: string, count: number): Promise<void> {
  const deadline = Date.now() + 45_000; // generous: a loaded machine slows both platforms
  while (Date.now() < deadline) {
    if (setup.callbacks.forwardedBodies.filter((body) => body.includes(transId)).length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`fewer than ${count} upstream callbacks of ${transId} reached Kassa`);
}

test("the SALE's answer is lost after the upstream approved: its callback, duplicated, settles it once", {
  timeout: 90_000,
}, async () => {
  const { platform, api, callbacks } = setup;
  api.fault = 'resetAfterCommit';
  api.once = true;
  callbacks.fault = 'duplicate';
  const sale = (await platform.post(saleFields(platform.merchant, { order_amount: '12.50', card_exp_year: '2038' })))
    .body;
  assert.equal(sale.status, 'PREPARE', `an unknown outcome is PREPARE: ${JSON.stringify(sale)}`);
  assert.equal(await setup.settledStatusOf(sale.trans_id), 'SETTLED', 'the callback resolved it, no reconciler ran');
  await callbacksArrived(sale.trans_id, 2);
  assert.equal(await upstreamStatusOf(sale.trans_id), 'SETTLED');
  assert.deepEqual(await setup.merchantCallbacksOf(sale.trans_id), ['SUCCESS:SETTLED'], 'one callback to the merchant');
});

test("a CAPTURE's answer is lost after the upstream captured: its callback settles it, once", {
  timeout: 90_000,
}, async () => {
  const { platform, api, callbacks } = setup;
  const auth = (await platform.post(saleFields(platform.merchant, { auth: 'Y', card_exp_year: '2038' }))).body;
  assert.equal(auth.status, 'PENDING', JSON.stringify(auth));
  await callbacksArrived(auth.trans_id, 1);
  // CAPTURE is two requests upstream (its trans_id by our order, then CAPTURE): the second's
  // answer is lost after the upstream captured.
  api.fault = 'resetAfterCommit';
  api.once = true;
  api.passBeforeFault = 1;
  callbacks.fault = 'duplicate';
  const fields = transactionFields(platform.merchant, 'CAPTURE', auth.trans_id, {}, '4111111111111111');
  const captured = (await platform.post(fields)).body;
  assert.equal(captured.result, 'UNDEFINED', `unknown: ${JSON.stringify(captured)}`);
  assert.equal(await setup.settledStatusOf(auth.trans_id), 'SETTLED', 'the callback resolved it');
  assert.equal(await upstreamStatusOf(auth.trans_id), 'SETTLED');
  await callbacksArrived(auth.trans_id, 3);
  assert.equal(await setup.settledStatusOf(auth.trans_id), 'SETTLED');
  const merchantCallbacks = await setup.merchantCallbacksOf(auth.trans_id);
  assert.deepEqual(merchantCallbacks, ['SUCCESS:PENDING', 'SUCCESS:SETTLED'], 'one CAPTURE callback');
});

test('a callback with a wrong hash is refused and changes nothing', { timeout: 30_000 }, async () => {
  const { platform } = setup;
  const sale = (await platform.post(saleFields(platform.merchant, { card_exp_year: '2038' }))).body;
  assert.equal(sale.status, 'SETTLED');
  const forged = { action: 'SALE', result: 'DECLINED', status: 'DECLINED', order_id: sale.trans_id,
    trans_id: '0193a3c1-0000-7000-8000-0000000000ff', card: '411111****1111', hash: 'f'.repeat(32) };
  const answer = await postForm(`http://127.0.0.1:${new URL(platform.context.publicBaseUrl).port}/connectors/callback`,
    forged);
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), 'ERROR');
  assert.equal(await setup.settledStatusOf(sale.trans_id), 'SETTLED');
});

/** The cardholder's way through the upstream's ACS: Kassa's redirect, the code, back to Kassa. */
async function throughTheUpstreamAcs(redirect: { redirect_url: string; redirect_params: Record<string, string> },
  code: string): Promise<string> {
  const acs = await postForm(redirect.redirect_url, redirect.redirect_params);
  assert.equal(acs.status, 200, 'the upstream emulator shows its challenge page');
  const carried = hiddenInputsOf(await acs.text());
  const verified = await postForm(new URL('/emulator/acs/verify', redirect.redirect_url).href, { ...carried, code });
  const toTermUrl = await verified.text();
  const termUrl = /<form id="next" method="post" action="([^"]+)"/.exec(toTermUrl)?.[1];
  assert.ok(termUrl, 'the upstream ACS posts back to the upstream');
  const back = await postForm(termUrl.replace(/&amp;/g, '&'), hiddenInputsOf(toTermUrl));
  const kassaReturn = /<a id="back" class="button" href="([^"]+)"/.exec(await back.text())?.[1];
  assert.ok(kassaReturn, 'the upstream sends the cardholder on');
  return kassaReturn.replace(/&amp;/g, '&');
}

async function returnThroughKassa(kassaReturn: string): Promise<string> {
  assert.ok(kassaReturn.startsWith(setup.platform.context.publicBaseUrl), `back to Kassa, not ${kassaReturn}`);
  const page = await (await fetch(kassaReturn)).text();
  const merchantUrl = /<a id="back" class="button" href="([^"]+)"/.exec(page)?.[1];
  assert.ok(merchantUrl, page);
  return merchantUrl.replace(/&amp;/g, '&');
}

/** While the upstream's challenge is open: the challenge is Kassa's, the CVV is not (the
 * authorization request that carried it has gone; docs/adr/0097). */
async function assertNoCvvHeld(transId: string): Promise<void> {
  const { db } = setup.platform.context.storage;
  const challenge = await db.selectFrom('challenges').selectAll().where('trans_id', '=', transId).executeTakeFirst();
  assert.ok(challenge, 'the challenge is open');
  assert.equal((await db.selectFrom('payments').select('status').where('trans_id', '=', transId)
    .executeTakeFirstOrThrow()).status, '3DS');
  const held = await db.selectFrom('card_secrets').selectAll().where('trans_id', '=', transId).execute();
  assert.deepEqual(held, [], 'no CVV kept, not even encrypted');
}

test("3-D Secure passes through: the upstream's ACS, back through Kassa to the exact term_url_3ds", {
  timeout: 90_000,
}, async () => {
  const { platform, callbacks } = setup;
  callbacks.fault = 'reorder'; // the upstream's REDIRECT callback arrives after its final one
  // Only a REDIRECT is held: an earlier test's late SALE callback once took its place, and this
  // payment's final callback was then held for good (seen in a fresh-clone CI run).
  callbacks.reorderOnly = (body) => new URLSearchParams(body).get('result') === 'REDIRECT';
  const late = await postForm(`${callbacks.url}connectors/callback`, {
    action: 'SALE', result: 'SUCCESS', status: 'SETTLED', order_id: 'an-earlier-payment', hash: 'f'.repeat(32),
  });
  assert.equal(await late.text(), 'ERROR', "an earlier payment's late callback goes through (and is refused)");
  const termUrl = 'https://shop.example/return?order=42&step=3ds';
  const sale = (await platform.post(saleFields(platform.merchant, {
    card_exp_month: '05', card_exp_year: '2038', term_url_3ds: termUrl, order_amount: '30.00',
  }))).body;
  assert.equal(sale.result, 'REDIRECT', JSON.stringify(sale));
  assert.equal(sale.status, '3DS');
  assert.ok(sale.redirect_url.startsWith(setup.upstream.url), `to the upstream's ACS: ${sale.redirect_url}`);
  await assertNoCvvHeld(sale.trans_id);
  const kassaReturn = await throughTheUpstreamAcs(sale, '123456');
  assert.equal(await returnThroughKassa(kassaReturn), termUrl, "the merchant's term_url_3ds, exactly");
  assert.equal(await setup.settledStatusOf(sale.trans_id), 'SETTLED');
  await callbacksArrived(sale.trans_id, 2);
  assert.equal(await upstreamStatusOf(sale.trans_id), 'SETTLED');
  assert.equal(await setup.settledStatusOf(sale.trans_id), 'SETTLED', 'the late REDIRECT callback changed nothing');
  assert.deepEqual(await setup.merchantCallbacksOf(sale.trans_id), ['REDIRECT:3DS', 'SUCCESS:SETTLED']);
});

test('3-D Secure declined at the upstream; its callback comes first, the return then only shows it', {
  timeout: 90_000,
}, async () => {
  const { platform, callbacks } = setup;
  callbacks.fault = 'duplicate';
  const sale = (await platform.post(saleFields(platform.merchant, { card_exp_month: '06', card_exp_year: '2038' })))
    .body;
  assert.equal(sale.status, '3DS', JSON.stringify(sale));
  const kassaReturn = await throughTheUpstreamAcs(sale, '123456');
  // The upstream's final callback reaches Kassa before the cardholder does.
  await callbacksArrived(sale.trans_id, 4);
  assert.equal(await setup.settledStatusOf(sale.trans_id), 'DECLINED');
  assert.equal(await returnThroughKassa(kassaReturn), 'http://client.site.com/return.php');
  assert.equal(await upstreamStatusOf(sale.trans_id), 'DECLINED');
  assert.deepEqual(await setup.merchantCallbacksOf(sale.trans_id), ['REDIRECT:3DS', 'DECLINED:DECLINED']);
});

test("Kassa's challenge deadline passes first: not declined (the upstream decides); the late return settles it", {
  timeout: 90_000,
}, async () => {
  const { platform, callbacks } = setup;
  callbacks.fault = 'resetBefore'; // no upstream callback reaches Kassa: the cardholder's return must do
  const sale = (await platform.post(saleFields(platform.merchant, { card_exp_month: '05', card_exp_year: '2038' })))
    .body;
  assert.equal(sale.status, '3DS', JSON.stringify(sale));
  assert.equal(await expireChallenge(platform.context, sale.trans_id, platform.clock.nowMs()), true);
  assert.equal(await setup.settledStatusOf(sale.trans_id, 0), 'PREPARE', 'unknown, never a decline by Kassa');
  // The cardholder was still at the upstream's ACS and finishes there.
  const kassaReturn = await throughTheUpstreamAcs(sale, '123456');
  assert.equal(await upstreamStatusOf(sale.trans_id), 'SETTLED');
  assert.equal(await returnThroughKassa(kassaReturn), 'http://client.site.com/return.php');
  assert.equal(await setup.settledStatusOf(sale.trans_id, 0), 'SETTLED', 'the return asked the upstream');
  assert.deepEqual(await setup.merchantCallbacksOf(sale.trans_id), ['REDIRECT:3DS', 'SUCCESS:SETTLED']);
});
