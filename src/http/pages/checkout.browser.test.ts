import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkoutRequestFields } from '../../testing/checkout.ts';
import { startTestPlatform, type TestPlatform } from '../../testing/harness.ts';
import { browserUnavailableReason, launchBrowser, screenshotDirectory } from '../../testing/browser.ts';
import { CallbackDispatcher } from '../../workers/callback-dispatcher.ts';

const skip = browserUnavailableReason();
let platform: TestPlatform;
let merchant: { clientKey: string; password: string; merchantId: string };
let browser: Browser;
let shop: Server;
let shopUrl: string;
/** Everything the merchant's server ever received: callbacks, returns, its own pages. */
const shopRequests: string[] = [];
const xssDescription = 'Tea <img src=x onerror="alert(1)"> & "cake" <script>alert(2)</script>';
const xssName = 'JOHN <script>alert(3)</script> DOE';
/** An unusual CVV, so a match cannot be other digits by chance. */
const cvv = '739';
const cardsUsed = new Set<string>();

/** A tiny merchant: its server creates the checkout session and sends the browser to the page.
 * It records every request it receives, to prove no card data ever reaches it. */
function startShop(kassaUrl: string): Promise<string> {
  shop = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', async () => {
      // Raw and decoded, so neither percent-encoding nor a form body can hide a card number.
      const decoded = (text: string) => { try { return decodeURIComponent(text.replace(/\+/g, ' ')); } catch { return text; } };
      shopRequests.push(`${request.method} ${request.url}\n${JSON.stringify(request.headers)}\n${body}\n${decoded(request.url ?? '')}\n${decoded(body)}`);
      const url = new URL(request.url!, 'http://shop');
      if (url.pathname === '/buy') {
        const fields = checkoutRequestFields(merchant, {
          order_description: url.searchParams.get('description') ?? 'Green tea, 100 g',
          success_url: `${shopUrl}/success`, decline_url: `${shopUrl}/declined`,
          ...(url.searchParams.get('language') ? { language: url.searchParams.get('language')! } : {}),
          ...(url.searchParams.get('auth') ? { auth: 'Y' } : {}),
        });
        const answer = await (await fetch(`${kassaUrl}/post`, { method: 'POST', body: new URLSearchParams(fields) })).json();
        response.writeHead(303, { location: answer.redirect_url }).end();
        return;
      }
      if (url.pathname === '/cb') {
        response.end('OK');
        return;
      }
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(`<h1>Shop: ${url.pathname === '/success' ? 'thank you' : 'payment not made'}</h1>`);
    });
  });
  return new Promise((resolve) => shop.listen(0, '127.0.0.1', () => {
    const address = shop.address();
    resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
  }));
}

before(async () => {
  if (skip) return;
  platform = await startTestPlatform();
  const kassaUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  platform.context.publicBaseUrl = kassaUrl;
  shopUrl = await startShop(kassaUrl);
  merchant = await platform.addMerchant({ threeDsEnabled: true, descriptor: 'Tea Shop', callbackUrl: `${shopUrl}/cb` });
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  shop?.close();
  await platform?.close();
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(screenshotDirectory, `${name}.png`), fullPage: true });

/** A fresh browser (own cookies, language); a dialog (an XSS payload running) fails the test. */
async function newBrowserPage(options: { locale?: string; javaScriptEnabled?: boolean; width?: number } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    locale: options.locale ?? 'en-US', javaScriptEnabled: options.javaScriptEnabled ?? true,
    viewport: { width: options.width ?? 800, height: 900 },
  });
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    void dialog.dismiss();
    assert.fail(`a script ran on ${page.url()}: ${dialog.message()}`);
  });
  return { context, page };
}

async function openCheckout(page: Page, query = '') {
  await page.goto(`${shopUrl}/buy?${query}`);
  await page.waitForURL(/\/pay\/[\w-]{22}/);
}

/** Fills the card form. `typed`: the number key by key, as a person types, for the test that
 * watches it being grouped while typing; a key press is a browser round trip each (~50 ms under
 * load), so the other tests set the field at once (the page formats it on input all the same). */
async function fillCard(page: Page, card: { number: string; name?: string; expiry: string; typed?: boolean }) {
  cardsUsed.add(card.number.replace(/\D/g, ''));
  if (card.typed) await page.getByLabel('Card number').pressSequentially(card.number, { delay: 5 });
  else await page.getByLabel('Card number').fill(card.number);
  await page.getByLabel('Cardholder name').fill(card.name ?? 'JOHN DOE');
  await page.getByLabel('Expiry date (MM/YY)').fill(card.expiry);
  await page.getByLabel('CVV2/CVC2 code').fill(cvv);
}

async function ordersPaymentCount(orderDescription: string): Promise<number> {
  const rows = await platform.context.storage.db.selectFrom('payments').select('trans_id').where('order_description', '=', orderDescription).execute();
  return rows.length;
}

