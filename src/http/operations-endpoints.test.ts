import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AcquirerConnector } from '../acquirers/connector.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';
import { startTestPlatform, saleFields, type TestPlatform } from '../testing/harness.ts';

/** A value of one sample line of the Prometheus text, e.g. `kassa_callbacks_pending`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** /health/ready once the merchant-change listener (PostgreSQL) is up: the server opens it at
 * start, a test platform at its first lookup. Bounded wait. */
async function readiness(platform: Pick<TestPlatform, 'context'>, app: TestPlatform['app']) {
  platform.context.storage.merchants.listen();
  let ready = await app.inject({ method: 'GET', url: '/health/ready' });
  for (let attempt = 0; attempt < 50 && ready.statusCode !== 200; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    ready = await app.inject({ method: 'GET', url: '/health/ready' });
  }
  return ready;
}

async function scrape(platform: Pick<TestPlatform, 'app'>, headers: Record<string, string> = {}) {
  const response = await platform.app.inject({ method: 'GET', url: '/metrics', headers });
  const contentType = String(response.headers['content-type']);
  return { statusCode: response.statusCode, contentType, text: response.body };
}

test('/metrics counts SALE answers by result, declines by reason, latency and the database gauges', async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  for (let index = 0; index < 3; index += 1) {
    assert.equal((await platform.post(saleFields(platform.merchant))).body.result, 'SUCCESS');
  }
  const declined = await platform.post(saleFields(platform.merchant, { card_number: '4000000000009995' }));
  assert.equal(declined.body.result, 'DECLINED');
  assert.equal((await platform.post(saleFields(platform.merchant, { hash: 'wrong' }))).body.result, 'ERROR');

  const { statusCode, contentType, text } = await scrape(platform);
  assert.equal(statusCode, 200);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(text, /# TYPE kassa_api_requests_total counter/);
  assert.equal(sample(text, 'kassa_api_requests_total{action="SALE",result="SUCCESS"}'), 3);
  assert.equal(sample(text, 'kassa_api_requests_total{action="SALE",result="DECLINED"}'), 1);
  assert.equal(sample(text, 'kassa_api_requests_total{action="SALE",result="ERROR"}'), 1);
  assert.equal(sample(text, 'kassa_payment_decisions_total{decision="approved",reason=""}'), 3);
  const reason = declined.body.decline_reason as string;
  assert.equal(sample(text, `kassa_payment_decisions_total{decision="declined",reason="${reason}"}`), 1);
  assert.equal(sample(text, 'kassa_api_request_duration_seconds_count{action="SALE"}'), 5);
  assert.equal(sample(text, 'kassa_api_request_duration_seconds_bucket{action="SALE",le="+Inf"}'), 5);
  // Every payment of the harness's merchant has a callback to an address that never answers.
  assert.equal(sample(text, 'kassa_callbacks_pending'), 4);
  assert.ok((sample(text, 'kassa_callback_oldest_pending_age_seconds') ?? -1) >= 0);
  assert.equal(sample(text, 'kassa_payments_awaiting_reconciliation'), 0);
  assert.equal(sample(text, 'kassa_callback_urls_blocked'), 0);
  assert.equal(sample(text, 'kassa_database_up'), 1);
  assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
  if (platform.context.storage.dialect === 'postgres') {
    assert.notEqual(sample(text, 'kassa_database_pool_connections{state="in_use"}'), undefined);
    assert.equal(sample(text, 'kassa_database_pool_connections{state="waiting"}'), 0);
  }
});

test('a payment whose acquirer answer is unknown counts as awaiting reconciliation', async (t) => {
  const engine = new TestEngineConnector({ recordPrepare: true });
  const acquirer: AcquirerConnector = Object.assign(Object.create(engine) as AcquirerConnector, {
    authorize: async () => {
      throw new Error('the bank did not answer');
    },
  });
  const platform = await startTestPlatform({ acquirer });
  t.after(() => platform.close());
  const answer = await platform.post(saleFields(platform.merchant));
  assert.equal(answer.body.status, 'PREPARE');
  assert.equal(sample((await scrape(platform)).text, 'kassa_payments_awaiting_reconciliation'), 1);
});

