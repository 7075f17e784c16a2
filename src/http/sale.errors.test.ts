import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';
import { protocolErrors } from '../protocol/errors.ts';
import type { AcquirerConnector, AuthorizationAnswer } from '../acquirers/connector.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

function assertError(body: any, name: keyof typeof protocolErrors) {
  assert.equal(body.result, 'ERROR');
  assert.equal(body.error_code, protocolErrors[name].code);
  assert.equal(body.error_message, protocolErrors[name].message);
}

test('every missing field is listed at once, in the Symfony style of the spec', async () => {
  const { statusCode, body } = await platform.post({ action: 'SALE', client_key: platform.merchant.clientKey });
  assert.equal(statusCode, 200);
  assertError(body, 'requestInvalid');
  const messages = body.errors.map((error: any) => error.error_message);
  for (const field of ['order_id', 'order_amount', 'order_currency', 'order_description', 'card_number', 'card_exp_month',
    'card_exp_year', 'card_cvv2', 'payer_first_name', 'payer_last_name', 'payer_address', 'payer_country', 'payer_city',
    'payer_zip', 'payer_email', 'payer_phone', 'payer_ip', 'term_url_3ds', 'hash']) {
    assert.ok(messages.includes(`${field}: This value should not be blank.`), field);
  }
  assert.ok(body.errors.every((error: any) => error.error_code === 100000));
});

test('formats are checked: country, currency, date, IP, URL, e-mail, Luhn, lengths, amount > 0', async () => {
  const { body } = await platform.post(saleFields(platform.merchant, {
    payer_country: 'USA', order_currency: 'XYZ', payer_birth_date: '1970-02-30', payer_ip: '300.1.1.1',
    term_url_3ds: 'javascript:alert(1)', payer_email: 'not-an-email', card_number: '4111111111111112',
    payer_first_name: 'J'.repeat(33), order_id: 'o'.repeat(256), card_exp_month: '13', card_cvv2: '12', auth: 'yes',
  }));
  assertError(body, 'requestInvalid');
  assert.deepEqual(body.errors.map((error: any) => error.error_message), [
    'order_id: This value is too long. It should have 255 characters or less.',
    'order_currency: This value is not a valid currency.',
    'card_number: Invalid card number.',
    'card_exp_month: This value is not valid.',
    'card_cvv2: This value is not valid.',
    'payer_first_name: This value is too long. It should have 32 characters or less.',
    'payer_birth_date: This value is not a valid date.',
    'payer_country: This value is not a valid country.',
    'payer_email: This value is not a valid email address.',
    'payer_ip: This is not a valid IP address.',
    'term_url_3ds: This value is not a valid URL.',
    'auth: The value you selected is not a valid choice.',
  ]);
  const zero = await platform.post(saleFields(platform.merchant, { order_amount: '0.00' }));
  assert.deepEqual(zero.body.errors.map((error: any) => error.error_message), ['order_amount: This value should be greater than 0.']);
  const tooPrecise = await platform.post(saleFields(platform.merchant, { order_amount: '1.999' }));
  assert.deepEqual(tooPrecise.body.errors.map((error: any) => error.error_message), ['order_amount: This value is not valid.']);
  const channel = await platform.post(saleFields(platform.merchant, { channel_id: 'unknown' }));
  assert.deepEqual(channel.body.errors.map((error: any) => error.error_message), ['channel_id: The value you selected is not a valid choice.']);
  const knownChannel = await platform.post(saleFields(platform.merchant, { channel_id: 'web' }));
  assert.equal(knownChannel.body.result, 'SUCCESS');
});

test('authentication: unknown client_key, foreign IP, wrong hash, no S2S CARD mapping', async () => {
  const unknown = await platform.post(saleFields({ clientKey: '00000000-0000-4000-8000-000000000000', password: 'x' }));
  assertError(unknown.body, 'merchantNotFound');
  const foreign = await platform.post(saleFields(platform.merchant), { remoteAddress: '203.0.113.7' });
  assertError(foreign.body, 'ipNotAllowed');
  const ipv6 = await platform.post(saleFields(platform.merchant), { remoteAddress: '::1' });
  assert.equal(ipv6.body.result, 'SUCCESS');
  const wrongHash = await platform.post(saleFields(platform.merchant, { hash: '2702ae0c4f99506dc29b5615ba9ee3c0' }));
  assertError(wrongHash.body, 'hashInvalid');
  const upperCaseHash = saleFields(platform.merchant);
  upperCaseHash.hash = upperCaseHash.hash.toUpperCase();
  assert.equal((await platform.post(upperCaseHash)).body.result, 'SUCCESS');
  const unmapped = await platform.addMerchant({ s2sCardEnabled: false });
  assertError((await platform.post(saleFields(unmapped))).body, 'mappingNotFound');
  const ranged = await platform.addMerchant({ allowedIps: ['203.0.113.0/24'] });
  assert.equal((await platform.post(saleFields(ranged), { remoteAddress: '203.0.113.99' })).body.result, 'SUCCESS');
  assert.equal((await platform.post(saleFields(ranged), { remoteAddress: '::ffff:203.0.113.99' })).body.result, 'SUCCESS');
});

