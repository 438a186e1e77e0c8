/**
 * The bull-board dashboard as an operator sees it: the real all-in-one process after a real backup
 * run, opened in headless Chromium (the Debian package; playwright-core never downloads a browser).
 * Without credentials the browser gets the 401 Basic challenge; logged in with the token as Basic
 * password it renders every queue, the finished archive job and the board's own JSON API. The
 * board's page can change a queue; a form of another site that the logged-in browser submits
 * (re-sending its Basic credentials) is refused (src/api/same-origin.ts).
 *
 * Set DASHBOARD_SCREENSHOT=/some/file.png to keep the screenshot; otherwise it goes to the
 * fixture's temp dir and is removed with it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http_ from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';
import { QUEUE_NAMES } from '../../src/stores/queues.js';
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_SKIP as SKIP } from '../helpers/chromium.js';
import { http, makeFixture, startService, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'dashboard-token-0123456789abcdef';
const VOLUME = 'webelexis';
const STEP_TIMEOUT = 15_000;

interface BoardQueue {
  name: string;
  counts: Record<string, number>;
}

describe('dashboard in headless Chromium', { skip: SKIP, timeout: 180_000 }, () => {
  let fx: Fixture | undefined;
  let svc: Service | undefined;
  let browser: Browser | undefined;
  let authed: BrowserContext;
  let page: Page;
  let archiveJobId: string;
  let dashboard: string;

  before(
    async () => {
      fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' });
      await makeVolume(path.join(fx.volumesDir, VOLUME), VOLUME);
      svc = await startService('start', fx.env);
      dashboard = `${svc.url}/admin/queues`;
      const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
      assert.equal(run.status, 202, JSON.stringify(run.body));
      archiveJobId = run.body.jobs[0].archiveJobId;
      assert.match(archiveJobId, new RegExp(`^archive-${VOLUME}-\\d{4}-\\d{2}-\\d{2}-\\d{4}$`));
      const jobs = await waitForJobsSettled(svc.url, TOKEN);
      const archive = jobs.find((j) => j.id === archiveJobId);
      assert.equal(archive?.state, 'completed', `archive job did not complete: ${JSON.stringify(archive)}\n${svc.logs()}`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
      authed = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } });
      authed.setDefaultTimeout(STEP_TIMEOUT);
      authed.setDefaultNavigationTimeout(STEP_TIMEOUT);
      page = await authed.newPage();
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      await browser?.close().catch(() => undefined);
      await svc?.stop();
      await fx?.cleanup();
    },
    { timeout: 30_000 },
  );

  it('answers a browser without credentials with 401 and a Basic challenge', async () => {
    const anon = await browser!.newContext();
    try {
      const anonPage = await anon.newPage();
      const responded = anonPage.waitForResponse((r) => r.url() === dashboard && r.request().isNavigationRequest(), { timeout: STEP_TIMEOUT });
      // Headless Chromium has no login dialog: it turns the unanswered challenge into
      // ERR_INVALID_AUTH_CREDENTIALS, so goto rejects; the response itself is still observable.
      const nav: Response | null | Error = await anonPage.goto(dashboard, { timeout: STEP_TIMEOUT }).catch((err: Error) => err);
      const res = await responded;
      assert.equal(res.status(), 401);
      assert.match((await res.allHeaders())['www-authenticate'] ?? '', /^Basic realm="oob-backup"/);
      if (nav instanceof Error) assert.match(nav.message, /ERR_INVALID_AUTH_CREDENTIALS/);
      else assert.equal(nav?.status(), 401);
    } finally {
      await anon.close();
    }
  });

  it('logs in with the token as Basic password and renders every queue', async () => {
    const res = await page.goto(dashboard);
    assert.equal(res?.status(), 200);
    const sidebar = page.locator('#bull-board-sidebar nav');
    const overview = page.locator('main');
    for (const name of QUEUE_NAMES) {
      await sidebar.getByRole('link', { name, exact: true }).waitFor({ state: 'visible' });
      await overview.getByRole('link', { name, exact: true }).waitFor({ state: 'visible' });
    }
    const shown = await sidebar.getByRole('link').allTextContents();
    for (const name of ['schedule', 'archive', 'prune', 'restore']) assert.ok(shown.includes(name), `queue ${name} missing from ${shown.join(', ')}`);
    assert.deepEqual([...shown].sort(), [...QUEUE_NAMES].sort());
  });

  it("navigates to the archive queue's completed jobs and shows the finished archive job", async () => {
    await page.goto(dashboard);
    await page.locator('main').getByRole('link', { name: 'archive', exact: true }).click();
    await page.waitForURL(`${dashboard}/queue/archive`);
    await page.locator('main').getByRole('link', { name: /^COMPLETED/ }).click();
    await page.waitForURL(`${dashboard}/queue/archive?status=completed`);
    const card = page.getByRole('link', { name: archiveJobId, exact: true });
    await card.waitFor({ state: 'visible' });
    assert.equal(await card.getAttribute('href'), `/admin/queues/queue/archive/${archiveJobId}?status=completed`);
    await page.locator('main').getByText('archive', { exact: true }).first().waitFor({ state: 'visible' });

    // The same view loaded directly, as a bookmark would.
    const res = await page.goto(`${dashboard}/queue/archive?status=completed`);
    assert.equal(res?.status(), 200);
    await page.getByRole('link', { name: archiveJobId, exact: true }).waitFor({ state: 'visible' });

    const shot = process.env.DASHBOARD_SCREENSHOT ?? path.join(fx!.root, 'dashboard.png');
    await page.screenshot({ path: shot, timeout: STEP_TIMEOUT });
    const png = await fs.readFile(shot);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.length > 10_000, `screenshot of ${png.length} bytes looks empty`);
  });

  it("serves the board's API to the logged-in page: every queue, archive with a completed job", async () => {
    if (!page.url().startsWith(dashboard)) await page.goto(dashboard);
    const got = await page.evaluate(async (url) => {
      const r = await fetch(url, { headers: { accept: 'application/json' } });
      return { status: r.status, body: (await r.json()) as { queues: BoardQueue[] } };
    }, `${dashboard}/api/queues`);
    assert.equal(got.status, 200);
    const names = got.body.queues.map((q) => q.name);
    for (const name of ['schedule', 'archive', 'prune', 'restore']) assert.ok(names.includes(name), `queue ${name} missing from ${names.join(', ')}`);
    assert.deepEqual([...names].sort(), [...QUEUE_NAMES].sort());
    const archive = got.body.queues.find((q) => q.name === 'archive')!;
    assert.ok((archive.counts.completed ?? 0) >= 1, `archive counts: ${JSON.stringify(archive.counts)}`);
    assert.equal(archive.counts.failed ?? 0, 0);
  });

  it("changes a queue from the board's own page, but a form of another site submitted by the logged-in browser is refused", async () => {
    const paused = async () => (await http(svc!.url, 'GET', '/api/jobs', undefined, TOKEN)).body.paused as string[];
    const archiveJobs = async () => (await http(svc!.url, 'GET', '/api/jobs?queue=archive', undefined, TOKEN)).body.jobs.length as number;
    // The board's own calls: Chromium sends its Origin and Sec-Fetch-Site: same-origin.
    if (!page.url().startsWith(dashboard)) await page.goto(dashboard);
    const put = (what: string) => page.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, `${dashboard}/api/queues/verify/${what}`);
    assert.equal(await put('pause'), 200);
    assert.deepEqual(await paused(), ['verify']);
    assert.equal(await put('resume'), 200);
    assert.deepEqual(await paused(), []);

    // A page of another site (localhost is another site than 127.0.0.1) whose form posts itself.
    const jobsBefore = await archiveJobs();
    const evil = http_.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${dashboard}/api/queues/archive/add"><input name="name" value="evil"></form><script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const evilPage = await authed.newPage();
      const answered = evilPage.waitForResponse((r) => r.url() === `${dashboard}/api/queues/archive/add`);
      await evilPage.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      const res = await answered;
      assert.equal(res.status(), 403);
      const sent = await res.request().allHeaders();
      assert.equal(sent['sec-fetch-site'], 'cross-site', JSON.stringify(sent));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'cross_site_request');
      await evilPage.close();
    } finally {
      evil.close();
    }
    assert.equal(await archiveJobs(), jobsBefore, 'no job was added');
  });
});
