import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsoleAccount } from '../testing/console.ts';
import { consoleClient, signedInClient } from '../testing/console-inject.ts';
import { runKassa, saleFields, startTestPlatform, testNowMs, type TestPlatform } from '../testing/harness.ts';

let platform: TestPlatform;
let administrator: { email: string; password: string };

before(async () => {
  platform = await startTestPlatform();
  administrator = await createConsoleAccount(platform, 'admin@kassa.test', 'administrator');
});
after(() => platform?.close());

const minuteMs = 60 * 1000;

test('GET / is a page leading to the console sign-in, not the API 404', async () => {
  const answer = await platform.app.inject({ url: '/' });
  assert.equal(answer.statusCode, 200);
  assert.match(answer.headers['content-type'] as string, /text\/html/);
  assert.match(answer.body, /href="\/console\/sign-in"/);
});

test('the session cookie is HttpOnly and SameSite=Strict; pages carry a nonce CSP and refuse framing', async () => {
  const client = consoleClient(platform);
  const form = await client.get('/console/sign-in');
  assert.match(form.headers['content-security-policy'] as string, /script-src 'nonce-[^']+'; .*frame-ancestors 'none'/);
  const answer = await client.post('/console/sign-in', administrator);
  assert.equal(answer.statusCode, 303);
  const session = (answer.headers['set-cookie'] as string[]).find((line) => line.startsWith('kassa_console='))!;
  assert.match(session, /HttpOnly/);
  assert.match(session, /SameSite=Strict/);
  assert.doesNotMatch(session, /Secure/, 'sandbox over plain HTTP');
});

test('in production the session cookie is Secure too', async () => {
  const production = await startTestPlatform({ config: { mode: 'production' } });
  try {
    const account = await createConsoleAccount(production, 'prod@kassa.test', 'viewer');
    const client = consoleClient(production);
    await client.get('/console/sign-in');
    const answer = await client.post('/console/sign-in', account);
    assert.match(
      (answer.headers['set-cookie'] as string[]).find((line) => line.startsWith('kassa_console='))!,
      /; Secure/,
    );
  } finally {
    await production.close();
  }
});

test('a sign-in form without its CSRF token is refused and signs nobody in', async () => {
  const client = consoleClient(platform);
  await client.get('/console/sign-in');
  const answer = await client.post(
    '/console/sign-in',
    { ...administrator, csrf: 'forged-forged-forged-forged-forged' },
    { withCsrf: false },
  );
  assert.equal(answer.statusCode, 403);
  assert.ok(!client.cookies.has('kassa_console'));
});

test('a form posted without the session CSRF token changes nothing', async () => {
  const client = await signedInClient(platform, administrator);
  const before = (await runKassa(platform, 'merchant', 'list', '--json')).stdout;
  const merchant = platform.merchant.clientKey;
  for (const [path, fields] of [
    [`/console/merchants/${merchant}/rotate-password`, {}],
    ['/console/merchants', { email: 'x@y.test', descriptor: 'X' }],
    ['/console/clock/advance', { duration: '1d' }],
  ] as const) {
    const answer = await client.post(path, { ...fields, csrf: 'wrong' }, { withCsrf: false });
    assert.equal(answer.statusCode, 403, path);
    assert.match(answer.body, /The form expired/);
  }
  assert.equal((await runKassa(platform, 'merchant', 'list', '--json')).stdout, before);
  const { body } = await platform.post(saleFields(platform.merchant));
  assert.equal(body.result, 'SUCCESS', 'the PASSWORD was not rotated');
});