test('bodies that are not forms get the protocol error, never a 500 or HTML', async () => {
  const cases = [
    { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(saleFields(platform.merchant)), error: 'contentTypeNotSupported' },
    { headers: { 'content-type': 'text/plain' }, payload: 'action=SALE', error: 'contentTypeNotSupported' },
    { headers: { 'content-type': 'application/xml' }, payload: '<a/>', error: 'contentTypeNotSupported' },
    { headers: {}, payload: undefined, error: 'requestInvalid' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '', error: 'requestInvalid' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=%E0%A4%A&action[x]=SALE', error: 'requestInvalid' },
    { headers: { 'content-type': 'multipart/form-data; boundary=xyz' }, payload: '--xyz\r\nbroken', error: 'requestInvalid' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `action=SALE&x=${'a'.repeat(70 * 1024)}`, error: 'requestTooLarge' },
  ] as const;
  for (const testCase of cases) {
    const response = await platform.app.inject({ method: 'POST', url: '/post', headers: testCase.headers, payload: testCase.payload });
    assert.equal(response.statusCode, 200, JSON.stringify(testCase.headers));
    assert.match(response.headers['content-type'] as string, /^application\/json/);
    assertError(response.json(), testCase.error);
  }
  const file = new FormData();
  file.append('action', 'SALE');
  file.append('upload', new Blob(['x'.repeat(100)]), 'x.txt');
  const request = new Request('http://x/', { method: 'POST', body: file });
  const response = await platform.app.inject({
    method: 'POST', url: '/', headers: { 'content-type': request.headers.get('content-type')! }, payload: Buffer.from(await request.arrayBuffer()),
  });
  assert.equal(response.statusCode, 200);
  assert.equal(response.json().result, 'ERROR');
});

test('an unknown action is 204005 and unknown paths answer JSON', async () => {
  const { body } = await platform.post({ action: 'TELEPORT', client_key: platform.merchant.clientKey });
  assertError(body, 'actionNotSupported');
  const proto = await platform.post({ action: '__proto__', client_key: platform.merchant.clientKey });
  assertError(proto.body, 'actionNotSupported');
  const missing = await platform.app.inject({ method: 'GET', url: '/nothing' });
  assert.equal(missing.json().result, 'ERROR');
});

test('an exact replay of a finished SALE is a duplicate request; a changed retry is a new payment', async () => {
  const fields = saleFields(platform.merchant, { card_exp_month: '02' });
  const first = await platform.post(fields);
  assert.equal(first.body.result, 'DECLINED');
  assertError((await platform.post(fields)).body, 'duplicateRequest');
  const retry = await platform.post({ ...fields, card_exp_month: '01' });
  assert.equal(retry.body.result, 'SUCCESS');
  assert.equal(retry.body.order_id, first.body.order_id);
});

/** A bank that answers only when told to: keeps a payment in PREPARE for as long as a test needs. */
class HeldConnector extends TestEngineConnector implements AcquirerConnector {
  release: () => void = () => {};
  readonly held = new Promise<void>((resolve) => { this.release = resolve; });
  constructor() {
    super({ recordPrepare: true });
  }
  override async authorize(request: Parameters<TestEngineConnector['authorize']>[0]): Promise<AuthorizationAnswer> {
    await this.held;
    return super.authorize(request);
  }
}

test('while a payment of the order is unfinished, another SALE for it gets "Previous payment not completed"', async () => {
  const connector = new HeldConnector();
  const held = await startTestPlatform({ acquirer: connector });
  try {
    const fields = saleFields(held.merchant, { order_id: 'ORDER-OPEN' });
    const firstPending = held.post(fields);
    // Wait until the PREPARE row is committed.
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const row = await held.context.storage.db.selectFrom('payments').select('status').where('order_id', '=', 'ORDER-OPEN').executeTakeFirst();
      if (row) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const row = await held.context.storage.db.selectFrom('payments').select('status').where('order_id', '=', 'ORDER-OPEN').executeTakeFirstOrThrow();
    assert.equal(row.status, 'PREPARE');
    assertError((await held.post(saleFields(held.merchant, { order_id: 'ORDER-OPEN', order_amount: '5.00' }))).body, 'previousPaymentNotCompleted');
    assertError((await held.post(fields)).body, 'duplicateRequest');
    connector.release();
    const first = await firstPending;
    assert.equal(first.body.status, 'SETTLED');
    assert.equal((await held.post(saleFields(held.merchant, { order_id: 'ORDER-OPEN', order_amount: '5.00' }))).body.result, 'SUCCESS');
  } finally {
    connector.release();
    await held.close();
  }
});
