import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { saleFields, startTestPlatform, transactionFields, type TestPlatform } from '../../testing/harness.ts';
import { browserUnavailableReason, launchBrowser, screenshotDirectory } from '../../testing/browser.ts';
import { escapeHtml } from './html.ts';
import { startCallbackReceiver, type CallbackReceiver } from '../../testing/callback-receiver.ts';
import { CallbackDispatcher } from '../../workers/callback-dispatcher.ts';
import { verifyCallback } from '../../protocol/callback-signature.ts';

const skip = browserUnavailableReason();
let platform: TestPlatform;
let merchant: { clientKey: string; password: string; merchantId: string };
let browser: Browser;
let receiver: CallbackReceiver;
let dispatcher: CallbackDispatcher;
let shop: Server;
let shopUrl: string;
const payments: { transId: string; orderId: string }[] = [];

/** A tiny merchant: its server posts the SALE to Kassa and sends the browser on with the
 * redirect form exactly as the spec tells merchants to (redirect_params posted as they are). */
function startShop(kassaUrl: string): Promise<string> {
  shop = createServer(async (request, response) => {
    const url = new URL(request.url!, 'http://shop');
    if (url.pathname === '/checkout') {
      const fields = saleFields(merchant, {
        card_exp_month: url.searchParams.get('month') ?? '05',
        order_description: 'Tea <script>alert(1)</script> & cake',
        term_url_3ds: `${shopUrl}/return?order=${url.searchParams.get('order')}`,
      });
      const sale = await (await fetch(`${kassaUrl}/post`, { method: 'POST', body: new URLSearchParams(fields) })).json();
      payments.push({ transId: sale.trans_id, orderId: sale.order_id });
      const inputs = Object.entries(sale.redirect_params as Record<string, string>)
        .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
      response.setHeader('content-type', 'text/html');
      response.end(`<form id="go" method="${sale.redirect_method}" action="${escapeHtml(sale.redirect_url)}">${inputs}</form>
<script>document.getElementById('go').submit()</script>`);
      return;
    }
    response.setHeader('content-type', 'text/html');
    response.end(`<h1>Thank you</h1><p>${escapeHtml(url.search)}</p>`);
  });
  return new Promise((resolve) => shop.listen(0, '127.0.0.1', () => {
    const address = shop.address();
    resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
  }));
}

before(async () => {
  if (skip) return;
  platform = await startTestPlatform();
  receiver = await startCallbackReceiver();
  merchant = await platform.addMerchant({ threeDsEnabled: true, descriptor: 'Tea Shop', callbackUrl: receiver.url('/callbacks') });
  dispatcher = new CallbackDispatcher(platform.context, { pollIntervalMs: 20 });
  dispatcher.start();
  const kassaUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  platform.context.publicBaseUrl = kassaUrl;
  shopUrl = await startShop(kassaUrl);
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await dispatcher?.stop();
  await receiver?.close();
  shop?.close();
  await platform?.close();
});

const statusOf = async (transId: string) => (await platform.post(transactionFields(merchant, 'GET_TRANS_STATUS', transId))).body;

test('a cardholder passes 3-D Secure in Chromium: wrong code, right code, back to exactly term_url_3ds', { skip }, async () => {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  await page.goto(`${shopUrl}/checkout?order=1`);
  await page.getByLabel('One-time code from the SMS').waitFor();
  assert.ok(await page.getByText('Tea <script>alert(1)</script> & cake').isVisible(), 'order description shown as text');
  await page.screenshot({ path: join(screenshotDirectory, '3ds-en.png'), fullPage: true });
  await page.getByLabel('One-time code from the SMS').fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Wrong code. Attempts left: 2.').waitFor();
  await page.screenshot({ path: join(screenshotDirectory, '3ds-en-wrong-code.png'), fullPage: true });
  await page.getByLabel('One-time code from the SMS').fill('123456');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${shopUrl}/return?order=1`, { timeout: 10_000 });
  assert.equal(page.url(), `${shopUrl}/return?order=1`);
  const payment = payments.at(-1)!;
  assert.equal((await statusOf(payment.transId)).status, 'SETTLED');
  await page.context().close();
  // The shop's receiver got the 3DS step and then the final result, signed (Formula 2).
  const callbacks = (await receiver.waitFor(2, { timeoutMs: 10_000 })).filter((callback) => callback.fields.trans_id === payment.transId);
  assert.deepEqual(callbacks.map((callback) => `${callback.fields.result}/${callback.fields.status}`), ['REDIRECT/3DS', 'SUCCESS/SETTLED']);
  for (const callback of callbacks) {
    assert.ok(verifyCallback(callback.fields, { password: merchant.password, email: 'doe@example.com' }), 'callback signature');
    assert.equal(callback.fields.card, '411111******1111');
  }
});

test('the 3-D Secure page speaks Russian, Kazakh and Uzbek, and works without JavaScript', { skip }, async () => {
  for (const [locale, language, title] of [
    ['ru-RU', 'ru', 'Проверка 3-D Secure'], ['kk-KZ', 'kk', '3-D Secure тексеруі'], ['uz-UZ', 'uz', '3-D Secure tekshiruvi'],
  ] as const) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    await page.goto(`${shopUrl}/checkout?order=${language}`);
    await page.getByRole('heading', { name: title }).waitFor();
    await page.screenshot({ path: join(screenshotDirectory, `3ds-${language}.png`), fullPage: true });
    await context.close();
  }
  // The shop's page needs its own script to forward the browser; from the issuer page on,
  // JavaScript is off: plain forms, and a refresh back to the shop.
  const opener = await browser.newContext({ locale: 'en-US' });
  await (await opener.newPage()).goto(`${shopUrl}/checkout?order=nojs&month=06`);
  await opener.close();
  const payment = payments.at(-1)!;
  const noScript = await browser.newContext({ javaScriptEnabled: false, locale: 'en-US' });
  const plain = await noScript.newPage();
  await plain.setContent(`<form method="post" action="${platform.context.publicBaseUrl}/emulator/acs">${await redirectInputs(payment.transId)}<button>Go</button></form>`);
  await plain.getByRole('button', { name: 'Go' }).click();
  await plain.getByLabel('One-time code from the SMS').fill('123456');
  await plain.getByRole('button', { name: 'Confirm' }).click();
  await plain.getByRole('button', { name: 'Continue' }).click();
  await plain.waitForURL(`${shopUrl}/return?order=nojs`, { timeout: 10_000 });
  const final = await statusOf(payment.transId);
  assert.equal(final.status, 'DECLINED');
  assert.equal(final.decline_reason, 'Declined by processing');
  await noScript.close();
});

async function redirectInputs(transId: string): Promise<string> {
  const { challengeRedirect } = await import('../../operations/challenge-links.ts');
  const redirect = challengeRedirect(platform.context, transId, '3DS');
  return Object.entries(redirect.params).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
}
