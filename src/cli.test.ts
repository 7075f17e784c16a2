import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from './testing/harness.ts';


let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

async function kassa(...args: string[]) {
  // The CLI opens the database a second time, as its own process would, while the server runs.
  return runKassa(platform, ...args);
}

test('merchant create prints client_key and a generated 32-character password, served at once', async () => {
  const { stdout } = await kassa('merchant', 'create', '--email', 'ops@shop.test', '--callback-url', 'http://127.0.0.1:9000/cb',
    '--allow-ip', '127.0.0.1', '--allow-ip', '10.0.0.0/8', '--channel', 'web', '--three-ds', 'off', '--json');
  const created = JSON.parse(stdout);
  assert.match(created.client_key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(created.password, /^[A-Za-z0-9]{32}$/);
  assert.deepEqual(created.allowed_ips, ['127.0.0.1', '10.0.0.0/8']);
  assert.equal(created.three_ds, false);
  assert.equal(created.s2s_card, true);
  const { body } = await platform.post(saleFields({ clientKey: created.client_key, password: created.password }, { channel_id: 'web' }));
  assert.equal(body.result, 'SUCCESS');
});

test('two merchants never get the same password; list shows merchants without secrets', async () => {
  const first = JSON.parse((await kassa('merchant', 'create', '--email', 'a@shop.test', '--json')).stdout);
  const second = JSON.parse((await kassa('merchant', 'create', '--email', 'b@shop.test', '--json')).stdout);
  assert.notEqual(first.password, second.password);
  const { stdout } = await kassa('merchant', 'list', '--json');
  const listed = JSON.parse(stdout);
  assert.ok(listed.some((merchant: any) => merchant.client_key === first.client_key));
  assert.ok(!stdout.includes(first.password));
  assert.ok(listed.every((merchant: any) => !('password' in merchant)));
});

test('update switches the S2S CARD mapping off and the server answers 204002 at once', async () => {
  const created = JSON.parse((await kassa('merchant', 'create', '--email', 'c@shop.test', '--json')).stdout);
  await kassa('merchant', 'update', '--client-key', created.client_key, '--s2s-card', 'off');
  const { body } = await platform.post(saleFields({ clientKey: created.client_key, password: created.password }));
  assert.equal(body.error_code, 204002);
});

test('a merchant already serving payments, switched off by the CLI, is refused on the very next request', async () => {
  // On PostgreSQL the server caches merchants; the CLI's change must reach it before its exit.
  const created = JSON.parse((await kassa('merchant', 'create', '--email', 'd@shop.test', '--json')).stdout);
  const credentials = { clientKey: created.client_key, password: created.password };
  for (let payment = 0; payment < 3; payment += 1) {
    assert.equal((await platform.post(saleFields(credentials))).body.result, 'SUCCESS');
  }
  await kassa('merchant', 'update', '--client-key', created.client_key, '--s2s-card', 'off');
  assert.equal((await platform.post(saleFields(credentials))).body.error_code, 204002);
  await kassa('merchant', 'update', '--client-key', created.client_key, '--s2s-card', 'on', '--allow-ip', '10.1.2.3');
  assert.equal((await platform.post(saleFields(credentials))).body.error_code, 900002);
});

test('bad options are refused with a readable message and exit code 2', async () => {
  for (const args of [['merchant', 'create'], ['merchant', 'create', '--email', 'x@y.z', '--allow-ip', '300.0.0.1'],
    ['merchant', 'create', '--email', 'x@y.z', '--callback-url', 'ftp://x'], ['merchant', 'create', '--bogus']]) {
    const failure = await kassa(...args).then(() => undefined, (error) => error);
    assert.ok(failure, args.join(' '));
    assert.equal(failure.code, 2, args.join(' '));
    assert.match(failure.stderr, /^kassa: /);
    assert.ok(!failure.stderr.includes('    at '), 'no stack trace');
  }
});
