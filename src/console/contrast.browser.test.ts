import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser } from '../testing/browser.ts';
import { checkoutRequestFields } from '../testing/checkout.ts';
import { createConsoleAccount, newConsolePage, signInThroughForm } from '../testing/console.ts';
import { startTestPlatform, type TestPlatform } from '../testing/harness.ts';

/** WCAG 1.4.11: a control's border is ≥ 3:1 against what surrounds it — measured on the rendered
 * pages, the cardholder's hosted page (1.35:1 before) and the console's forms alike. */

const skip = browserUnavailableReason();
let platform: TestPlatform;
let browser: Browser;
let baseUrl: string;

before(async () => {
  if (skip) return;
  platform = await startTestPlatform();
  baseUrl = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  platform.context.publicBaseUrl = baseUrl;
  browser = await launchBrowser();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await platform?.close();
});

function luminance(rgb: string): number {
  const [red, green, blue] = (rgb.match(/\d+(\.\d+)?/g) ?? [])
    .slice(0, 3)
    .map(Number)
    .map((value) => {
      const channel = value / 255;
      return channel <= 0.04045 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
    });
  return 0.2126 * red + 0.7152 * green + 0.0722 * blue;
}

function contrast(first: string, second: string): number {
  const [light, dark] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}

async function borderContrasts(page: Page, selector: string): Promise<number[]> {
  const colours = await page.locator(selector).evaluateAll((elements) =>
    elements.map((element) => {
      const style = getComputedStyle(element);
      const parent = element.closest('main') ?? document.body;
      return { border: style.borderTopColor, background: getComputedStyle(parent).backgroundColor };
    }),
  );
  return colours.map((colour) => contrast(colour.border, colour.background));
}

test("the hosted payment page's inputs have borders of at least 3:1", { skip }, async () => {
  const fields = checkoutRequestFields(platform.merchant, {
    success_url: 'https://shop.test/ok',
    decline_url: 'https://shop.test/no',
  });
  const answer = await (await fetch(`${baseUrl}/post`, { method: 'POST', body: new URLSearchParams(fields) })).json();
  const { context, page } = await newConsolePage(browser);
  await page.goto(answer.redirect_url);
  const ratios = await borderContrasts(page, 'input[type=text], input[type=email]');
  assert.ok(ratios.length >= 3, 'the card form was measured');
  for (const ratio of ratios) assert.ok(ratio >= 3, `border contrast ${ratio.toFixed(2)}:1`);
  await context.close();
});

test("the console's inputs have borders of at least 3:1", { skip }, async () => {
  const account = await createConsoleAccount(platform, 'contrast@kassa.test', 'administrator');
  const { context, page } = await newConsolePage(browser);
  await signInThroughForm(page, baseUrl, account);
  await page.goto(`${baseUrl}/console/merchants/new`);
  const ratios = await borderContrasts(page, 'main input[type=text], main input[type=email], main textarea');
  assert.ok(ratios.length >= 5);
  for (const ratio of ratios) assert.ok(ratio >= 3, `border contrast ${ratio.toFixed(2)}:1`);
  await context.close();
});