test('a successful payment: the number is formatted as typed, the brand shown, then the result page and the shop', { skip }, async () => {
  const { context, page } = await newBrowserPage();
  await openCheckout(page);
  await page.getByRole('heading', { name: 'Card payment' }).waitFor();
  assert.ok(await page.getByText('Green tea, 100 g').isVisible());
  assert.ok(await page.getByText('12.50 USD').first().isVisible());
  await shot(page, 'checkout-en');
  await fillCard(page, { number: '4111111111111111', expiry: '01/25', typed: true });
  assert.equal(await page.getByLabel('Card number').inputValue(), '4111 1111 1111 1111', 'grouped in fours while typing');
  assert.equal(await page.locator('#card-brand').textContent(), 'Card: Visa');
  await shot(page, 'checkout-en-filled');
  await page.getByRole('button', { name: 'Pay 12.50 USD' }).click();
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  assert.ok(await page.getByText('12.50 USD was paid to Tea Shop.').isVisible());
  await shot(page, 'checkout-en-success');
  await page.getByRole('link', { name: 'Return to Tea Shop' }).click();
  await page.waitForURL(`${shopUrl}/success`);
  await context.close();
});

test('field errors appear next to each field, in words, before anything is charged', { skip }, async () => {
  const { context, page } = await newBrowserPage({ width: 375 });
  await openCheckout(page, `description=${encodeURIComponent('Field errors order')}`);
  await page.getByLabel('Card number').fill('5555 5555 5555 4445');
  await page.getByLabel('Expiry date (MM/YY)').fill('14/27');
  await page.getByLabel('CVV2/CVC2 code').fill('1');
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.getByText('Please correct the marked fields:').waitFor();
  const numberField = page.getByLabel('Card number');
  assert.equal(await numberField.getAttribute('aria-invalid'), 'true');
  assert.match(await numberField.getAttribute('aria-describedby') ?? '', /card_number-error/);
  assert.equal(await page.locator('#card_number-error').textContent(), 'This card number does not exist. Check for a mistyped digit.');
  assert.equal(await page.locator('#cardholder_name-error').textContent(), 'Enter the name as printed on the card.');
  assert.equal(await page.locator('#expiry-error').textContent(), 'The month must be from 01 to 12.');
  assert.ok(await page.getByText('Card: Mastercard').isVisible());
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'card_number', 'focus on the first field to fix');
  await shot(page, 'checkout-en-field-errors-mobile');
  assert.equal(await ordersPaymentCount('Field errors order'), 0);
  await context.close();
});

const refusals = [
  { card: '4000000000000002', name: 'not-online', text: 'Your card is not enabled for payments on the Internet. Contact the bank that issued the card' },
  { card: '4000000000009995', name: 'insufficient-funds', text: 'There are not enough funds on the card.' },
  { card: '4000000000000127', name: 'incorrect-details', text: 'The card details were entered incorrectly.' },
  { card: '4000000000000069', name: 'expired', text: 'The card has expired. The expiry date is on the front of the card' },
];

test('each refusal case of the terms pages gets its own message, what to do, a retry and the way back', { skip }, async () => {
  // One browser session, as a cardholder who tries one card after another from the shop.
  const { context, page } = await newBrowserPage();
  for (const refusal of refusals) {
    await openCheckout(page);
    await fillCard(page, { number: refusal.card, expiry: '12/30' });
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('heading', { name: 'Payment declined' }).waitFor();
    assert.ok(await page.getByText(refusal.text).isVisible(), refusal.name);
    assert.ok(await page.getByRole('link', { name: 'Try again' }).isVisible());
    await shot(page, `checkout-en-declined-${refusal.name}`);
    if (refusal.name === 'incorrect-details') {
      // The cardholder fixes the card and pays on the same page.
      await page.getByRole('link', { name: 'Try again' }).click();
      await fillCard(page, { number: '5555555555554444', expiry: '12/30' });
      await page.getByRole('button', { name: /^Pay / }).click();
      await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
    } else {
      await page.getByRole('link', { name: 'Return to Tea Shop' }).click();
      await page.waitForURL(`${shopUrl}/declined`);
    }
  }
  await context.close();
});

