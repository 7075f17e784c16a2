import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { checkoutRequestFields, hiddenInputsOf } from '../../testing/checkout.ts';
import { saleFields, startTestPlatform, type TestPlatform } from '../../testing/harness.ts';
import { browserUnavailableReason, launchBrowser, screenshotDirectory } from '../../testing/browser.ts';

/**
 * The hosted page and the 3-D Secure pages as a cardholder sees them (issue #14 part 7), in real
 * Chromium: the sandbox says it is one, the form leads back to the shop, expiry and CVV stay
 * level when a label wraps, an unknown phone is not "***", a decline has one primary button, a
 * wrong code is marked, and the TermUrl replay and refund receipt pages lead somewhere.
 */
const skip = browserUnavailableReason();
let platform: TestPlatform;
let production: TestPlatform;
let merchant: { clientKey: string; password: string; merchantId: string };
let browser: Browser;
let shop: Server;
let shopUrl: string;
let kassaUrl: string;

before(async () => {
  if (skip) return;
  platform = await startTestPlatform({ config: { timeZone: 'Asia/Almaty' } });
  kassaUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  platform.context.publicBaseUrl = kassaUrl;
  shop = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(request.url === '/cb' ? 'OK' : `<h1>Shop page ${request.url}</h1>`);
    });
  });
  await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
  const address = shop.address();
  shopUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  merchant = await platform.addMerchant({ threeDsEnabled: true, descriptor: 'Tea Shop', callbackUrl: `${shopUrl}/cb` });
  production = await startTestPlatform({ config: { mode: 'production' } });
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  shop?.close();
  await platform?.close();
  await production?.close();
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(screenshotDirectory, `${name}.png`), fullPage: true });

async function checkoutUrl(target: TestPlatform, extra: Record<string, string> = {}): Promise<string> {
  const owner = target === platform ? merchant : target.merchant;
  const fields = checkoutRequestFields(owner, {
    success_url: `${shopUrl}/success`,
    decline_url: `${shopUrl}/declined`,
    ...extra,
  });
  const answer = (await target.post(fields)).body;
  assert.equal(answer.result, 'SUCCESS', JSON.stringify(answer));
  return answer.redirect_url;
}

async function newPage(options: { width?: number; locale?: string } = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 800, height: 900 },
    locale: options.locale ?? 'en-US',
  });
  return context.newPage();
}

async function payWith(page: Page, expiry: string): Promise<void> {
  await page.getByLabel('Card number').fill('4111 1111 1111 1111');
  await page.getByLabel('Cardholder name').fill('JOHN DOE');
  await page.getByLabel('Expiry date (MM/YY)').fill(expiry);
  await page.getByLabel('CVV2/CVC2 code').fill('739');
  await page.getByRole('button', { name: /^Pay / }).click();
}

test('sandbox: the form says TEST MODE with the test cards, and leads back to the shop', { skip }, async () => {
  const page = await newPage();
  await page.goto(await checkoutUrl(platform));
  assert.ok(await page.getByText('TEST MODE: no real money moves.').isVisible());
  assert.ok(await page.getByText(/Test card 4111 1111 1111 1111, expiry 01\/25/).isVisible());
  await shot(page, 'kit-checkout-en-test-mode');
  await page.getByRole('link', { name: 'Cancel and return to Tea Shop' }).click();
  await page.getByRole('heading', { name: 'Shop page /declined' }).waitFor();
  await page.context().close();

  const productionPage = await production.app.inject({
    method: 'GET',
    url: new URL(await checkoutUrl(production)).pathname,
  });
  assert.equal(productionPage.statusCode, 200);
  assert.ok(
    !productionPage.body.includes('TEST MODE') && !productionPage.body.includes('4111 1111'),
    'production shows neither',
  );
});

test('Kazakh and Uzbek at 375 px: expiry and CVV inputs stay level although one label wraps', { skip }, async () => {
  for (const language of ['kk', 'uz']) {
    const page = await newPage({ width: 375 });
    await page.goto(`${await checkoutUrl(platform, { language })}`);
    const [expiryLabel, cvvLabel] = await Promise.all(
      ['label[for=expiry]', 'label[for=cvv]'].map((selector) => page.locator(selector).boundingBox()),
    );
    const [expiry, cvv] = await Promise.all(
      ['#expiry', '#cvv'].map((selector) => page.locator(selector).boundingBox()),
    );
    assert.notEqual(
      Math.round(expiryLabel!.height),
      Math.round(cvvLabel!.height),
      `${language}: one label wraps at 375 px (else this proves nothing)`,
    );
    assert.ok(Math.abs(expiry!.y - cvv!.y) < 1, `${language}: expiry at ${expiry!.y}, CVV at ${cvv!.y}`);
    await shot(page, `kit-checkout-${language}-375`);
    await page.context().close();
  }
});

