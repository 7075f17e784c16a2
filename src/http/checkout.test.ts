import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { cardHashPart, saleHash, saleTokenHash } from '../protocol/hash.ts';
import { startCallbackReceiver } from '../testing/callback-receiver.ts';
import { checkoutRequestFields, hiddenInputsOf } from '../testing/checkout.ts';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform({ merchant: { descriptor: 'Tea Shop' } });
});
after(() => platform.close());

const pathOf = (url: string) => new URL(url).pathname;
async function createCheckout(overrides: Record<string, string> = {}) {
  const answer = await platform.post(checkoutRequestFields(platform.merchant, overrides));
  assert.equal(answer.statusCode, 200);
  return answer.body;
}
async function getPage(url: string, headers: Record<string, string> = {}) {
  return platform.app.inject({ method: 'GET', url, headers });
}
async function postForm(url: string, fields: Record<string, string>) {
  return platform.app.inject({
    method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString(),
  });
}
const card = { card_number: '4111 1111 1111 1111', cardholder_name: 'JOHN DOE', expiry: '01/25', cvv: '123' };

test('CREATE_CHECKOUT answers the page URL: unguessable session id, expiry, amount as the spec formats it', async () => {
  const body = await createCheckout({ order_amount: '12.5' });
  assert.equal(body.action, 'CREATE_CHECKOUT');
  assert.equal(body.result, 'SUCCESS');
  assert.match(body.session_id, /^[\w-]{22}$/, '128 random bits, base64url');
  assert.equal(body.redirect_url, `http://kassa.test/pay/${body.session_id}`);
  assert.equal(body.redirect_method, 'GET');
  assert.equal(body.amount, '12.50');
  assert.equal(body.expires_at, '2026-11-23 10:30:00', 'thirty minutes by default');
  const second = await createCheckout();
  assert.notEqual(second.session_id, body.session_id);
});

test('CREATE_CHECKOUT errors are the protocol\'s JSON: bad hash, every bad field at once, unknown language', async () => {
  const badHash = await createCheckout({ hash: 'f'.repeat(32) });
  const { hash_hint: hint, ...error } = badHash;
  assert.deepEqual(error, { result: 'ERROR', error_code: 900003, error_message: 'Hash is not valid.' });
  assert.equal(hint.formula, 'Kassa checkout hash', 'the sandbox names the formula');
  const badFields = await createCheckout({
    order_amount: '-1', order_currency: 'XYZ', payer_email: 'nobody', success_url: 'javascript:alert(1)', decline_url: '', auth: 'yes', language: 'de',
  });
  assert.equal(badFields.error_code, 100000);
  assert.deepEqual(badFields.errors.map((error: { error_message: string }) => error.error_message), [
    'order_amount: This value is not valid.',
    'order_currency: This value is not a valid currency.',
    'payer_email: This value is not a valid email address.',
    'success_url: This value is not a valid URL.',
    'decline_url: This value should not be blank.',
    'auth: The value you selected is not a valid choice.',
    'language: The value you selected is not a valid choice.',
  ]);
  const zero = await createCheckout({ order_amount: '0' });
  assert.deepEqual(zero.errors, [{ error_code: 100000, error_message: 'order_amount: This value should be greater than 0.' }]);
});

