import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { declineReasons } from '../acquirers/test-engine.ts';
import { expireAbandonedChallenges } from '../operations/complete-challenge.ts';

let platform: TestPlatform;
let merchant: { clientKey: string; password: string; merchantId: string };
before(async () => {
  platform = await startTestPlatform();
  merchant = await platform.addMerchant({ threeDsEnabled: true, descriptor: 'Shop <b>&</b> Co' });
});
after(() => platform.close());

function hiddenInputs(page: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    values[match[1]] = match[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return values;
}
const pathOf = (url: string) => new URL(url).pathname;
async function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return platform.app.inject({
    method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(fields).toString(),
  });
}
const status = async (transId: string) => (await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', transId))).body;

test('3-D Secure card 05/2025: REDIRECT/3DS with PaReq, MD and TermUrl; the code 123456 settles it', async () => {
  const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05', term_url_3ds: 'https://shop.test/return?order=1' }))).body;
  assert.equal(sale.result, 'REDIRECT');
  assert.equal(sale.status, '3DS');
  assert.equal(sale.redirect_method, 'POST');
  assert.equal(sale.redirect_url, 'http://kassa.test/emulator/acs');
  assert.deepEqual(Object.keys(sale.redirect_params), ['PaReq', 'MD', 'TermUrl']);
  assert.equal(sale.redirect_params.MD, sale.trans_id);
  assert.match(sale.redirect_params.TermUrl, new RegExp(`^http://kassa\\.test/verify/3ds/${sale.trans_id}/[\\w-]{43}$`));
  assert.equal((await status(sale.trans_id)).status, '3DS');

  const acs = await postForm(pathOf(sale.redirect_url), sale.redirect_params);
  assert.equal(acs.statusCode, 200);
  assert.match(acs.headers['content-security-policy'] as string, /script-src 'nonce-[^']+'; /);
  assert.ok(acs.body.includes('Shop &lt;b&gt;&amp;&lt;/b&gt; Co'), 'the merchant name is escaped');
  assert.ok(acs.body.includes('411111******1111'));
  assert.ok(acs.body.includes('+1 *** ** 99'), 'masked phone');
  assert.ok(acs.body.includes('123456'), 'test-mode hint');

  const carried = hiddenInputs(acs.body);
  const wrong = await postForm('/emulator/acs/verify', { ...carried, code: '000000', decision: 'confirm' });
  assert.ok(wrong.body.includes('Wrong code. Attempts left: 2.'));
  const right = await postForm('/emulator/acs/verify', { ...carried, code: '123456', decision: 'confirm' });
  const toTermUrl = hiddenInputs(right.body);
  assert.ok(right.body.includes(`action="${sale.redirect_params.TermUrl}"`));
  const back = await postForm(pathOf(sale.redirect_params.TermUrl), toTermUrl);
  assert.equal(back.statusCode, 200);
  assert.ok(back.body.includes('href="https://shop.test/return?order=1" target="_top"'), 'exactly term_url_3ds, default target _top');

  assert.deepEqual(await status(sale.trans_id), {
    action: 'GET_TRANS_STATUS', result: 'SUCCESS', status: 'SETTLED', order_id: sale.order_id, trans_id: sale.trans_id,
  });
  const details = (await platform.post(transactionFields(merchant, 'GET_TRANS_DETAILS', sale.trans_id))).body;
  assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['3DS:success', 'SALE:success']);

  // The TermUrl is one-time: a replay gets 208002, as a readable page.
  const replay = await postForm(pathOf(sale.redirect_params.TermUrl), toTermUrl);
  assert.equal(replay.statusCode, 409);
  assert.ok(replay.body.includes('208002'));
  const held = await platform.context.storage.db.selectFrom('card_secrets').selectAll().where('trans_id', '=', sale.trans_id).execute();
  assert.equal(held.length, 0, 'the CVV is erased at authorization');
});

test('card 06/2025 passes 3-D Secure and is then declined; /v2/post lists redirect params', async () => {
  const sale = (await platform.post(saleFields(merchant, { card_exp_month: '06' }), { path: '/v2/post' })).body;
  assert.ok(Array.isArray(sale.redirect_params));
  assert.deepEqual(sale.redirect_params.map((param: any) => param.name), ['PaReq', 'MD', 'TermUrl']);
  const params = Object.fromEntries(sale.redirect_params.map((param: any) => [param.name, param.value]));
  const acs = await postForm('/emulator/acs', params);
  const right = await postForm('/emulator/acs/verify', { ...hiddenInputs(acs.body), code: '123456', decision: 'confirm' });
  await postForm(pathOf(params.TermUrl), hiddenInputs(right.body));
  const final = await status(sale.trans_id);
  assert.equal(final.status, 'DECLINED');
  assert.equal(final.decline_reason, 'Declined by processing');
});

