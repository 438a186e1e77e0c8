/**
 * The main screen's notices "no backup worker is running" (GET /api/jobs `workers`) and "volume
 * cannot be reached" (GET /api/volumes `unreachable`), in headless Chromium against the real
 * service: the API process alone, then with a worker process, then without it again; a volume
 * whose symlink leads nowhere, then to its directory. Each notice shows when it should and not
 * otherwise, and nothing is said (not "all good") before both answers are in.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page, Route } from 'playwright-core';
import { buildUi } from '../../scripts/build-ui.js';
import { CHROMIUM_SKIP, launchChromium } from '../helpers/chromium.js';
import { TEST_START } from '../helpers/clock.js';
import { makeFixture, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'ui-notices-token-0123456789abcdef';
const NO_WORKER = 'Kein Sicherungsdienst läuft.';
const UNREACHABLE = (v: string) => `${v} ist nicht erreichbar.`;
const ALL_GOOD = 'Alles in Ordnung';

describe("the main screen's notices for a missing worker and an unreachable volume", { skip: CHROMIUM_SKIP, timeout: 180_000 }, () => {
  let fx: Fixture;
  let api: Service;
  let worker: Service | undefined;
  let browser: BrowserContext;
  let page: Page;
  let target = '';
  const notice = (text: string) => page.getByRole('alert').filter({ hasText: text });

  /** The overview afresh, once both its answers are in (the notices or "all good" are shown then). */
  async function overview(): Promise<void> {
    const answered = Promise.all(['/api/volumes', '/api/jobs?limit=30'].map((p) => page.waitForResponse((r) => r.url() === `${api.url}${p}` && r.ok())));
    await page.reload();
    await answered;
    await page.locator('tr[data-volume="elexisdb"]').waitFor();
    await page.locator('.alerts, .notice-ok').first().waitFor();
  }

  before(
    async () => {
      await buildUi();
      fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' }, { clock: TEST_START });
      await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
      // pacsdata is on a disk that is not mounted: its symlink leads nowhere.
      target = path.join(fx.root, 'disk', 'pacsdata');
      await fs.symlink(target, path.join(fx.volumesDir, 'pacsdata'));
      api = await startService('api', fx.env);
      browser = await launchChromium(path.join(fx.root, 'chromium-profile'), { locale: 'de-CH', viewport: { width: 1280, height: 800 } });
      browser.setDefaultTimeout(20_000);
      page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(`${api.url}/`);
      await page.getByLabel('API-Token').fill(TOKEN);
      await page.getByRole('button', { name: 'Anmelden' }).click();
      await page.getByRole('heading', { name: 'Übersicht', level: 2 }).waitFor();
    },
    { timeout: 120_000 },
  );
  after(
    async () => {
      await browser?.close().catch(() => undefined);
      await worker?.stop();
      await api?.stop();
      await fx?.cleanup();
    },
    { timeout: 60_000 },
  );

  it('API alone, pacsdata unmounted: both notices, with the reason; none for elexisdb', async () => {
    await overview();
    await notice(NO_WORKER).getByText(/Es ist kein Worker mit Redis verbunden/).waitFor();
    await notice(UNREACHABLE('pacsdata')).getByText(`(is a symlink to ${target}, which does not exist)`).waitFor();
    assert.equal(await notice(UNREACHABLE('elexisdb')).count(), 0);
    assert.equal(await page.getByText(ALL_GOOD).count(), 0);
  });

  it('a worker started: the worker notice is gone, the volume notice stays', async () => {
    worker = await startService('worker', fx.env);
    await overview();
    await notice(UNREACHABLE('pacsdata')).waitFor();
    assert.equal(await notice(NO_WORKER).count(), 0);
  });

  it('the disk mounted again: no notice at all, "all good"; but nothing is said before both answers are in', async () => {
    await makeVolume(target, 'pacsdata');
    await overview();
    await page.getByText(ALL_GOOD).waitFor();
    assert.equal(await notice(UNREACHABLE('pacsdata')).count(), 0);
    assert.equal(await notice(NO_WORKER).count(), 0);

    // The jobs' answer (with the worker count) held back: the volumes are shown, no verdict yet.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const hold = async (route: Route) => {
      await held;
      await route.continue();
    };
    await page.route(`${api.url}/api/jobs?limit=30`, hold);
    try {
      const volumes = page.waitForResponse((r) => r.url() === `${api.url}/api/volumes`);
      await page.reload();
      await volumes;
      await page.locator('tr[data-volume="pacsdata"]').waitFor();
      assert.equal(await page.getByText(ALL_GOOD).count(), 0, '"all good" before the worker count was known');
      release();
      await page.getByText(ALL_GOOD).waitFor();
    } finally {
      release();
      await page.unroute(`${api.url}/api/jobs?limit=30`, hold);
    }
  });

  it('the worker stopped: the worker notice is back', async () => {
    await worker!.stop();
    worker = undefined;
    await overview();
    await notice(NO_WORKER).waitFor();
    assert.equal(await notice(UNREACHABLE('pacsdata')).count(), 0);
  });
});
