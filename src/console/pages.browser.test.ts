import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser } from '../testing/browser.ts';
import {
  assertAccessible,
  createConsoleAccount,
  newConsolePage,
  screenshot,
  signInThroughForm,
} from '../testing/console.ts';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

/** Every console page, for each role that sees it, in each language and at 375 px: axe-core
 * finds no serious or critical violation, nothing overflows the phone's width, and the words
 * are the language's own. */

const skip = browserUnavailableReason();
let platform: TestPlatform;
let browser: Browser;
let baseUrl: string;
let transId: string;
/** Settled and never charged back: the one refunded. */
let refundableTransId: string;
let administrator: { email: string; password: string };
let merchantUser: { email: string; password: string };

before(async () => {
  if (skip) return;
  platform = await startTestPlatform();
  baseUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  transId = (await platform.post(saleFields(platform.merchant, { order_id: 'PAGES-1' }))).body.trans_id;
  refundableTransId = (await platform.post(saleFields(platform.merchant, { order_id: 'PAGES-2' }))).body.trans_id;
  await runKassa(platform, 'chargeback', 'create', '--trans-id', transId, '--reason-code', '4837', '--amount', '0.50');
  administrator = await createConsoleAccount(platform, 'pages-admin@kassa.test', 'administrator');
  merchantUser = await createConsoleAccount(
    platform,
    'pages-merchant@shop.test',
    'merchant',
    platform.merchant.clientKey,
  );
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await platform?.close();
});

const operatorPages = () => [
  '/console/start',
  '/console/payments',
  `/console/payments/${transId}`,
  '/console/merchants',
  '/console/merchants/new',
  `/console/merchants/${platform.merchant.clientKey}`,
  '/console/blocked-urls',
  '/console/lockouts',
  '/console/chargebacks',
  '/console/refund-applications',
  '/console/schedules',
  '/console/audit',
  '/console/clock',
  '/console/signature',
];
const merchantPages = () => [
  '/console/start',
  '/console/payments',
  `/console/payments/${transId}`,
  '/console/credentials',
  '/console/signature',
];

async function checkPages(page: Page, paths: string[], label: string, language: string): Promise<void> {
  for (const path of paths) {
    const answer = await page.goto(`${baseUrl}${path}${path.includes('?') ? '&' : '?'}lang=${language}`);
    assert.equal(answer?.status(), 200, `${label} ${path}`);
    assert.equal(await page.getAttribute('html', 'lang'), language);
    await assertAccessible(page, `${label} ${language} ${path}`);
  }
}

test('operator pages: no serious or critical axe-core violation in English, Russian and Kazakh', { skip }, async () => {
  const { context, page } = await newConsolePage(browser);
  await signInThroughForm(page, baseUrl, administrator);
  for (const language of ['en', 'ru', 'kk']) await checkPages(page, operatorPages(), 'operator', language);
  await page.goto(`${baseUrl}/console/payments?lang=ru`);
  assert.ok(await page.getByRole('heading', { name: 'Платежи' }).isVisible());
  await screenshot(page, 'payments-ru');
  await page.goto(`${baseUrl}/console/payments/${transId}?lang=kk`);
  assert.ok(await page.getByRole('heading', { name: 'Тарихы' }).isVisible());
  await screenshot(page, 'payment-kk');
  await page.goto(`${baseUrl}/console/start?lang=en`);
  await context.close();
});

test('merchant dashboard pages: accessible in every language', { skip }, async () => {
  const { context, page } = await newConsolePage(browser);
  await signInThroughForm(page, baseUrl, merchantUser);
  for (const language of ['en', 'ru', 'kk']) await checkPages(page, merchantPages(), 'merchant', language);
  await page.goto(`${baseUrl}/console/signature?lang=en`);
  await page
    .getByLabel('The request as sent')
    .fill(
      new URLSearchParams(saleFields(platform.merchant, { hash: 'f'.repeat(32) })).toString().replaceAll('&', '\n'),
    );
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.getByText('The hashes differ').waitFor();
  assert.ok(!(await page.content()).includes('4111111111111111'));
  await assertAccessible(page, 'signature explained');
  await screenshot(page, 'signature-explained');
  await context.close();
});

test('at 375 px every page fits the width; the payment page and the search stay usable', { skip }, async () => {
  const { context, page } = await newConsolePage(browser, { width: 375 });
  await signInThroughForm(page, baseUrl, administrator);
  for (const path of operatorPages()) {
    await page.goto(`${baseUrl}${path}`);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `${path} overflows 375 px by ${overflow} px`);
  }
  await page.goto(`${baseUrl}/console/payments/${transId}`);
  await screenshot(page, 'payment-375');
  await page.goto(`${baseUrl}/console/payments`);
  await screenshot(page, 'payments-375');
  await context.close();
});

test('without JavaScript: sign in, search and refund work the same', { skip }, async () => {
  const { context, page } = await newConsolePage(browser, { javaScriptEnabled: false });
  await signInThroughForm(page, baseUrl, administrator);
  await page.getByRole('navigation').getByRole('link', { name: 'Payments' }).click();
  await page.getByLabel('order_id').fill('PAGES-2');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('tbody tr').first().getByRole('link').click();
  await page.getByLabel('Refund: amount (USD)').fill('0.25');
  await page.getByRole('button', { name: 'Refund' }).click();
  await page.getByText('Refund made.').waitFor();
  await context.close();
});

test('bad input is answered beside the field and changes nothing', { skip }, async () => {
  const { context, page } = await newConsolePage(browser);
  await signInThroughForm(page, baseUrl, administrator);
  const before = (await runKassa(platform, 'merchant', 'list', '--json')).stdout;
  await page.goto(`${baseUrl}/console/merchants/new`);
  await page.getByLabel('E-mail').fill('not-an-address');
  await page.getByLabel('Callback URL').fill('ftp://shop.test/cb');
  await page.getByLabel('Descriptor').fill('SHOP');
  await page.getByLabel('Allowed IP addresses').fill('300.1.1.1');
  // The browser's own checks would stop the form first; the server must answer as well.
  await page
    .locator('form')
    .last()
    .evaluate((form) => form.setAttribute('novalidate', ''));
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Check the highlighted field.').waitFor();
  assert.match((await page.locator('#field-email-error').textContent()) ?? '', /not an e-mail address/);
  assert.match((await page.locator('#field-callback_url-error').textContent()) ?? '', /http or https/);
  assert.match((await page.locator('#field-allowed_ips-error').textContent()) ?? '', /not an IP address/);
  assert.equal(await page.getByLabel('E-mail').getAttribute('aria-invalid'), 'true');
  await assertAccessible(page, 'merchant form with errors');
  await screenshot(page, 'merchant-form-errors');
  assert.equal((await runKassa(platform, 'merchant', 'list', '--json')).stdout, before, 'no merchant was created');

  await page.goto(`${baseUrl}/console/payments/${refundableTransId}`);
  await page.getByLabel('Refund: amount (USD)').fill('1000000');
  await page.getByRole('button', { name: 'Refund' }).click();
  assert.match((await page.locator('#field-amount-refund-error').textContent()) ?? '', /Not done/);
  await page.goto(`${baseUrl}/console/payments?card=12ab`);
  assert.ok(await page.getByText('Check the highlighted field.').isVisible());
  await context.close();
});