test('the page, a bad card, then a good one: field errors in words, no charge until valid, then an ordinary SALE', async () => {
  const body = await createCheckout();
  const form = await getPage(pathOf(body.redirect_url), { 'accept-language': 'en' });
  assert.equal(form.statusCode, 200);
  const csp = form.headers['content-security-policy'] as string;
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /script-src 'nonce-[^']+';/);
  for (const autocomplete of ['cc-number', 'cc-name', 'cc-exp', 'cc-csc']) assert.ok(form.body.includes(`autocomplete="${autocomplete}"`), autocomplete);
  assert.ok(form.body.includes('Tea Shop') && form.body.includes('Green tea, 100 g') && form.body.includes('12.50 USD'));
  assert.ok(form.body.includes('three-digit security code on the back of the card'));
  const token = hiddenInputsOf(form.body).form_token;

  const wrong = await postForm(pathOf(body.redirect_url), { form_token: token, card_number: '4111 1111 1111 1112', cardholder_name: '', expiry: '13/25', cvv: '12' });
  assert.equal(wrong.statusCode, 422);
  assert.ok(wrong.body.includes('This card number does not exist. Check for a mistyped digit.'));
  assert.ok(wrong.body.includes('Enter the name as printed on the card.'));
  assert.ok(wrong.body.includes('The month must be from 01 to 12.'));
  assert.match(wrong.body, /id="card_number"[^>]*aria-describedby="card_number-error" aria-invalid="true"/);
  assert.ok(wrong.body.includes('Card: Visa'), 'brand detected on the server too');
  assert.ok(!wrong.body.includes('value="12"'), 'the CVV is never sent back');
  const byOrder = await platform.context.storage.db.selectFrom('payments').select('trans_id').where('order_id', '=', body.order_id).execute();
  assert.equal(byOrder.length, 0, 'nothing went to the acquirer');

  const paid = await postForm(pathOf(body.redirect_url), { form_token: token, ...card });
  assert.equal(paid.statusCode, 303);
  const result = await getPage(paid.headers.location as string);
  assert.ok(result.body.includes('Payment successful'));
  assert.ok(result.body.includes('href="https://shop.test/success?order=1" target="_top"'));
  assert.ok(result.body.includes('411111******1111'));
  assert.ok(!result.body.includes('4111111111111111'));

  const payment = await platform.context.storage.db.selectFrom('payments').selectAll().where('order_id', '=', body.order_id).executeTakeFirstOrThrow();
  const status = await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', payment.trans_id));
  assert.equal(status.body.status, 'SETTLED', 'the same status query as any SALE');
  assert.deepEqual(JSON.parse(payment.payer_json), { payer_first_name: 'JOHN', payer_last_name: 'DOE', payer_email: 'doe@example.com', payer_ip: '127.0.0.1' });

  const again = await getPage(pathOf(body.redirect_url));
  assert.ok(again.body.includes('Payment successful'), 'a paid page shows its result');
  assert.ok(!again.body.includes('form_token'), 'never a second form');
});

test('two submissions of one form at the same moment charge once', async () => {
  const body = await createCheckout();
  const token = hiddenInputsOf((await getPage(pathOf(body.redirect_url))).body).form_token;
  const answers = await Promise.all(Array.from({ length: 5 }, () => postForm(pathOf(body.redirect_url), { form_token: token, ...card })));
  assert.ok(answers.every((answer) => answer.statusCode === 303));
  const payments = await platform.context.storage.db.selectFrom('payments').select('trans_id').where('order_id', '=', body.order_id).execute();
  assert.equal(payments.length, 1);
});

/** Opens the page, fills the form and pays: the way a cardholder's browser does. */
async function payOnPage(redirectUrl: string, entered: Record<string, string>) {
  const token = hiddenInputsOf((await getPage(pathOf(redirectUrl))).body).form_token;
  assert.ok(token, 'the page shows a form');
  const paid = await postForm(pathOf(redirectUrl), { form_token: token, ...entered });
  assert.equal(paid.statusCode, 303);
  return getPage(paid.headers.location as string);
}

