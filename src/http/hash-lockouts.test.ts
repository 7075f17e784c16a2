import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../app.ts';
import {
  countingWrongHashes,
  hashLockoutPolicy,
  liftLockout,
  listLockouts,
  refuseLockedPair,
} from '../operations/hash-lockouts.ts';
import { ProtocolError, protocolErrors } from '../protocol/errors.ts';
import {
  runKassa,
  saleFields,
  startTestPlatform,
  transactionFields,
  usingPostgres,
  type CliFailure,
  type TestPlatform,
} from '../testing/harness.ts';

const wrongHash = '2702ae0c4f99506dc29b5615ba9ee3c0';
const minuteMs = 60 * 1000;

async function platformFor(t: test.TestContext): Promise<TestPlatform> {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  return platform;
}

/** The error name of an answer, or its result when it is not an error. */
function outcome(body: { result: string; error_code?: number }): string {
  if (body.result !== 'ERROR') return body.result;
  const entry = Object.entries(protocolErrors).find(([, error]) => error.code === body.error_code);
  return entry ? entry[0] : String(body.error_code);
}

async function sale(
  platform: TestPlatform,
  merchant: TestPlatform['merchant'],
  options: { hash?: string; ip?: string } = {},
) {
  const fields = saleFields(merchant, options.hash ? { hash: options.hash } : {});
  return (await platform.post(fields, { remoteAddress: options.ip ?? '127.0.0.1' })).body;
}

test('use case: 10 wrong hashes in 15 minutes lock the pair; a lift or the lock running out frees it', async (t) => {
  const platform = await platformFor(t);
  const { context } = platform;
  const merchant = (await context.storage.merchants.byClientKey(platform.merchant.clientKey))!;
  const wrong = () =>
    countingWrongHashes(context, merchant, '198.51.100.7', async () => {
      throw new ProtocolError('hashInvalid');
    }).catch((error: ProtocolError) => error.name);
  const refusal = async () => {
    const current = (await context.storage.merchants.byClientKey(platform.merchant.clientKey))!;
    return refuseLockedPair(context, current, '198.51.100.7').then(
      () => 'open',
      (error: ProtocolError) => error.name,
    );
  };
  for (let attempt = 1; attempt < hashLockoutPolicy.wrongHashesMax; attempt += 1)
    assert.equal(await wrong(), 'hashInvalid');
  assert.equal(await refusal(), 'open', '9 wrong hashes do not lock');
  assert.equal(await wrong(), 'hashInvalid', 'the 10th is still answered as a wrong hash');
  assert.equal(await refusal(), 'hashLockedOut');
  const [listed] = await listLockouts(context.storage);
  assert.deepEqual(
    { ...listed, windowStartedAtMs: 0 },
    {
      clientKey: platform.merchant.clientKey,
      ip: '198.51.100.7',
      wrongHashes: 10,
      windowStartedAtMs: 0,
      lockedUntilMs: platform.clock.nowMs() + hashLockoutPolicy.lockMs,
    },
  );
  assert.equal(await liftLockout(context.storage, platform.merchant.clientKey, '198.51.100.7'), true);
  assert.equal(await refusal(), 'open');
  assert.deepEqual(await listLockouts(context.storage), []);

  for (let attempt = 0; attempt < hashLockoutPolicy.wrongHashesMax; attempt += 1) await wrong();
  assert.equal(await refusal(), 'hashLockedOut');
  platform.clock.advance(hashLockoutPolicy.lockMs - 1);
  assert.equal(await refusal(), 'hashLockedOut', 'still locked a millisecond before the end');
  platform.clock.advance(1);
  assert.equal(await refusal(), 'open');
  assert.equal(await wrong(), 'hashInvalid');
  assert.equal((await listLockouts(context.storage))[0].wrongHashes, 1, 'a lock that ran out starts a new count');
});

test('use case: wrong hashes spread over more than the window never lock', async (t) => {
  const platform = await platformFor(t);
  const merchant = (await platform.context.storage.merchants.byClientKey(platform.merchant.clientKey))!;
  for (let attempt = 0; attempt < 3 * hashLockoutPolicy.wrongHashesMax; attempt += 1) {
    await countingWrongHashes(platform.context, merchant, '198.51.100.8', async () => {
      throw new ProtocolError('hashInvalid');
    }).catch(() => undefined);
    platform.clock.advance(2 * minuteMs);
  }
  const current = (await platform.context.storage.merchants.byClientKey(platform.merchant.clientKey))!;
  await refuseLockedPair(platform.context, current, '198.51.100.8');
  assert.ok((await listLockouts(platform.context.storage)).every((view) => view.lockedUntilMs === 0));
});

