import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { refundApplicationPath } from './operations/refund-applications.ts';
import { checkoutRequestFields, hiddenInputsOf } from './testing/checkout.ts';
import { FixedClock } from './domain/clock.ts';
import { runKassa, startTestPlatform, testNowMs, transactionFields, type TestPlatform } from './testing/harness.ts';


let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

async function kassa(...args: string[]) {
  return runKassa(platform, ...args);
}
async function postForm(url: string, fields: Record<string, string>, on = platform) {
  return on.app.inject({
    method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString(),
  });
}

/** A merchant set up from the CLI, a payment made on its hosted page: the way an operator meets it. */
async function paidOnHostedPage(merchant: { clientKey: string; password: string }, amount = '12.50', on = platform) {
  const checkout = (await on.post(checkoutRequestFields(merchant, { order_amount: amount }))).body;
  const path = new URL(checkout.redirect_url).pathname;
  const form = await on.app.inject({ method: 'GET', url: path });
  const paid = await postForm(path, { form_token: hiddenInputsOf(form.body).form_token, card_number: '4111111111111111', cardholder_name: 'JANE DOE', expiry: '01/25', cvv: '123' }, on);
  assert.equal(paid.statusCode, 303);
  const result = await on.app.inject({ method: 'GET', url: paid.headers.location as string });
  const link = /href="(\/refund-application\/[^"?]+)/.exec(result.body)?.[1];
  assert.ok(link, 'the result page links to the application for refund');
  const payment = await on.context.storage.db.selectFrom('payments').selectAll().where('order_id', '=', checkout.order_id).executeTakeFirstOrThrow();
  assert.equal(link, refundApplicationPath(on.context, payment.trans_id));
  return { link, transId: payment.trans_id };
}

test('merchant settings for the hosted page: frame origins, refund days, holidays; bad values refused', async () => {
  const { stdout } = await kassa('merchant', 'create', '--email', 'ops@tea.test', '--frame-origin', 'https://tea.test',
    '--frame-origin', 'https://www.tea.test:8443', '--refund-days', '10', '--holiday', '2026-12-16', '--json');
  const created = JSON.parse(stdout);
  assert.deepEqual(created.frame_origins, ['https://tea.test', 'https://www.tea.test:8443']);
  assert.equal(created.refund_days, 10);
  assert.deepEqual(created.holidays, ['2026-12-16']);
  for (const [option, value] of [['--frame-origin', "https://tea.test; script-src *"], ['--frame-origin', 'https://tea.test/path'],
    ['--refund-days', '0'], ['--holiday', '2026-02-30']]) {
    await assert.rejects(kassa('merchant', 'update', '--client-key', created.client_key, option, value), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /^kassa: /);
      return true;
    });
  }
  const merchant = { clientKey: created.client_key, password: created.password };
  const checkout = (await platform.post(checkoutRequestFields(merchant))).body;
  const page = await platform.app.inject({ method: 'GET', url: new URL(checkout.redirect_url).pathname });
  assert.match(page.headers['content-security-policy'] as string, /frame-ancestors https:\/\/tea\.test https:\/\/www\.tea\.test:8443;?/);
});

test('a cardholder files an application; the operator lists it with its deadline and approves: a CREDITVOID refund', async () => {
  const { stdout } = await kassa('merchant', 'create', '--email', 'ops@books.test', '--refund-days', '10', '--holiday', '2026-12-04', '--json');
  const merchant = { clientKey: JSON.parse(stdout).client_key, password: JSON.parse(stdout).password };
  const { link, transId } = await paidOnHostedPage(merchant);

  const form = await platform.app.inject({ method: 'GET', url: link });
  assert.ok(form.body.includes('within 10 business days'));
  assert.ok(form.body.includes('value="12.50"'), 'the purchase amount by default');
  const tooMuch = await postForm(link, { kind: 'return', reason: 'Wrong size', amount: '13.00', contact_email: 'jane@example.com' });
  assert.equal(tooMuch.statusCode, 422);
  assert.ok(tooMuch.body.includes('This is more than can be refunded (12.50 USD).'));
  const filed = await postForm(link, { kind: 'return', reason: 'Wrong size <b>returned</b>', amount: '5.00', contact_email: 'jane@example.com' });
  assert.equal(filed.statusCode, 200);
  assert.ok(filed.body.includes('Application received'));
  // Received Monday 2026-11-23; 10 business days with Friday 4 December a holiday: Tuesday 8 December.
  assert.ok(filed.body.includes('The shop will answer by 2026-12-08'));
  assert.ok(filed.body.includes('Wrong size &lt;b&gt;returned&lt;/b&gt;'));

  const listed = JSON.parse((await kassa('refund-applications', 'list', '--client-key', merchant.clientKey, '--json')).stdout);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].deadline, '2026-12-08');
  const approved = JSON.parse((await kassa('refund-applications', 'approve', '--application-id', listed[0].application_id, '--json')).stdout);
  assert.equal(approved.status, 'APPROVED');

  const details = await platform.post(transactionFields(merchant, 'GET_TRANS_DETAILS', transId));
  const refund = details.body.transactions.find((operation: { type: string }) => operation.type === 'REFUND');
  assert.deepEqual({ type: refund.type, status: refund.status, amount: refund.amount }, { type: 'REFUND', status: 'success', amount: '5.00' });
  const status = await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', transId));
  assert.equal(status.body.status, 'SETTLED', 'a partial refund keeps SETTLED, as CREDITVOID does');

  await assert.rejects(kassa('refund-applications', 'approve', '--application-id', listed[0].application_id), (error: { code: number; stderr: string }) => {
    assert.match(error.stderr, /is APPROVED, not RECEIVED/);
    return true;
  });
  const rest = await platform.app.inject({ method: 'GET', url: link });
  assert.ok(rest.body.includes('value="7.50"'), 'what is left to refund');
  assert.ok(rest.body.includes('approved, the money was sent back'));
});