test('three wrong codes, or Cancel, decline with "3-D Secure authentication failed"', async () => {
  for (const mode of ['wrong', 'cancel'] as const) {
    const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05' }))).body;
    const carried = hiddenInputs((await postForm('/emulator/acs', sale.redirect_params)).body);
    let last;
    if (mode === 'cancel') {
      last = await postForm('/emulator/acs/verify', { ...carried, decision: 'cancel' });
    } else {
      for (let attempt = 0; attempt < 3; attempt += 1) last = await postForm('/emulator/acs/verify', { ...carried, code: '111111', decision: 'confirm' });
    }
    await postForm(pathOf(sale.redirect_params.TermUrl), hiddenInputs(last!.body));
    const final = await status(sale.trans_id);
    assert.equal(final.status, 'DECLINED', mode);
    assert.equal(final.decline_reason, declineReasons.threeDsFailed, mode);
    const details = (await platform.post(transactionFields(merchant, 'GET_TRANS_DETAILS', sale.trans_id))).body;
    assert.deepEqual(details.transactions.map((row: any) => `${row.type}:${row.status}`), ['3DS:fail', 'SALE:fail']);
  }
});

test('a forged PaRes, a foreign TermUrl or a tampered signature gets a readable page, not a payment', async () => {
  const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05' }))).body;
  const forged = Buffer.from(`${sale.trans_id}.Y.AAAA`).toString('base64');
  const answer = await postForm(pathOf(sale.redirect_params.TermUrl), { PaRes: forged, MD: sale.trans_id });
  assert.equal(answer.statusCode, 400);
  assert.match(answer.headers['content-type'] as string, /text\/html/);
  const foreign = await postForm('/emulator/acs', { ...sale.redirect_params, TermUrl: 'https://evil.test/steal' });
  assert.equal(foreign.statusCode, 400);
  const tampered = await postForm(`/verify/3ds/${sale.trans_id}/${'A'.repeat(43)}`, { PaRes: forged });
  assert.equal(tampered.statusCode, 400);
  assert.equal((await status(sale.trans_id)).status, '3DS');
  const russian = await postForm('/emulator/acs', sale.redirect_params, { 'accept-language': 'ru-RU,ru;q=0.9' });
  assert.ok(russian.body.includes('Проверка 3-D Secure'));
  const kazakh = await postForm('/emulator/acs', { ...sale.redirect_params, lang: 'kk' });
  assert.ok(kazakh.body.includes('3-D Secure тексеруі'));
  const uzbek = await postForm('/emulator/acs', sale.redirect_params, { 'accept-language': 'uz-Latn-UZ,uz;q=0.9' });
  assert.ok(uzbek.body.includes('3-D Secure tekshiruvi'));
  assert.ok(uzbek.body.includes('<html lang="uz"'));
});

test('redirect cards 12/2025 and 12/2026 go through the provider page and settle or decline', async () => {
  for (const [year, expected] of [['2025', 'SETTLED'], ['2026', 'DECLINED']] as const) {
    const sale = (await platform.post(saleFields(merchant, { card_exp_month: '12', card_exp_year: year, term_url_target: 'shopframe' }))).body;
    assert.equal(sale.status, 'REDIRECT');
    assert.equal(sale.redirect_method, 'GET');
    assert.deepEqual(sale.redirect_params, []);
    const page = await platform.app.inject({ method: 'GET', url: pathOf(sale.redirect_url) + '?lang=ru' });
    assert.ok(page.body.includes('Оплатить 1.99 USD'));
    const done = await postForm(pathOf(sale.redirect_url), { decision: 'confirm' });
    assert.ok(done.body.includes('target="shopframe"'));
    assert.equal((await status(sale.trans_id)).status, expected, year);
  }
});

test('an abandoned 3-D Secure expires after the configured time and declines; its CVV is erased', async () => {
  const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05', auth: 'Y' }))).body;
  assert.equal((await expireAbandonedChallenges(platform.context)).expired, 0);
  platform.clock.advance(15 * 60 * 1000);
  const swept = await expireAbandonedChallenges(platform.context);
  assert.ok(swept.expired >= 1);
  const final = await status(sale.trans_id);
  assert.equal(final.status, 'DECLINED');
  assert.equal(final.decline_reason, declineReasons.threeDsExpired);
  const held = await platform.context.storage.db.selectFrom('card_secrets').selectAll().where('trans_id', '=', sale.trans_id).execute();
  assert.equal(held.length, 0);
  // Coming back late changes nothing.
  const acs = await postForm('/emulator/acs', sale.redirect_params);
  assert.equal(acs.statusCode, 409);
});

test('with 3-D Secure off the same cards end at once, and the order stays blocked while 3DS waits', async () => {
  const plain = (await platform.post(saleFields(platform.merchant, { card_exp_month: '05' }))).body;
  assert.equal(plain.status, 'SETTLED');
  const waiting = (await platform.post(saleFields(merchant, { card_exp_month: '05', order_id: 'ORDER-3DS-OPEN' }))).body;
  assert.equal(waiting.status, '3DS');
  const second = (await platform.post(saleFields(merchant, { order_id: 'ORDER-3DS-OPEN', order_amount: '2.00' }))).body;
  assert.equal(second.error_message, 'Previous payment not completed.');
});