test('3-D Secure: the issuer page, a wrong code, the right one, Kassa\'s result page, then an application for refund', { skip }, async () => {
  const { context, page } = await newBrowserPage();
  await openCheckout(page, `description=${encodeURIComponent(xssDescription)}`);
  assert.ok(await page.getByText(xssDescription).isVisible(), 'the order description is text, not markup');
  await fillCard(page, { number: '4111111111111111', name: xssName, expiry: '05/25' });
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.getByLabel('One-time code from the SMS').waitFor();
  assert.ok(await page.getByText(xssDescription).isVisible());
  await page.getByLabel('One-time code from the SMS').fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Wrong code. Attempts left: 2.').waitFor();
  await page.getByLabel('One-time code from the SMS').fill('123456');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  assert.match(page.url(), /\/pay\/[\w-]{22}\/result$/, 'the issuer returns to Kassa\'s result page');
  assert.ok(await page.getByText(xssDescription).isVisible());
  await shot(page, 'checkout-en-3ds-success');
  await page.getByRole('link', { name: 'Application for refund' }).click();
  await page.getByRole('heading', { name: 'Application for refund' }).waitFor();
  assert.ok(await page.getByText(xssDescription).isVisible());
  await page.getByLabel('The money was charged by mistake').check();
  await page.getByLabel('Describe what happened').fill(`Charged twice ${xssDescription}`);
  await shot(page, 'refund-application-en');
  await page.getByRole('button', { name: 'Send the application' }).click();
  await page.getByRole('heading', { name: 'Application received' }).waitFor();
  assert.ok(await page.getByText(`Charged twice ${xssDescription}`).isVisible());
  await shot(page, 'refund-application-en-received');
  await context.close();
});

test('a double click on Pay charges once', { skip }, async () => {
  const { context, page } = await newBrowserPage();
  const description = 'Double click order';
  await openCheckout(page, `description=${encodeURIComponent(description)}`);
  await fillCard(page, { number: '4111111111111111', expiry: '01/25' });
  await page.getByRole('button', { name: /^Pay / }).dblclick();
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  assert.equal(await ordersPaymentCount(description), 1);
  await context.close();
});

test('keyboard only: Tab to each field, type, Enter to pay', { skip }, async () => {
  const { context, page } = await newBrowserPage();
  await openCheckout(page);
  cardsUsed.add('4111111111111111');
  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
  // Tab from the top of the page to the card number: a bounded walk over the links before it.
  for (let presses = 0; presses < 10 && (await focusedId()) !== 'card_number'; presses += 1) await page.keyboard.press('Tab');
  assert.equal(await focusedId(), 'card_number');
  await page.keyboard.type('4111111111111111');
  for (const [id, value] of [['cardholder_name', 'JOHN DOE'], ['expiry', '01/25'], ['cvv', cvv]]) {
    await page.keyboard.press('Tab');
    assert.equal(await focusedId(), id);
    await page.keyboard.type(value);
  }
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  await context.close();
});

test('Russian, Kazakh and Uzbek (from the merchant\'s language or the browser), and no JavaScript at all', { skip }, async () => {
  // ru: the merchant's language; kk: the browser's; uz: the merchant's over a Russian browser.
  for (const [language, locale, query, title, declined, refusalText] of [
    ['ru', 'ru-RU', 'language=ru', 'Оплата картой', 'Платёж отклонён', 'На карте недостаточно средств.'],
    ['kk', 'kk-KZ', '', 'Картамен төлеу', 'Төлем қабылданбады', 'Картада қаражат жеткіліксіз.'],
    ['uz', 'ru-RU', 'language=uz', 'Karta orqali toʻlov', 'Toʻlov rad etildi', 'Kartada mablagʻ yetarli emas.'],
  ] as const) {
    const { context, page } = await newBrowserPage({ locale });
    await openCheckout(page, query);
    await page.getByRole('heading', { name: title }).waitFor();
    await shot(page, `checkout-${language}`);
    cardsUsed.add('4000000000009995');
    await page.locator('#card_number').fill('4000 0000 0000 9995');
    await page.locator('#cardholder_name').fill('IVAN PETROV');
    await page.locator('#expiry').fill('12/30');
    await page.locator('#cvv').fill(cvv);
    await page.locator('button.primary').click();
    await page.getByRole('heading', { name: declined }).waitFor();
    assert.ok(await page.getByText(refusalText).isVisible());
    await shot(page, `checkout-${language}-declined`);
    await context.close();
  }
  const { context, page } = await newBrowserPage({ javaScriptEnabled: false });
  await openCheckout(page);
  await fillCard(page, { number: '4111 1111 1111 1111', expiry: '05/25' });
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('One-time code from the SMS').fill('123456');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
  await context.close();
});

test('the merchant\'s server never received a card number or CVV: not in callbacks, returns or anything else', { skip }, async () => {
  const dispatcher = new CallbackDispatcher(platform.context, { mode: 'sandbox' });
  for (let run = 0; run < 50; run += 1) {
    const counts = await dispatcher.runOnce();
    if (Object.values(counts).every((count) => count === 0)) break;
  }
  const received = shopRequests.join('\n\n');
  assert.ok(received.includes('POST /cb'), 'callbacks did arrive');
  assert.ok(received.includes('411111******1111'), 'callbacks carry the mask');
  assert.ok(cardsUsed.size >= 6);
  for (const card of cardsUsed) assert.ok(!received.includes(card), `card ${card.slice(0, 6)}… reached the merchant`);
  // The CVV as a field or a value; the word itself is fine (a decline reason says "CVV2/CVC2").
  assert.equal(/card_cvv2|\bcvv2?=|[=:"]739\b/i.exec(received)?.[0], undefined, 'a CVV reached the merchant');
});
