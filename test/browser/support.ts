// Headless Chromium for the browser tests: Debian's `chromium` (scripts/ensure-chromium.sh, path in
// CHROMIUM_BIN) driven by playwright-core. Screenshots are kept under test-artifacts/browser/ (not
// committed; CI keeps the folder as the run's artifacts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT, requiredEnv } from '../../scripts/cluster.ts';

const CHROMIUM_BIN = requiredEnv('CHROMIUM_BIN', 'npm run test:browser');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    // Root in CI: Chromium's sandbox needs user namespaces that containers often lack.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** Saves a full-page screenshot as test-artifacts/browser/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
