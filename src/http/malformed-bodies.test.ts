import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';
import { protocolErrors } from '../protocol/errors.ts';

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

/** Content types busboy cannot even start on: they used to escape as a 500 with a stack trace. */
const unreadableMultipartTypes = ['multipart/form-data', 'multipart/form-data;', 'multipart/form-data; charset=utf-8'];

const pagePaths = [
  '/emulator/acs',
  '/emulator/acs/verify',
  '/pay/0f7b3c2e-1d4a-4b5c-9e8f-a1b2c3d4e5f6',
  '/verify/3ds/some-trans/some-signature',
  '/emulator/redirect/some-trans/some-signature',
  '/refund-application/some-trans/some-signature',
];

function errorLines(): string[] {
  return platform.logLines.filter((line) => JSON.parse(line).level >= 50 || line.includes('stack'));
}

test('pages answer a multipart body without a boundary with a readable 400 page, and log no failure', async () => {
  for (const contentType of unreadableMultipartTypes) {
    for (const url of pagePaths) {
      const response = await platform.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': contentType },
        payload: 'PaReq=x',
      });
      assert.equal(response.statusCode, 400, `${url} ${contentType}`);
      assert.match(response.headers['content-type'] as string, /^text\/html/, url);
      assert.match(response.body, /<title>[^<]+<\/title>/, url);
    }
  }
  assert.deepEqual(errorLines(), []);
});

test('the API answers a multipart body without a boundary with requestInvalid, HTTP 200, no stack trace', async () => {
  for (const contentType of unreadableMultipartTypes) {
    for (const url of ['/', '/post', '/v2/post']) {
      const fields = new URLSearchParams(saleFields(platform.merchant)).toString();
      const response = await platform.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': contentType },
        payload: fields,
      });
      assert.equal(response.statusCode, 200, `${url} ${contentType}`);
      const body = response.json();
      assert.equal(body.result, 'ERROR');
      assert.equal(body.error_code, protocolErrors.requestInvalid.code, `${url} ${contentType}`);
    }
  }
  assert.deepEqual(errorLines(), []);
});

test('a repeated multipart field keeps its last value, as a repeated urlencoded field does', async () => {
  const form = new FormData();
  for (const [key, value] of Object.entries(saleFields(platform.merchant))) form.append(key, value);
  form.append('order_description', 'Second description');
  const request = new Request('http://x/', { method: 'POST', body: form });
  const response = await platform.app.inject({
    method: 'POST',
    url: '/post',
    headers: { 'content-type': request.headers.get('content-type')! },
    payload: Buffer.from(await request.arrayBuffer()),
  });
  assert.equal(response.json().result, 'SUCCESS');
  const stored = await platform.context.storage.db
    .selectFrom('payments')
    .select('order_description')
    .where('trans_id', '=', response.json().trans_id)
    .executeTakeFirstOrThrow();
  assert.equal(stored.order_description, 'Second description');
});
