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

/** The routing pages and the refused-request picker in Chromium (docs/adr/0086, 0085): axe-core
 * in three languages, 375 px, no JavaScript, the viewer's and the merchant user's views. */

const skip = browserUnavailableReason();
let platform: TestPlatform;
let browser: Browser;
let baseUrl: string;
let administrator: { email: string; password: string };
let viewer: { email: string; password: string };
let merchantUser: { email: string; password: string };

const kassa = (...args: string[]) => runKassa(platform, ...args, '--actor', 'ops@psp.test');
const routingPaths = [
  '/console/routing',
  '/console/routing/mids/browser-visa',
  '/console/routing/mappings',
  '/console/routing/limits',
  '/console/routing/rates',
  '/console/routing/explain',
];

before(async () => {
  if (skip) return;
  platform = await startTestPlatform();
  baseUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  await kassa('routing', 'mid', 'create', '--name', 'browser-amex', '--brands', 'AMEX');
  await kassa('routing', 'rates', 'set', '--from', 'EUR', '--to', 'USD', '--rate', '1.0825');
  await kassa(
    'routing',
    'mid',
    'create',
    '--name',
    'browser-visa',
    '--brands',
    'VISA',
    '--currencies',
    'USD',
    '--exchange-currencies',
    'EUR',
  );
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'browser-visa',
    '--window',
    'day',
    '--currency',
    'USD',
    '--amount',
    '50.00',
  );
  await kassa(
    'routing',
    'limit',
    'set',
    '--mid',
    'browser-visa',
    '--window',
    'month',
    '--currency',
    'USD',
    '--amount',
    '900.00',
  );
  await kassa(
    'routing',
    'mapping',
    'set',
    '--client-key',
    platform.merchant.clientKey,
    '--mids',
    'browser-amex,browser-visa',
  );
  await kassa(
    'routing',
    'limit',
    'set',
    '--client-key',
    platform.merchant.clientKey,
    '--window',
    'week',
    '--currency',
    'USD',
    '--amount',
    '200.00',
  );
  await platform.post(saleFields(platform.merchant, { order_amount: '12.34' }));
  await platform.post(saleFields(platform.merchant, { order_id: 'BROWSER-REFUSED', hash: 'e'.repeat(32) }));
  await platform.apiRequests?.flush();
  administrator = await createConsoleAccount(platform, 'browser-routing@kassa.test', 'administrator');
  viewer = await createConsoleAccount(platform, 'browser-viewer@kassa.test', 'viewer');
  merchantUser = await createConsoleAccount(platform, 'browser-dev@shop.test', 'merchant', platform.merchant.clientKey);
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await platform?.close();
});

async function checkPages(page: Page, language: string): Promise<void> {
  for (const path of routingPaths) {
    const answer = await page.goto(`${baseUrl}${path}?lang=${language}`);
    assert.equal(answer?.status(), 200, path);
    assert.equal(await page.getAttribute('html', 'lang'), language);
    await assertAccessible(page, `routing ${language} ${path}`);
  }
}

test('routing pages: no serious or critical axe-core violation in English, Russian and Kazakh', { skip }, async () => {
  const { context, page } = await newConsolePage(browser);
  await signInThroughForm(page, baseUrl, administrator);
  for (const language of ['en', 'ru', 'kk']) await checkPages(page, language);
  await page.goto(`${baseUrl}/console/routing/limits?lang=ru`);
  assert.ok(await page.getByRole('heading', { name: 'Лимиты и остаток' }).isVisible());
  await screenshot(page, 'routing-limits-ru');
  await page.goto(`${baseUrl}/console/routing/mappings?lang=kk`);
  assert.ok(await page.getByRole('heading', { name: 'Мерчант байланыстары' }).isVisible());
  await screenshot(page, 'routing-mappings-kk');
  await page.goto(`${baseUrl}/console/routing?lang=en`);
  await screenshot(page, 'routing-mids');
  // The answered form, and the form with errors (axe-core needs script: this context has it).
  for (const [amount, what] of [
    ['10.00', 'explained'],
    ['ten', 'with errors'],
  ]) {
    await page.goto(`${baseUrl}/console/routing/explain?client_key=${platform.merchant.clientKey}`);
    await page.getByLabel('or card brand').selectOption('VISA');
    await page.getByLabel('Currency').fill('USD');
    await page.getByLabel('Amount').fill(amount);
    await page.getByRole('button', { name: 'Explain' }).click();
    await page
      .getByRole(amount === 'ten' ? 'alert' : 'status')
      .first()
      .waitFor();
    await assertAccessible(page, `routing ${what}`);
  }
  await context.close();
});

