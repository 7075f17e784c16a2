import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { saleFields, startTestPlatform, testCard, type TestPlatform } from '../testing/harness.ts';
import { protocolErrors } from '../protocol/errors.ts';

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

const pan = '5555555555554444';

/** The log lines written while `run` ran, parsed. */
async function linesDuring(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const start = platform.logLines.length;
  await run();
  return platform.logLines.slice(start).map((line) => JSON.parse(line));
}

test('an ERROR answer is logged once: merchant, action, error code, request id — no card data', async () => {
  const lines = await linesDuring(() =>
    platform.post(saleFields(platform.merchant, { card_number: pan, hash: '0'.repeat(32) })),
  );
  assert.equal(lines.length, 1, JSON.stringify(lines));
  const [line] = lines;
  assert.equal(line.msg, 'api error answer');
  assert.equal(line.clientKey, platform.merchant.clientKey);
  assert.equal(line.action, 'SALE');
  assert.equal(line.errorCode, protocolErrors.hashInvalid.code);
  // The request id Kassa made (no X-Request-Id was sent), as the answer's header names it.
  assert.match(String(line.reqId), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.ok(line.level === 40, 'a wrong hash is a warning');
});

test('a validation error names the fields, not their values; card data in odd places is never logged', async () => {
  const lines = await linesDuring(async () => {
    await platform.post(
      saleFields(platform.merchant, { card_number: pan, card_exp_month: '13', payer_email: `${pan}@x` }),
    );
    await platform.post({ action: pan, client_key: pan, card_number: pan, card_cvv2: '737' });
    await platform.post({ action: 'SALE', client_key: `${pan}-${pan}`, card_number: pan });
    await platform.app.inject({
      method: 'POST',
      url: '/post',
      headers: { 'content-type': 'multipart/form-data' },
      payload: pan,
    });
    await platform.app.inject({ method: 'GET', url: `/nothing?card_number=${pan}` });
  });
  const answers = lines.filter((line) => line.msg === 'api error answer');
  assert.deepEqual(
    answers.map((line) => line.errorCode),
    [100000, 100000, 100000, 100000, 900404],
  );
  assert.deepEqual(answers[0].invalidFields, ['card_exp_month', 'payer_email']);
  assert.equal(answers[1].action, undefined, 'an action Kassa does not serve is not copied');
  assert.equal(answers[1].clientKey, undefined, 'a client_key that is not a UUID is not copied');
  assert.equal(new Set(lines.map((line) => line.reqId)).size, lines.length, 'one line per request');
  for (const text of platform.logLines) {
    assert.ok(!text.includes(pan) && !text.includes(testCard.number) && !text.includes('"737"'), text);
  }
});

test('a successful SALE writes its one request line and no error line', async () => {
  const lines = await linesDuring(() => platform.post(saleFields(platform.merchant)));
  assert.deepEqual(
    lines.map((line) => line.msg),
    ['api request'],
  );
});
