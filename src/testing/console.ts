import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { screenshotDirectory } from './browser.ts';
import { runKassa, type TestPlatform } from './harness.ts';

/** Helpers of the console's tests: accounts made with the real CLI, sign-in through the real
 * form, and axe-core run in the page. */

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function createConsoleAccount(
  platform: TestPlatform,
  email: string,
  role: string,
  merchantClientKey?: string,
): Promise<{ email: string; password: string }> {
  const { stdout } = await runKassa(
    platform,
    'operator',
    'create',
    '--email',
    email,
    '--role',
    role,
    ...(merchantClientKey ? ['--merchant', merchantClientKey] : []),
    '--json',
  );
  return { email, password: JSON.parse(stdout).password };
}

export async function newConsolePage(
  browser: Browser,
  options: { width?: number; locale?: string; javaScriptEnabled?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    locale: options.locale ?? 'en-US',
    viewport: { width: options.width ?? 1100, height: 900 },
    javaScriptEnabled: options.javaScriptEnabled ?? true,
  });
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    void dialog.dismiss();
    assert.fail(`a script ran on ${page.url()}: ${dialog.message()}`);
  });
  return { context, page };
}

export async function signInThroughForm(
  page: Page,
  baseUrl: string,
  account: { email: string; password: string },
): Promise<void> {
  await page.goto(`${baseUrl}/console/sign-in`);
  await page.getByLabel('E-mail').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/console\/start$/);
}

/** axe-core in the page (evaluated through the DevTools protocol: the page's CSP allows no
 * inline script, and the test must not loosen it). Serious and critical violations fail. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await (
      globalThis as unknown as { axe: { run: (context: Document) => Promise<{ violations: any[] }> } }
    ).axe.run(document);
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      nodes: violation.nodes.map((node: { target: string[] }) => node.target.join(' ')).slice(0, 3),
    }));
  });
  const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  assert.deepEqual(serious, [], `${what}: axe-core found ${JSON.stringify(serious)}`);
}

export function screenshot(page: Page, name: string) {
  return page.screenshot({ path: join(screenshotDirectory, `console-${name}.png`), fullPage: true });
}