test('without JavaScript, by keyboard: explain a route, then switch the MID off and on', { skip }, async () => {
  const { context, page } = await newConsolePage(browser, { javaScriptEnabled: false });
  await signInThroughForm(page, baseUrl, administrator);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Routing' }).click();
  await page
    .getByRole('navigation', { name: 'Routing sections' })
    .getByRole('link', { name: 'Merchant mappings' })
    .click();
  await page.getByRole('link', { name: 'Explain a payment' }).click();
  assert.equal(await page.getByLabel('Merchant (client_key)').inputValue(), platform.merchant.clientKey);
  await page.getByLabel('Card BIN (first 6 digits)').fill('411111');
  await page.getByLabel('Currency').fill('EUR');
  await page.getByLabel('Amount').fill('10.00');
  await page.getByLabel('Amount').press('Enter');
  await page.getByText('Chosen: browser-visa').waitFor();
  assert.ok(await page.getByText(/10\.00 EUR → 10\.83 USD at 1\.0825/).isVisible(), 'the exchange is shown');
  await screenshot(page, 'routing-explained');

  await page.getByLabel('Amount').fill('ten');
  await page.getByLabel('Card BIN (first 6 digits)').fill('4111111111111111');
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.getByText('Check the highlighted field.').waitFor();
  assert.match((await page.locator('#field-amount-error').textContent()) ?? '', /not an amount in EUR/);
  assert.match((await page.locator('#field-card_bin-error').textContent()) ?? '', /first 6 to 8 digits/);
  assert.ok(!(await page.content()).includes('4111111111111111'), 'a card number typed as BIN is not shown back');
  await screenshot(page, 'routing-explain-errors');

  await page.goto(`${baseUrl}/console/routing/mids/browser-visa`);
  await page.getByRole('button', { name: 'Disable browser-visa' }).focus();
  await page.keyboard.press('Enter');
  await page.getByText('The MID is off').waitFor();
  await screenshot(page, 'routing-mid-off');
  await page.getByRole('button', { name: 'Enable browser-visa' }).click();
  await page.getByText('The MID is on').waitFor();
  await context.close();
});

test('at 375 px every routing page fits the width', { skip }, async () => {
  const { context, page } = await newConsolePage(browser, { width: 375 });
  await signInThroughForm(page, baseUrl, administrator);
  for (const path of routingPaths) {
    await page.goto(`${baseUrl}${path}`);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `${path} overflows 375 px by ${overflow} px`);
    await assertAccessible(page, `routing at 375 px ${path}`);
  }
  await page.goto(`${baseUrl}/console/routing/limits`);
  await screenshot(page, 'routing-limits-375');
  await page.goto(`${baseUrl}/console/routing/mids/browser-visa`);
  await screenshot(page, 'routing-mid-375');
  await context.close();
});

test('a viewer reads routing without a switch; a merchant user has no routing at all', { skip }, async () => {
  const { context, page } = await newConsolePage(browser);
  await signInThroughForm(page, baseUrl, viewer);
  await page.goto(`${baseUrl}/console/routing/mids/browser-visa`);
  assert.equal(await page.getByRole('button', { name: /Disable|Enable/ }).count(), 0);
  await context.close();
  const merchant = await newConsolePage(browser);
  await signInThroughForm(merchant.page, baseUrl, merchantUser);
  assert.equal(await merchant.page.getByRole('link', { name: 'Routing' }).count(), 0);
  assert.equal((await merchant.page.goto(`${baseUrl}/console/routing`))?.status(), 404);
  await merchant.context.close();
});

test('the signature explainer: pick the recent refused request and see why', { skip }, async () => {
  const { context, page } = await newConsolePage(browser, { width: 375 });
  await signInThroughForm(page, baseUrl, merchantUser);
  await page.getByRole('link', { name: 'Signature explainer' }).click();
  await assertAccessible(page, 'signature with refused requests');
  await screenshot(page, 'signature-refused-list-375');
  await page.getByRole('link', { name: /^Explain SALE/ }).click();
  await page.getByText('The hashes differ').waitFor();
  assert.ok(await page.getByText('e'.repeat(32)).isVisible(), 'the given hash');
  const text = await page.content();
  assert.ok(!text.includes('4111111111111111') && !text.includes(platform.merchant.password));
  assert.match(text, /411111\*{6}1111/);
  await assertAccessible(page, 'refused request explained');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `the explanation overflows 375 px by ${overflow} px`);
  await screenshot(page, 'signature-refused-explained-375');
  for (const language of ['ru', 'kk']) {
    await page.goto(`${baseUrl}/console/signature?lang=${language}`);
    await assertAccessible(page, `signature ${language}`);
  }
  await context.close();
});