test('production: /metrics on the main port only with the bearer token; KASSA_METRICS_PORT moves it off', async (t) => {
  const token = 'metrics-token-0123456789';
  const withToken = await startTestPlatform({ config: { mode: 'production', metricsToken: token } });
  t.after(() => withToken.close());
  assert.equal((await scrape(withToken)).statusCode, 401);
  assert.equal((await scrape(withToken, { authorization: 'Bearer not-the-token-000000' })).statusCode, 401);
  const allowed = await scrape(withToken, { authorization: `Bearer ${token}` });
  assert.equal(allowed.statusCode, 200);
  assert.match(allowed.text, /kassa_callbacks_pending 0/);

  const withoutToken = await startTestPlatform({ config: { mode: 'production' } });
  t.after(() => withoutToken.close());
  assert.equal((await scrape(withoutToken)).statusCode, 404);

  const ownPort = await startTestPlatform({ config: { mode: 'production', metricsPort: 0 } });
  t.after(() => ownPort.close());
  assert.equal((await scrape(ownPort)).statusCode, 404);
  assert.ok(ownPort.metricsApp);
  assert.equal((await scrape({ app: ownPort.metricsApp })).statusCode, 200);
  const ready = await readiness(ownPort, ownPort.metricsApp);
  assert.equal(ready.statusCode, 200, ready.body);
});

test('KASSA_METRICS=off: payments and health as usual, no /metrics and nothing recorded', async (t) => {
  const platform = await startTestPlatform({ config: { metricsEnabled: false } });
  t.after(() => platform.close());
  assert.equal((await platform.post(saleFields(platform.merchant))).body.result, 'SUCCESS');
  assert.equal((await platform.post(saleFields(platform.merchant, { hash: 'wrong' }))).body.result, 'ERROR');
  const metrics = await scrape(platform);
  assert.equal(metrics.statusCode, 404);
  assert.equal(JSON.parse(metrics.text).result, 'ERROR');
  assert.equal(platform.metrics, undefined);
  assert.equal((await platform.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
});

test('/health/live and /health/ready answer 200; ready turns 503 as soon as draining starts', async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const live = await platform.app.inject({ method: 'GET', url: '/health/live' });
  assert.equal(live.statusCode, 200);
  assert.deepEqual(live.json(), { status: 'live' });
  const ready = await readiness(platform, platform.app);
  assert.equal(ready.statusCode, 200, ready.body);
  assert.deepEqual(ready.json(), { status: 'ready' });

  platform.lifecycle.draining = true;
  const draining = await platform.app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(draining.statusCode, 503);
  assert.match(JSON.stringify(draining.json()), /draining/);
  assert.equal(draining.headers.connection, 'close');
  assert.equal((await platform.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
});

test('/health/ready names a migration the database has not applied', async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  platform.context.storage.merchants.listen();
  const { sql } = await import('kysely');
  await sql`delete from kysely_migration where name = '0030_payment_request_ids'`.execute(platform.context.storage.db);
  const ready = await platform.app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(ready.statusCode, 503);
  assert.match(JSON.stringify(ready.json()), /migrations not applied: 0030_payment_request_ids/);
});

test('X-Request-Id: a good one is echoed, logged and stored with the payment; a bad one is replaced', async (t) => {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'shop-4711.retry:2' };
  const response = await platform.app.inject({
    method: 'POST', url: '/post', remoteAddress: '127.0.0.1', headers, payload: form(saleFields(platform.merchant)),
  });
  assert.equal(response.headers['x-request-id'], 'shop-4711.retry:2');
  const transId = response.json().trans_id as string;
  const logged = platform.logLines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'api request');
  assert.ok(logged.some((line) => line.reqId === 'shop-4711.retry:2' && line.transId === transId));
  const row = await platform.context.storage.db.selectFrom('payments').select('request_id')
    .where('trans_id', '=', transId).executeTakeFirstOrThrow();
  assert.equal(row.request_id, 'shop-4711.retry:2');

  for (const bad of ['x'.repeat(129), 'has space', 'tab\there', 'ünicode']) {
    const answer = await platform.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': bad } });
    const made = String(answer.headers['x-request-id']);
    assert.notEqual(made, bad);
    assert.match(made, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  }
  // Pages and unknown paths carry one too.
  for (const url of ['/pay/unknown-session', '/no/such/path']) {
    const answer = await platform.app.inject({ method: 'GET', url });
    assert.match(String(answer.headers['x-request-id']), /^[0-9a-f-]{36}$/, url);
  }
});
