import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { escapeHtml } from '../http/pages/html.ts';
import { browserUnavailableReason, launchBrowser, screenshotDirectory } from '../testing/browser.ts';
import { orderFields, saleFields } from '../testing/harness.ts';
import { startUpstreamPlatform, type UpstreamPlatform } from '../testing/upstream-platform.ts';

// 3-D Secure pass-through in Chromium: a shop sends its cardholder with Kassa's REDIRECT form;
// the cardholder lands on the upstream Kassa's ACS, types the code there, and comes back through
// Kassa to exactly the shop's term_url_3ds. The upstream is a second, real Kassa process.
const skip = browserUnavailableReason();
let setup: UpstreamPlatform;
let browser: Browser;
let shop: Server;
let shopUrl: string;
const payments: string[] = [];

/** The shop: posts the SALE to Kassa and sends the browser on with the redirect form. */
function startShop(): Promise<string> {
  const { platform } = setup;
  shop = createServer(async (request, response) => {
    const url = new URL(request.url!, 'http://shop');
    response.setHeader('content-type', 'text/html');
    if (url.pathname !== '/checkout') {
      response.end(`<h1>Thank you</h1><p>${escapeHtml(url.search)}</p>`);
      return;
    }
    const fields = saleFields(platform.merchant, {
      card_exp_month: url.searchParams.get('month') ?? '05', card_exp_year: '2038',
      term_url_3ds: `${shopUrl}/return?order=${url.searchParams.get('order')}`,
    });
    const sale = (await platform.post(fields)).body;
    payments.push(sale.trans_id);
    const inputs = Object.entries(sale.redirect_params as Record<string, string>)
      .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
    const action = escapeHtml(sale.redirect_url);
    response.end(`<form id="go" method="${sale.redirect_method}" action="${action}">${inputs}</form>
<script>document.getElementById('go').submit()</script>`);
  });
  return new Promise((resolve) => shop.listen(0, '127.0.0.1', () => {
    const address = shop.address();
    resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
  }));
}

before(async () => {
  if (skip) return;
  setup = await startUpstreamPlatform();
  shopUrl = await startShop();
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  shop?.close();
  await setup?.close();
});

test("Chromium: the upstream's ACS, the code typed there, back through Kassa to exactly term_url_3ds", {
  skip, timeout: 90_000,
}, async () => {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  await page.goto(`${shopUrl}/checkout?order=1`);
  await page.getByLabel('One-time code from the SMS').waitFor();
  assert.ok(page.url().startsWith(setup.upstream.url), `on the upstream's ACS: ${page.url()}`);
  await page.screenshot({ path: join(screenshotDirectory, 'upstream-3ds-acs.png'), fullPage: true });
  await page.getByLabel('One-time code from the SMS').fill('123456');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${shopUrl}/return?order=1`, { timeout: 20_000 });
  assert.equal(page.url(), `${shopUrl}/return?order=1`);
  assert.equal(await setup.settledStatusOf(payments.at(-1)!), 'SETTLED');
  await page.context().close();
});

test('Chromium: the cardholder cancels at the upstream; Kassa declines and still returns to term_url_3ds', {
  skip, timeout: 90_000,
}, async () => {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  await page.goto(`${shopUrl}/checkout?order=2`);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForURL(`${shopUrl}/return?order=2`, { timeout: 20_000 });
  assert.equal(await setup.settledStatusOf(payments.at(-1)!), 'DECLINED');
  assert.deepEqual(await setup.merchantCallbacksOf(payments.at(-1)!), ['REDIRECT:3DS', 'DECLINED:DECLINED']);
  await page.context().close();
});

test("Chromium: the cardholder lingers at the upstream's ACS past its deadline; back through Kassa, declined", {
  skip, timeout: 90_000,
}, async () => {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  await page.goto(`${shopUrl}/checkout?order=3`);
  await page.getByLabel('One-time code from the SMS').waitFor();
  const transId = payments.at(-1)!;
  // The upstream's own deadline passes while the page is open (what its sweeper does).
  const byOrder = await fetch(`${setup.upstream.url}post`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(orderFields(setup.upstream, transId, '4111111111111111')).toString(),
  });
  const upstreamId = ((await byOrder.json()) as { trans_id: string }).trans_id;
  await setup.upstream.kassa('trigger', '3ds-timeout', '--trans-id', upstreamId);
  await page.getByLabel('One-time code from the SMS').fill('123456');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent() ?? '', /no longer waiting/);
  // Kassa's return page sends the browser on at once: read what it showed on the way.
  const kassaPages: string[] = [];
  await page.route('**/return/bank/**', async (route) => {
    const response = await route.fetch();
    kassaPages.push(await response.text());
    await route.fulfill({ response });
  });
  await page.getByRole('link', { name: 'Return to the shop' }).click();
  await page.waitForURL(`${shopUrl}/return?order=3`, { timeout: 20_000 });
  assert.equal(kassaPages.length, 1, 'through Kassa');
  assert.match(kassaPages[0], /The payment was declined/, "Kassa's return says what the upstream decided");
  assert.equal(await setup.settledStatusOf(transId), 'DECLINED');
  assert.deepEqual(await setup.merchantCallbacksOf(transId), ['REDIRECT:3DS', 'DECLINED:DECLINED']);
  await page.context().close();
});