test('reject needs a reason; overdue applications are flagged once their deadline day has passed', async () => {
  const { link } = await paidOnHostedPage(platform.merchant, '3.00');
  await postForm(link, { kind: 'erroneous_charge', reason: 'Charged twice', amount: '3.00', contact_email: 'jane@example.com' });
  const listed = JSON.parse((await kassa('refund-applications', 'list', '--status', 'received', '--json')).stdout);
  const application = listed.find((row: { reason: string }) => row.reason === 'Charged twice');
  assert.equal(application.deadline, '2026-12-11', '14 business days by default');
  // The CLI runs on real time plus the sandbox offset (next test); this platform's base clock is
  // fixed, so "today" is moved with it and the list read through the same operation.
  const { findApplications } = await import('./operations/refund-applications.ts');
  const overdueIds = async () => (await findApplications(platform.context, { overdueOnly: true })).map((row) => row.application_id);
  platform.clock.set(Date.UTC(2026, 11, 11, 23, 59));
  assert.ok(!(await overdueIds()).includes(application.application_id), 'the deadline day itself is in time');
  platform.clock.set(Date.UTC(2026, 11, 12, 0, 1));
  assert.ok((await overdueIds()).includes(application.application_id), 'the day after the deadline it is overdue');
  const text = await findApplications(platform.context, {});
  assert.ok(text.some((row) => row.application_id === application.application_id && row.overdue));
  await assert.rejects(kassa('refund-applications', 'reject', '--application-id', application.application_id), /--note is required/);
  const rejected = JSON.parse((await kassa('refund-applications', 'reject', '--application-id', application.application_id,
    '--note', 'Only one charge found', '--json')).stdout);
  assert.equal(rejected.status, 'REJECTED');
  platform.clock.set(testNowMs);
  const decided = (await findApplications(platform.context, { status: 'rejected' })).find((row) => row.application_id === application.application_id);
  platform.clock.set(Date.UTC(2027, 0, 30));
  assert.equal((await findApplications(platform.context, { status: 'rejected' })).find((row) => row.application_id === application.application_id)?.overdue,
    false, 'a decided application is never overdue');
  assert.equal(decided?.decision_note, 'Only one charge found');
  platform.clock.set(testNowMs);
});

test('the CLI runs on the server\'s sandbox clock: after `kassa clock advance` list flags overdue and approve dates the refund then', async () => {
  // The CLI and the server share the base clock; both add the offset stored in the database.
  const live = await startTestPlatform({ clock: new FixedClock(testNowMs) });
  const cli = (...args: string[]) => runKassa(live, ...args);
  try {
    const { link, transId } = await paidOnHostedPage(live.merchant, '8.00', live);
    const filed = await postForm(link, { kind: 'return', reason: 'Too big', amount: '5.00', contact_email: 'jane@example.com' }, live);
    assert.equal(filed.statusCode, 200);
    const [before] = JSON.parse((await cli('refund-applications', 'list', '--json')).stdout);
    assert.equal(before.overdue, false, 'filed today, answered within 14 business days');
    assert.deepEqual(JSON.parse((await cli('refund-applications', 'list', '--overdue', '--json')).stdout), []);

    const moved = JSON.parse((await cli('clock', 'advance', '60d', '--json')).stdout);
    const offsetMs = 60 * 24 * 60 * 60 * 1000;
    assert.equal(moved.offset_ms, offsetMs);
    const overdue = JSON.parse((await cli('refund-applications', 'list', '--overdue', '--json')).stdout);
    assert.deepEqual(overdue.map((row: { application_id: string }) => row.application_id), [before.application_id],
      'sixty days later the deadline has passed, by the sandbox clock');
    assert.equal(overdue[0].deadline, before.deadline, 'the deadline itself was fixed at receipt');

    const approved = JSON.parse((await cli('refund-applications', 'approve', '--application-id', before.application_id, '--json')).stdout);
    assert.equal(approved.status, 'APPROVED');
    assert.equal(approved.overdue, false, 'a decided application is not overdue');
    const details = (await live.post(transactionFields(live.merchant, 'GET_TRANS_DETAILS', transId))).body;
    const refund = details.transactions.find((operation: { type: string }) => operation.type === 'REFUND');
    assert.equal(refund.amount, '5.00');
    const refundMs = Date.parse(`${refund.date.replace(' ', 'T')}Z`);
    assert.equal(refundMs, testNowMs + offsetMs, `the refund is dated by the sandbox clock: ${refund.date}, not today`);
  } finally {
    await live.close();
  }
});