test('API: 300 wrong hashes, then the right one, is refused without telling; other pairs are untouched', async (t) => {
  const platform = await platformFor(t);
  const outcomes = new Map<string, number>();
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const name = outcome(await sale(platform, platform.merchant, { hash: wrongHash }));
    outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(outcomes), { hashInvalid: 10, hashLockedOut: 290 });
  const right = await sale(platform, platform.merchant);
  const wrong = await sale(platform, platform.merchant, { hash: wrongHash });
  assert.equal(outcome(right), 'hashLockedOut');
  assert.deepEqual(right, wrong, 'a right hash and a wrong one get the same answer while locked');
  const status = await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', 'any-trans-id'));
  assert.equal(outcome(status.body), 'hashLockedOut', 'every action of the pair is refused');
  assert.equal(
    outcome(await sale(platform, platform.merchant, { ip: '::1' })),
    'SUCCESS',
    'another IP of the merchant',
  );
  const other = await platform.addMerchant();
  assert.equal(outcome(await sale(platform, other)), 'SUCCESS', 'another merchant from the same IP');
  const stored = await platform.context.storage.db.selectFrom('payments').select('trans_id').execute();
  assert.equal(stored.length, 2, 'no locked request created a payment');

  // Through the operator's command, as `kassa lockouts list|lift` runs it.
  const listed = (await runKassa(platform, 'lockouts', 'list')).stdout;
  assert.match(listed, new RegExp(`${platform.merchant.clientKey}  127\\.0\\.0\\.1  10 wrong since .* locked until `));
  const lifted = await runKassa(
    platform,
    'lockouts',
    'lift',
    '--client-key',
    platform.merchant.clientKey,
    '--ip',
    '127.0.0.1',
  );
  assert.match(lifted.stdout, /^lifted: 127\.0\.0\.1 may send requests/);
  await assert.rejects(
    runKassa(platform, 'lockouts', 'lift', '--client-key', platform.merchant.clientKey),
    (failure: CliFailure) => failure.code === 2 && /--ip is required/.test(failure.stderr),
  );
  assert.equal(outcome(await sale(platform, platform.merchant)), 'SUCCESS', 'accepted after lifting');
});

test('API: after the lock runs out the right hash is accepted', async (t) => {
  const platform = await platformFor(t);
  for (let attempt = 0; attempt < 12; attempt += 1) await sale(platform, platform.merchant, { hash: wrongHash });
  assert.equal(outcome(await sale(platform, platform.merchant)), 'hashLockedOut');
  platform.clock.advance(hashLockoutPolicy.lockMs);
  assert.equal(outcome(await sale(platform, platform.merchant)), 'SUCCESS');
});

test('API: concurrent wrong hashes are all counted, and the pair ends locked', async (t) => {
  const platform = await platformFor(t);
  const answers = await Promise.all(
    Array.from({ length: 40 }, () => sale(platform, platform.merchant, { hash: wrongHash })),
  );
  assert.ok(answers.every((body) => ['hashInvalid', 'hashLockedOut'].includes(outcome(body))));
  assert.equal(outcome(await sale(platform, platform.merchant)), 'hashLockedOut');
});

test('a lock made on one node refuses the pair on another node of the database; a lift there frees it', async (t) => {
  const platform = await platformFor(t);
  const otherNode = await buildApp(
    {
      host: '127.0.0.1',
      port: 0,
      dataDirectory: platform.dataDirectory,
      databaseUrl: process.env.DATABASE_URL || undefined,
      postgresSchema: platform.postgresSchema,
      secretKey: platform.secretKey,
      timeZone: 'UTC',
      trustProxy: false,
      logLevel: 'silent',
      mode: 'sandbox',
      challengeTimeoutMs: 15 * minuteMs,
    },
    { clock: platform.clock },
  );
  t.after(() => otherNode.close());
  const saleOnOtherNode = async () => {
    const response = await otherNode.app.inject({
      method: 'POST',
      url: '/post',
      remoteAddress: '127.0.0.1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(saleFields(platform.merchant)).toString(),
    });
    return outcome(response.json());
  };
  assert.equal(await saleOnOtherNode(), 'SUCCESS', 'the other node has the merchant cached');
  for (let attempt = 0; attempt < hashLockoutPolicy.wrongHashesMax; attempt += 1) {
    await sale(platform, platform.merchant, { hash: wrongHash });
  }
  // PostgreSQL: the other node hears of the change by the merchants trigger's notice, a moment later.
  const deadlineMs = Date.now() + (usingPostgres ? 3_000 : 0);
  let seen = await saleOnOtherNode();
  while (seen !== 'hashLockedOut' && Date.now() < deadlineMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = await saleOnOtherNode();
  }
  assert.equal(seen, 'hashLockedOut');
  await liftLockout(otherNode.context.storage, platform.merchant.clientKey, '127.0.0.1');
  let afterLift = outcome(await sale(platform, platform.merchant));
  while (afterLift !== 'SUCCESS' && Date.now() < deadlineMs + 3_000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    afterLift = outcome(await sale(platform, platform.merchant));
  }
  assert.equal(afterLift, 'SUCCESS');
});
