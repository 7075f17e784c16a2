import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

/** Screenshots land here (git-ignored), to be looked at, not only asserted on. */
export const screenshotDirectory = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/**
 * Debian's Chromium, headless, with the flags this machine needs (no background networking:
 * the network is closed and Chromium would hammer it). On a developer machine without
 * Chromium the browser tests skip with a reason; in CI (CI=true) a missing browser fails.
 */
export function browserUnavailableReason(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  if (process.env.CI) throw new Error(`${chromiumPath} is missing; .ci/run installs it with apt-get install chromium`);
  return `no ${chromiumPath} (apt-get install chromium)`;
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(screenshotDirectory, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
    timeout: 30_000,
  });
}
