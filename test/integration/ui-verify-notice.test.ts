/**
 * A run whose new archive fails its verification, on the main screen in headless Chromium against
 * the real service: one notice says so (the listing's "failed its verification", with its advice),
 * not a second one for the verify job that found it (found by a tester); the other volume has none.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi } from '../../scripts/build-ui.js';
import { CHROMIUM_SKIP, launchChromium } from '../helpers/chromium.js';
import { http, makeFixture, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'ui-verify-notice-token-0123456789ab';

describe('a failed verification on the main screen', { skip: CHROMIUM_SKIP, timeout: 180_000 }, () => {
  let fx: Fixture;
  let svc: Service;
  let browser: BrowserContext;
  let page: Page;

  before(
    async () => {
      await buildUi();
      fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', NODE_ENV: 'test', OOB_TEST_CORRUPT_BEFORE_VERIFY: 'pacsdata' });
      await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
      await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
      svc = await startService('start', fx.env);
      browser = await launchChromium(path.join(fx.root, 'chromium-profile'), { locale: 'de-CH', viewport: { width: 1280, height: 800 } });
      browser.setDefaultTimeout(20_000);
      page = browser.pages()[0] ?? (await browser.newPage());
    },
    { timeout: 120_000 },
  );
  after(
    async () => {
      await browser?.close().catch(() => undefined);
      await svc?.stop();
      await fx?.cleanup();
    },
    { timeout: 60_000 },
  );

  it('shows one notice for it, the specific one', async () => {
    const stamp = await runNowAndSettle(svc.url, TOKEN);
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=100', undefined, TOKEN)).body.jobs as { name: string; volume?: string; state: string }[];
    assert.equal(jobs.find((j) => j.name === 'verify' && j.volume === 'pacsdata')?.state, 'failed', `run ${stamp}: ${JSON.stringify(jobs)}`);

    await page.goto(`${svc.url}/`);
    await page.getByLabel('API-Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('heading', { name: 'Übersicht', level: 2 }).waitFor();
    const alerts = page.locator('.alerts');
    await alerts.getByText('Die letzte Sicherung von pacsdata ist bei der Prüfung durchgefallen.').waitFor();
    await alerts.getByText(/Diese Sicherung nicht zum Wiederherstellen verwenden/).waitFor();
    const texts = await alerts.getByRole('alert').allInnerTexts();
    assert.equal(texts.filter((t) => t.includes('pacsdata')).length, 1, `one notice for pacsdata: ${JSON.stringify(texts)}`);
    assert.equal(texts.filter((t) => t.includes('elexisdb')).length, 0, JSON.stringify(texts));
  });
});