test('a decline has one primary button (try again); the way back to the shop is secondary', { skip }, async () => {
  const page = await newPage();
  await page.goto(await checkoutUrl(platform));
  await payWith(page, '02/25');
  await page.getByRole('heading', { name: 'Payment declined' }).waitFor();
  const primary = page.locator('.links a.button:not(.secondary)');
  assert.equal(await primary.count(), 1);
  assert.equal(await primary.textContent(), 'Try again');
  assert.equal(await page.locator('#return').getAttribute('class'), 'button secondary');
  await shot(page, 'kit-checkout-en-declined');
  await page.context().close();
});

test('3-D Secure from the hosted page: no phone is "sent you by SMS", a wrong code marks the field', {
  skip,
}, async () => {
  const page = await newPage();
  await page.goto(await checkoutUrl(platform));
  await payWith(page, '05/25');
  await page.getByLabel('One-time code from the SMS').waitFor();
  assert.ok(await page.getByText('Confirm the payment with the one-time code your bank sent you by SMS.').isVisible());
  assert.ok(!(await page.content()).includes('***.'), 'no "sent by SMS to ***."');
  await page.getByLabel('One-time code from the SMS').fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Wrong code. Attempts left: 2.').waitFor();
  const code = page.getByLabel('One-time code from the SMS');
  assert.equal(await code.getAttribute('aria-invalid'), 'true');
  assert.equal(
    await code.evaluate((element) => getComputedStyle(element).borderTopColor),
    'rgb(180, 35, 24)',
    'the danger colour',
  );
  await shot(page, 'kit-3ds-en-wrong-code');
  await page.context().close();
});

test('a replayed TermUrl: the refusal page leads back to the shop and switches language', { skip }, async () => {
  const termUrl3ds = `${shopUrl}/thanks?order=7`;
  const sale = (await platform.post(saleFields(merchant, { card_exp_month: '05', term_url_3ds: termUrl3ds }))).body;
  const post = async (url: string, fields: Record<string, string>) =>
    (await fetch(url, { method: 'POST', body: new URLSearchParams(fields) })).text();
  const acs = await post(sale.redirect_url, sale.redirect_params);
  const toTermUrl = hiddenInputsOf(
    await post(`${kassaUrl}/emulator/acs/verify`, { ...hiddenInputsOf(acs), code: '123456', decision: 'confirm' }),
  );
  await post(sale.redirect_params.TermUrl, toTermUrl);

  const page = await newPage();
  await page.goto(`${kassaUrl}/openapi.json`);
  await page.setContent(
    `<form method="post" action="${sale.redirect_params.TermUrl}">${Object.entries(toTermUrl)
      .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
      .join('')}</form>`,
  );
  await Promise.all([page.waitForNavigation(), page.evaluate(() => document.forms[0].submit())]);
  await page.getByRole('heading', { name: 'This payment cannot continue' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Return to the shop' }).getAttribute('href'), termUrl3ds);
  await shot(page, 'kit-termurl-replay-en');
  await page.getByRole('button', { name: 'Қазақша' }).click();
  await page.getByRole('heading', { name: 'Бұл төлемді жалғастыру мүмкін емес' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Дүкенге оралу' }).getAttribute('href'), termUrl3ds);
  await shot(page, 'kit-termurl-replay-kk');
  await page.context().close();
});

test('the refund "application received" page: the date with its time zone, a way back, a language switch', {
  skip,
}, async () => {
  const page = await newPage();
  await page.goto(await checkoutUrl(platform));
  await payWith(page, '01/25');
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  await page.getByRole('link', { name: 'Application for refund' }).click();
  await page.getByLabel('The money was charged by mistake').check();
  await page.getByLabel('Describe what happened').fill('Charged twice');
  await page.getByRole('button', { name: 'Send the application' }).click();
  await page.getByRole('heading', { name: 'Application received' }).waitFor();
  assert.ok(await page.getByText(/received on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(Asia\/Almaty\)/).isVisible());
  assert.ok(await page.getByRole('link', { name: 'Return to Tea Shop' }).isVisible());
  await shot(page, 'kit-refund-received-en');
  await page.getByRole('link', { name: 'Русский' }).click();
  await page.getByRole('heading', { name: 'Заявление на возврат денежных средств' }).waitFor();
  await shot(page, 'kit-refund-application-ru');
  await page.context().close();
});