test('a session ends after 30 idle minutes and after 12 hours however active; sign-out ends it at once', async () => {
  const idle = await signedInClient(platform, administrator);
  platform.clock.set(testNowMs + 29 * minuteMs);
  assert.equal((await idle.get('/console/start')).statusCode, 200, 'still alive at 29 minutes');
  platform.clock.set(testNowMs + 60 * minuteMs);
  const expired = await idle.get('/console/start');
  assert.equal(expired.statusCode, 303);
  assert.equal(expired.headers.location, '/console/sign-in?ended=1');

  platform.clock.set(testNowMs);
  const busy = await signedInClient(platform, administrator);
  for (let minute = 20; minute < 12 * 60; minute += 20) {
    platform.clock.set(testNowMs + minute * minuteMs);
    assert.equal((await busy.get('/console/start')).statusCode, 200, `alive at minute ${minute}`);
  }
  platform.clock.set(testNowMs + 12 * 60 * minuteMs);
  assert.equal((await busy.get('/console/start')).statusCode, 303, 'the absolute limit');

  platform.clock.set(testNowMs);
  const leaving = await signedInClient(platform, administrator);
  const token = leaving.cookies.get('kassa_console')!;
  assert.equal((await leaving.post('/console/sign-out', {})).statusCode, 303);
  const replayed = await platform.app.inject({ url: '/console/start', headers: { cookie: `kassa_console=${token}` } });
  assert.equal(replayed.statusCode, 303, 'the old cookie no longer works');
});

test('five wrong passwords lock the account for 15 minutes, even against the right one', async () => {
  const account = await createConsoleAccount(platform, 'throttled@kassa.test', 'viewer');
  platform.clock.set(testNowMs);
  const client = consoleClient(platform, '10.1.1.1');
  await client.get('/console/sign-in');
  for (let attempt = 1; attempt <= 4; attempt += 1) {
    const answer = await client.post('/console/sign-in', {
      email: account.email,
      password: `wrong-password-${attempt}`,
    });
    assert.equal(answer.statusCode, 401);
    assert.match(answer.body, /The e-mail or the password is wrong/);
  }
  const fifth = await client.post('/console/sign-in', { email: account.email, password: 'wrong-password-5' });
  assert.equal(fifth.statusCode, 429);
  const right = await client.post('/console/sign-in', account);
  assert.equal(right.statusCode, 429, 'locked: the right password is not even checked');
  assert.match(right.body, /Too many failed attempts/);
  platform.clock.set(testNowMs + 16 * minuteMs);
  assert.equal((await client.post('/console/sign-in', account)).statusCode, 303);
  platform.clock.set(testNowMs);
});

test('an unknown e-mail is refused like a wrong password', async () => {
  const client = consoleClient(platform, '10.2.2.2');
  await client.get('/console/sign-in');
  const answer = await client.post('/console/sign-in', { email: 'nobody@kassa.test', password: 'whatever-password' });
  assert.equal(answer.statusCode, 401);
  assert.match(answer.body, /The e-mail or the password is wrong/);
});

test('the audit log refuses UPDATE and DELETE, whoever runs them', async () => {
  await runKassa(platform, 'merchant', 'create', '--email', 'audited@shop.test');
  const { stdout } = await runKassa(platform, 'audit', 'list', '--json');
  const entries = JSON.parse(stdout) as { action: string; actor: string }[];
  const entry = entries.find((row) => row.action === 'cli merchant create');
  assert.ok(entry, 'a CLI change is in the audit log');
  assert.match(entry.actor, /^cli:/);
  await assert.rejects(
    platform.context.storage.db.updateTable('audit_log').set({ action: 'rewritten' }).execute(),
    /append-only/,
  );
  await assert.rejects(platform.context.storage.db.deleteFrom('audit_log').execute(), /append-only/);
});

test('console passwords are stored as scrypt hashes, never in clear', async () => {
  const rows = await platform.context.storage.db
    .selectFrom('console_users')
    .select(['email', 'password_hash'])
    .execute();
  const row = rows.find((candidate) => candidate.email === administrator.email)!;
  assert.match(row.password_hash, /^scrypt\$15\$8\$1\$/);
  assert.ok(!row.password_hash.includes(administrator.password));
});

test('routing changes made with the CLI are audited, their secrets masked', async () => {
  await runKassa(platform, 'routing', 'mid', 'create', '--name', 'AUDITED-MID', '--secret', 'apiKey=very-secret-value');
  const entries = JSON.parse((await runKassa(platform, 'audit', 'list', '--json')).stdout) as {
    action: string;
    after: string;
  }[];
  const entry = entries.find((row) => row.action === 'cli routing mid create');
  assert.ok(entry, 'the routing change is in the audit log');
  assert.match(entry.after ?? '', /apiKey=\*\*\*/);
  assert.doesNotMatch(JSON.stringify(entries), /very-secret-value/);
});
