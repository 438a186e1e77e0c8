/**
 * Debian's headless Chromium for the browser tests (playwright-core never downloads a browser).
 * The flags keep it from calling home (the closed network refuses it) and from using the GPU; each
 * browser gets a fresh profile directory of its own, removed with the test's temp dir.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `skip` of a browser test's describe: false, or why it cannot run here. */
export const CHROMIUM_SKIP = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does) to run the browser tests`;

/** One browser with its own profile in `userDataDir` (a fresh, empty directory). */
export function launchChromium(userDataDir: string, options: Parameters<typeof chromium.launchPersistentContext>[1] = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000, ...options });
}