test('req_token=Y and recurring_init=Y on the session: the page\'s SALE gets a card_token and a recurring_token, as an S2S SALE does', async () => {
  const receiver = await startCallbackReceiver();
  const dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  try {
    const merchant = await platform.addMerchant({ callbackUrl: receiver.url('/cb'), descriptor: 'Tea Shop' });
    const callbackOf = async (transId: string) => {
      await dispatcher.runOnce();
      const callback = receiver.received.find((received) => received.fields.trans_id === transId && received.fields.status !== '3DS');
      assert.ok(callback, `a callback for ${transId}`);
      assert.equal(verifyCallback(callback.fields, { password: merchant.password, email: 'doe@example.com' }), true);
      return callback.fields;
    };
    const paymentOf = (orderId: string) => platform.context.storage.db.selectFrom('payments').selectAll()
      .where('order_id', '=', orderId).orderBy('trans_id', 'desc').executeTakeFirstOrThrow();
    const session = (await platform.post(checkoutRequestFields(merchant, { req_token: 'Y', recurring_init: 'Y' }))).body;

    // A declined card first: like a declined S2S SALE, no token of either kind.
    const declinedPage = await payOnPage(session.redirect_url, { ...card, card_number: '4000 0000 0000 9995' });
    assert.ok(declinedPage.body.includes('Payment declined'));
    const declined = await paymentOf(session.order_id);
    const declinedCallback = await callbackOf(declined.trans_id);
    assert.equal(declinedCallback.status, 'DECLINED');
    assert.equal(declinedCallback.card_token, undefined);
    assert.equal(declinedCallback.recurring_token, undefined);

    // Then the spec's recurring card on the same page: both tokens, where an S2S SALE shows them.
    const paidPage = await payOnPage(session.redirect_url, card);
    assert.ok(paidPage.body.includes('Payment successful'));
    const paid = await paymentOf(session.order_id);
    assert.notEqual(paid.trans_id, declined.trans_id);
    const status = (await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', paid.trans_id))).body;
    assert.equal(status.status, 'SETTLED');
    assert.match(status.recurring_token, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal((await platform.post(transactionFields(merchant, 'GET_TRANS_DETAILS', paid.trans_id))).body.recurring_token, status.recurring_token);
    const callback = await callbackOf(paid.trans_id);
    assert.equal(callback.status, 'SETTLED');
    assert.equal(callback.recurring_token, status.recurring_token);
    assert.match(callback.card_token, /^[0-9a-f]{64}$/);
    assert.ok(!paidPage.body.includes(callback.card_token), 'the token is the merchant\'s, not shown to the cardholder');

    // The merchant can use them: a SALE with the card_token (token formula) and a RECURRING_SALE.
    const tokenSale = saleFields(merchant, { order_amount: '3.00' });
    delete tokenSale.card_number;
    delete tokenSale.card_exp_month;
    delete tokenSale.card_exp_year;
    const charged = (await platform.post({ ...tokenSale, card_token: callback.card_token, hash: saleTokenHash('doe@example.com', merchant.password, callback.card_token) })).body;
    assert.equal(charged.status, 'SETTLED', JSON.stringify(charged));
    const recurring = (await platform.post({
      action: 'RECURRING_SALE', client_key: merchant.clientKey, order_id: `REC-${paid.trans_id}`, order_amount: '4.99', order_description: 'Monthly tea',
      recurring_first_trans_id: paid.trans_id, recurring_token: status.recurring_token,
      hash: saleHash({ email: 'doe@example.com', password: merchant.password, cardDigits: cardHashPart('4111111111111111') }),
    })).body;
    assert.equal(recurring.status, 'SETTLED', JSON.stringify(recurring));

    // A session without the flags: neither token, as an S2S SALE without them.
    const plainSession = (await platform.post(checkoutRequestFields(merchant))).body;
    await payOnPage(plainSession.redirect_url, card);
    const plain = await paymentOf(plainSession.order_id);
    const plainCallback = await callbackOf(plain.trans_id);
    assert.equal(plainCallback.status, 'SETTLED');
    assert.equal(plainCallback.card_token, undefined);
    assert.equal(plainCallback.recurring_token, undefined);
    assert.equal((await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', plain.trans_id))).body.recurring_token, undefined);
  } finally {
    await dispatcher.stop();
    await receiver.close();
  }
});

test('req_token=Y through 3-D Secure on the page: the token comes with the final callback, as for an S2S SALE', async () => {
  const receiver = await startCallbackReceiver();
  const dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  try {
    const merchant = await platform.addMerchant({ callbackUrl: receiver.url('/cb'), threeDsEnabled: true });
    const session = (await platform.post(checkoutRequestFields(merchant, { req_token: 'Y' }))).body;
    const token = hiddenInputsOf((await getPage(pathOf(session.redirect_url))).body).form_token;
    const toIssuer = await postForm(pathOf(session.redirect_url), { form_token: token, ...card, expiry: '05/25' });
    assert.equal(toIssuer.statusCode, 200, 'an auto-submitting page to the issuer');
    const actionOf = (page: string) => pathOf(/<form[^>]*action="([^"]+)"/.exec(page)![1].replace(/&amp;/g, '&'));
    const issuer = await postForm(actionOf(toIssuer.body), hiddenInputsOf(toIssuer.body));
    assert.ok(issuer.body.includes('One-time code from the SMS'), 'the emulated issuer asks for the code');
    const confirmed = await postForm('/emulator/acs/verify', { ...hiddenInputsOf(issuer.body), code: '123456', decision: 'confirm' });
    const back = await postForm(actionOf(confirmed.body), hiddenInputsOf(confirmed.body));
    assert.equal(back.statusCode, 200, 'the one-time TermUrl');
    const result = await getPage(`${pathOf(session.redirect_url)}/result`);
    assert.ok(result.body.includes('Payment successful'));
    const payment = await platform.context.storage.db.selectFrom('payments').selectAll().where('order_id', '=', session.order_id).executeTakeFirstOrThrow();
    assert.equal(payment.status, 'SETTLED');
    await dispatcher.runOnce();
    const callbacks = receiver.received.filter((received) => received.fields.trans_id === payment.trans_id);
    assert.deepEqual(callbacks.map((received) => `${received.fields.result}/${received.fields.status}`), ['REDIRECT/3DS', 'SUCCESS/SETTLED']);
    assert.equal(callbacks[0].fields.card_token, undefined, 'no token before the payment is approved');
    assert.match(callbacks[1].fields.card_token, /^[0-9a-f]{64}$/);
  } finally {
    await dispatcher.stop();
    await receiver.close();
  }
});

test('Uzbek: from the session\'s language or the browser; each refusal case in its own words', async () => {
  const session = await createCheckout({ language: 'uz' });
  const form = await getPage(pathOf(session.redirect_url), { 'accept-language': 'ru' });
  assert.ok(form.body.includes('<html lang="uz"'), 'the merchant\'s language before the browser\'s');
  assert.ok(form.body.includes('Karta orqali toʻlov') && form.body.includes('Karta raqami'));
  assert.ok(form.body.includes('lang="uz" hreflang="uz" aria-current="true">Oʻzbekcha</a>'), 'the switcher names it');
  const browser = await createCheckout();
  assert.ok((await getPage(pathOf(browser.redirect_url), { 'accept-language': 'uz-Latn-UZ,uz;q=0.9,ru;q=0.8' })).body.includes('Karta orqali toʻlov'));
  const wrong = await postForm(pathOf(browser.redirect_url), {
    form_token: hiddenInputsOf((await getPage(pathOf(browser.redirect_url))).body).form_token, lang: 'uz', ...card, card_number: '4111 1111 1111 1112',
  });
  assert.ok(wrong.body.includes('Bunday karta raqami mavjud emas.'), 'field errors in Uzbek too');

  for (const [number, text] of [
    ['4000 0000 0000 0002', 'Kartangizda internet orqali toʻlov qilish yoqilmagan. Kartani chiqargan bankka murojaat qiling'],
    ['4000 0000 0000 9995', 'Kartada mablagʻ yetarli emas.'],
    ['4000 0000 0000 0127', 'Karta maʼlumotlari notoʻgʻri kiritilgan.'],
    ['4000 0000 0000 0069', 'Kartaning amal qilish muddati tugagan.'],
  ]) {
    const declined = await createCheckout({ language: 'uz' });
    const result = await payOnPage(declined.redirect_url, { ...card, card_number: number, expiry: '12/30' });
    assert.ok(result.body.includes('Toʻlov rad etildi'), number);
    assert.ok(result.body.includes(text), `${number}: ${text}`);
  }
});

test('an expired session, an unknown one and a broken form are readable pages, never a 500', async () => {
  const body = await createCheckout();
  platform.clock.advance(31 * 60 * 1000);
  const expired = await getPage(pathOf(body.redirect_url));
  assert.equal(expired.statusCode, 410);
  assert.ok(expired.body.includes('This payment page has expired'));
  assert.ok(expired.body.includes('href="https://shop.test/declined?order=1"'));
  const unknown = await getPage('/pay/AAAAAAAAAAAAAAAAAAAAAA');
  assert.equal(unknown.statusCode, 404);
  assert.ok(unknown.body.includes('Payment page not found'));
  const junk = await getPage('/pay/%3Cscript%3E');
  assert.equal(junk.statusCode, 404);
  const fresh = await createCheckout();
  const noToken = await postForm(pathOf(fresh.redirect_url), { card_number: 'x' });
  assert.equal(noToken.statusCode, 409);
  assert.ok(noToken.body.includes('Nothing was charged'));
  const json = await platform.app.inject({ method: 'POST', url: pathOf(fresh.redirect_url), headers: { 'content-type': 'application/json' }, payload: '{}' });
  assert.ok(json.statusCode < 500, `status ${json.statusCode}`);
  assert.match(json.headers['content-type'] as string, /text\/html/);
});
