import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkoutRequestFields, hiddenInputsOf } from '../testing/checkout.ts';
import { startTestPlatform, transactionFields, type TestPlatform } from '../testing/harness.ts';

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
  assert.deepEqual(badHash, { result: 'ERROR', error_code: 900003, error_message: 'Hash is not valid.' });
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
