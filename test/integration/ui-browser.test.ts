/**
 * The backup screens (issue 15) in headless Chromium, in German, against the real all-in-one service
 * (own queue prefix, temp BACKUP_DIR and volumes, its own MariaDB database): log in with the token,
 * save a schedule and see the API's field error, "Jetzt sichern" until its progress bars are done,
 * restore a set through the warning (the safety backup needs a second click to switch off), upload
 * a SQL file and restore the database from it, restore one document beside the live data and one
 * file in place (single-file restore), and the page in English once.
 *
 * UI_SCREENSHOTS=<dir> keeps a PNG of each screen there (`npm run docs:screenshots` writes docs/).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi } from '../../scripts/build-ui.js';
import { UI_CSP } from '../../src/api/ui.js';
import { CHROMIUM_SKIP, launchChromium } from '../helpers/chromium.js';
import { TEST_START } from '../helpers/clock.js';
import { DB_ENV, http, makeFixture, MARIADB_ARGS, REDIS_URL, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { exec, makeVolume } from '../helpers/volumes.js';

const TOKEN = 'ui-browser-token-0123456789abcdef';
const DB = `oob_ui_${randomBytes(4).toString('hex')}`;
const VOLUMES = ['elexisdb', 'lucindadata'];
const STEP = 20_000;
const SHOTS = process.env.UI_SCREENSHOTS ? path.resolve(process.env.UI_SCREENSHOTS) : undefined;

const sql = async (query: string) => (await exec('mariadb', [...MARIADB_ARGS, '-N', '-B', DB, '-e', query])).stdout.trim();

describe('the backup screens in headless Chromium', { skip: CHROMIUM_SKIP, timeout: 240_000 }, () => {
  let fx: Fixture;
  let svc: Service;
  let browser: BrowserContext;
  let page: Page;
  let runStamp = '';
  const foreign: string[] = [];

  const shot = async (name: string, opts: { top?: boolean } = {}) => {
    if (!SHOTS) return;
    if (opts.top) await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, `ui-${name}.png`), fullPage: false });
  };

  before(
    async () => {
      await buildUi();
      await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB}`]);
      await sql('CREATE TABLE befund (id INT PRIMARY KEY, text VARCHAR(100)); INSERT INTO befund VALUES (1, "vorher");');
      fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', ...DB_ENV, DB_NAME: DB }, { clock: TEST_START });
      for (const v of VOLUMES) await makeVolume(path.join(fx.volumesDir, v), v);
      // An installation running since June 1st: this morning's tick of the default schedule was due.
      const redis = new Redis(REDIS_URL);
      await redis.set(`${fx.prefix}:oob-settings:schedule-since`, '2030-06-01T00:00:00.000Z');
      redis.disconnect();
      svc = await startService('start', fx.env);
      browser = await launchChromium(path.join(fx.root, 'chromium-profile'), { locale: 'de-CH', viewport: { width: 1280, height: 800 } });
      browser.setDefaultTimeout(STEP);
      page = browser.pages()[0] ?? (await browser.newPage());
      page.on('request', (r) => !r.url().startsWith(svc.url) && foreign.push(r.url()));
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      await browser?.close().catch(() => undefined);
      await svc?.stop();
      await fx?.cleanup();
      await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${DB}`]);
    },
    { timeout: 30_000 },
  );

  it('serves the page with its own strict CSP and asks for the token, kept for this tab only', async () => {
    const res = await page.goto(`${svc.url}/`);
    assert.equal(res?.status(), 200);
    assert.equal(res?.headers()['content-security-policy'], UI_CSP);
    await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
    await shot('login');
    await page.getByLabel('API-Token').fill('falsch-falsch-falsch');
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByText('Dieser Token ist falsch.').waitFor();
    await page.getByLabel('API-Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('heading', { name: 'Übersicht', level: 2 }).waitFor();
    const stored = await page.evaluate(() => ({ session: Object.values({ ...sessionStorage }), local: Object.values({ ...localStorage }) }));
    assert.ok(stored.session.includes(TOKEN), 'the token is in sessionStorage');
    assert.ok(!stored.local.includes(TOKEN), 'not remembered unless asked');
    assert.ok(!page.url().includes(TOKEN));
    // Every volume is listed, also before its first backup, and overdue: the default schedule
    // (Monday to Friday 03:15, in effect since June 1st) ticked this morning without a backup.
    for (const v of VOLUMES) {
      await page.locator(`tr[data-volume="${v}"]`).getByText('noch nie gesichert').waitFor();
      await page.getByRole('alert').filter({ hasText: `Sicherung von ${v} überfällig.` }).getByText(/Was tun: Prüfen Sie, ob der Sicherungsdienst/).waitFor();
    }
  });

  it('saves a schedule, says it in words with the next runs, and shows the API\'s 400 at its field', async () => {
    await page.getByRole('link', { name: 'Datensicherung konfigurieren' }).click();
    const form = page.locator('form', { has: page.getByRole('heading', { name: 'Zeitplan der Datensicherung' }) });
    await form.getByLabel('Minute', { exact: true }).fill('15');
    await form.getByLabel('Stunde', { exact: true }).fill('3');
    await form.getByLabel('Tag', { exact: true }).fill('*');
    await form.getByLabel('Monat', { exact: true }).fill('*');
    await form.getByLabel('Wochentag', { exact: true }).fill('1-5');
    await form.getByLabel('Generationen', { exact: true }).fill('7');
    await page.getByTestId('backup-words').getByText(/03:15.*Montag bis Freitag/).waitFor();
    await page.getByTestId('backup-next').locator('li').nth(4).waitFor();
    await shot('configure');
    await form.getByRole('button', { name: 'Speichern' }).click();
    await form.getByText('Gespeichert.').waitFor();
    const saved = await http(svc.url, 'GET', '/api/schedule', undefined, TOKEN);
    assert.deepEqual([saved.body.cron, saved.body.keep], ['15 3 * * 1-5', 7]);

    await form.getByLabel('Minute', { exact: true }).fill('61');
    await form.getByRole('button', { name: 'Speichern' }).click();
    const minute = form.getByLabel('Minute', { exact: true });
    await form.locator('#backup-minute-error').getByText(/Ungültig: minute: .*0-59/).waitFor();
    assert.equal(await minute.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'backup-minute', 'the field with the error has the focus');
    assert.equal((await http(svc.url, 'GET', '/api/schedule', undefined, TOKEN)).body.cron, '15 3 * * 1-5', 'nothing saved');

    // The verify schedule, the same way (no generations).
    const verify = page.locator('form', { has: page.getByRole('heading', { name: /Zeitplan der Prüfung/ }) });
    assert.equal(await verify.getByLabel('Generationen', { exact: true }).count(), 0);
    await verify.getByLabel('Minute', { exact: true }).fill('30');
    await verify.getByLabel('Stunde', { exact: true }).fill('6');
    await verify.getByLabel('Wochentag', { exact: true }).fill('0');
    await page.getByTestId('verify-words').getByText(/06:30.*Sonntag/).waitFor();
    await verify.getByRole('button', { name: 'Speichern' }).click();
    await verify.getByText('Gespeichert.').waitFor();
    assert.equal((await http(svc.url, 'GET', '/api/verify-schedule', undefined, TOKEN)).body.cron, '30 6 * * 0');
  });

  it('sets a volume to incremental with a full every 3 runs, kept after a reload; fullEvery 0 is shown at its field', async () => {
    const form = () => page.locator('form[data-volume-mode="lucindadata"]');
    assert.equal(await page.locator('form[data-volume-mode]').count(), VOLUMES.length, 'one form per volume, none for the dump');
    await form().getByLabel('Inkrementell').check();
    await form().getByLabel('Vollsicherung alle N Läufe').fill('3');
    await form().getByLabel('Neue Vollsicherung zusätzlich am').selectOption({ label: 'Sonntag' });
    await form().getByRole('button', { name: 'Speichern (lucindadata)' }).click();
    await form().getByText('Gespeichert.').waitFor();
    await page.reload();
    assert.ok(await form().getByLabel('Inkrementell').isChecked(), 'the mode is kept');
    assert.equal(await form().getByLabel('Vollsicherung alle N Läufe').inputValue(), '3');
    assert.equal(await form().getByLabel('Neue Vollsicherung zusätzlich am').inputValue(), '0');
    assert.ok(await page.locator('form[data-volume-mode="elexisdb"]').getByLabel('Vollständig').isChecked(), 'the other volume is untouched');
    if (SHOTS) await page.locator('#modes-h').evaluate((h) => h.scrollIntoView());
    await shot('configure-modes');

    await form().getByLabel('Vollsicherung alle N Läufe').fill('0');
    await form().getByRole('button', { name: 'Speichern (lucindadata)' }).click();
    await page.locator('#mode-lucindadata-fullEvery-error').getByText(/Ungültig: .*fullEvery.*1 to 366/).waitFor();
    assert.equal(await form().getByLabel('Vollsicherung alle N Läufe').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'mode-lucindadata-fullEvery', 'the field with the error has the focus');
    const kept = (await http(svc.url, 'GET', '/api/volumes', undefined, TOKEN)).body.volumes.find((v: { name: string }) => v.name === 'lucindadata');
    assert.deepEqual([kept.mode, kept.fullEvery, kept.fullOn], ['incremental', 3, 0], 'nothing saved');

    await page.getByRole('link', { name: 'Übersicht' }).click();
    await page.getByTestId('mode-lucindadata').getByText('inkrementell').waitFor();
    assert.equal(await page.getByTestId('mode-elexisdb').textContent(), 'vollständig');
    // Back to full, so the tests below see today's archives.
    await page.getByRole('link', { name: 'Datensicherung konfigurieren' }).click();
    await form().getByLabel('Vollständig').check();
    await form().getByRole('button', { name: 'Speichern (lucindadata)' }).click();
    await form().getByText('Gespeichert.').waitFor();
    assert.equal((await http(svc.url, 'GET', '/api/volumes', undefined, TOKEN)).body.volumes.find((v: { name: string }) => v.name === 'lucindadata').mode, 'full');
    await page.getByRole('link', { name: 'Übersicht' }).click();
  });

  it('"Jetzt sichern" shows the run until every progress bar is done', async () => {
    await page.getByRole('link', { name: 'Übersicht' }).click();
    await page.getByRole('button', { name: 'Jetzt sichern' }).click();
    const run = page.locator('.run');
    await run.getByText(/Sicherung vom .* läuft|beendet/).waitFor();
    runStamp = (await run.getAttribute('data-stamp'))!;
    await run.getByText('Alle Sicherungen dieses Laufs sind geschrieben und geprüft.').waitFor({ timeout: 60_000 });
    const bars = run.locator('.progress');
    assert.equal(await bars.count(), VOLUMES.length + 1, 'one bar per volume and one for the database dump');
    for (const bar of await bars.all()) {
      assert.equal(await bar.getAttribute('data-finished'), 'true');
      assert.equal(await bar.getByRole('progressbar').getAttribute('value'), '1');
    }
    const files = await fs.readdir(fx.backupDir);
    for (const v of VOLUMES) assert.ok(files.some((f) => f.startsWith(`${v}_`) && f.endsWith('.tar.gz')), `${v} archived: ${files.join(', ')}`);
    await page.locator('tr[data-volume="elexisdb"]').getByText('geprüft, in Ordnung').waitFor();
    await shot('overview', { top: true });
  });

  it('restores a set through the API\'s warning; switching the safety backup off takes a second click', async () => {
    await fx.clock.advance(60_000);
    const live = path.join(fx.volumesDir, 'lucindadata');
    const before = await fs.readFile(path.join(live, 'readme.txt'));
    await fs.writeFile(path.join(live, 'readme.txt'), 'überschrieben');
    await fs.writeFile(path.join(live, 'neu.txt'), 'nach der Sicherung');
    const elexisdbBefore = await fs.readdir(path.join(fx.volumesDir, 'elexisdb'));
    await fs.writeFile(path.join(fx.volumesDir, 'elexisdb', 'bleibt.txt'), 'nicht gewählt, bleibt');

    await page.getByRole('link', { name: 'Daten aus Backup wiederherstellen' }).click();
    await page.locator('button.set').first().click();
    const warning = page.getByTestId('restore-warning');
    await warning.getByText(/Achtung: Alle aktuellen Daten von elexisdb, lucindadata werden gelöscht/).waitFor();
    await page.getByRole('checkbox', { name: /^elexisdb/ }).uncheck();
    await warning.getByText(/Achtung: Alle aktuellen Daten von lucindadata werden gelöscht/).waitFor();
    await warning.getByText(/Vorher wird automatisch eine Sicherung/).waitFor();

    const safety = page.getByRole('checkbox', { name: /Sicherheitskopie der aktuellen Daten/ });
    await safety.click();
    assert.equal(await safety.isChecked(), true, 'one click does not switch it off');
    await page.getByRole('button', { name: 'Nein, Sicherheitskopie behalten' }).click();
    assert.equal(await safety.isChecked(), true);
    await shot('restore');

    await page.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
    const progress = page.locator('.restore-progress');
    await progress.getByText('Elexis-OOB (mit seiner Datenbank) und Elexis jetzt neu starten.').waitFor({ timeout: 60_000 });
    await progress.getByText(/Die Daten von vorher sind in der Sicherung vom/).waitFor();
    // The safety backup is a set of its own, listed first (newest) as soon as the restore ended.
    await page.locator('button.set').nth(1).waitFor();
    assert.ok((await page.locator('button.set').first().getAttribute('data-stamp'))! > runStamp);
    assert.equal(await progress.locator('.phase-done').count(), 5, 'every phase done');
    assert.deepEqual(await fs.readFile(path.join(live, 'readme.txt')), before);
    await assert.rejects(fs.access(path.join(live, 'neu.txt')), 'a file made after the backup is gone');
    assert.deepEqual((await fs.readdir(path.join(fx.volumesDir, 'elexisdb'))).sort(), [...elexisdbBefore, 'bleibt.txt'].sort(), 'the volume not chosen is untouched');
    await shot('restore-done');
    assert.match(await progress.locator('.phase-done').nth(2).innerText(), /^Sicherheitskopie der aktuellen Daten – fertig$/);
  });

  it('a restore without the safety backup says so in its phases, not "done"', async () => {
    // An audit read "Sicherheitskopie der aktuellen Daten – fertig" where none was made.
    await page.getByRole('link', { name: 'Übersicht' }).click();
    await page.getByRole('link', { name: 'Daten aus Backup wiederherstellen' }).click();
    await page.locator(`button.set[data-stamp="${runStamp}"]`).click();
    await page.getByRole('checkbox', { name: /^elexisdb/ }).uncheck();
    const warning = page.getByTestId('restore-warning');
    await warning.getByText(/Achtung: Alle aktuellen Daten von lucindadata werden gelöscht/).waitFor();
    await page.getByRole('checkbox', { name: /Sicherheitskopie der aktuellen Daten/ }).click();
    await page.getByRole('button', { name: 'Ja, ohne Sicherheitskopie' }).click();
    await warning.getByText(/KEINE Sicherung/).waitFor();
    await page.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
    const progress = page.locator('.restore-progress');
    await progress.getByText('Elexis-OOB (mit seiner Datenbank) und Elexis jetzt neu starten.').waitFor({ timeout: 60_000 });
    assert.match(await progress.locator('.phase-done').nth(2).innerText(), /^Sicherheitskopie der aktuellen Daten – ausgelassen: keine gemacht$/);
    assert.equal(await progress.getByText(/Die Daten von vorher sind in der Sicherung vom/).count(), 0);
  });

  it('restores one deleted document beside the live data, then one file in place', async () => {
    await fx.clock.advance(60_000);
    const live = path.join(fx.volumesDir, 'lucindadata');
    const readme = await fs.readFile(path.join(live, 'readme.txt'));
    const data = await fs.readFile(path.join(live, 'nested/deeper/deepest/data.bin'));
    await fs.rm(path.join(live, 'readme.txt'));
    await fs.writeFile(path.join(live, 'nested/deeper/deepest/data.bin'), 'kaputt');

    await page.getByRole('link', { name: 'Ein Dokument zurückholen' }).click();
    await page.getByLabel('Sicherung', { exact: true }).selectOption(runStamp);
    await page.getByLabel('Datenbestand', { exact: true }).selectOption('lucindadata');
    await page.getByRole('checkbox', { name: 'readme.txt auswählen' }).check();
    await page.getByRole('button', { name: 'Weiter zur Bestätigung' }).click();
    await page.getByTestId('restore-warning').getByText(`in den neuen Ordner "Wiederhergestellt-${runStamp}"`, { exact: false }).waitFor();
    await shot('document');
    await page.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
    await page.getByText(`Die Dateien liegen jetzt im Ordner «Wiederhergestellt-${runStamp}».`).waitFor({ timeout: 60_000 });
    assert.deepEqual(await fs.readFile(path.join(live, `Wiederhergestellt-${runStamp}`, 'readme.txt')), readme);
    await assert.rejects(fs.access(path.join(live, 'readme.txt')), 'beside: the live place is left alone');
    assert.equal(await fs.readFile(path.join(live, 'nested/deeper/deepest/data.bin'), 'utf8'), 'kaputt', 'a file not chosen is untouched');

    await fx.clock.advance(60_000);
    await page.getByRole('link', { name: 'Übersicht' }).click();
    await page.getByRole('link', { name: 'Ein Dokument zurückholen' }).click();
    await page.getByLabel('Sicherung', { exact: true }).selectOption(runStamp);
    await page.getByLabel('Datenbestand', { exact: true }).selectOption('lucindadata');
    for (const dir of ['nested', 'deeper', 'deepest']) await page.getByRole('button', { name: `Ordner ${dir} öffnen` }).click();
    await page.getByRole('checkbox', { name: 'data.bin auswählen' }).check();
    await page.getByRole('radio', { name: /An Ort und Stelle/ }).check();
    assert.equal(await page.getByRole('checkbox', { name: /Sicherheitskopie der aktuellen Daten/ }).isChecked(), true, 'in place: safety backup on by default');
    await page.getByRole('button', { name: 'Weiter zur Bestätigung' }).click();
    await page.getByTestId('restore-warning').getByText(/Achtung: "nested\/deeper\/deepest\/data.bin" im Volume lucindadata wird durch den Stand/).waitFor();
    await page.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
    await page.getByText('Die Dateien sind ersetzt. Nichts anderes wurde verändert.').waitFor({ timeout: 60_000 });
    assert.deepEqual(await fs.readFile(path.join(live, 'nested/deeper/deepest/data.bin')), data);
    await assert.rejects(fs.access(path.join(live, 'readme.txt')), 'in place touches only the chosen path');
  });

  it('uploads a SQL file with a progress bar and restores the database after the confirmation', async () => {
    await fx.clock.advance(60_000);
    const file = path.join(fx.root, 'praxis.sql');
    // A value MariaDB cuts in the file's lenient sql_mode: the summary says so on the screen too.
    await fs.writeFile(file, '-- mariadb-dump\nSET SESSION sql_mode = \'\';\nDROP TABLE IF EXISTS befund;\nCREATE TABLE befund (id INT PRIMARY KEY, text VARCHAR(100), kurz VARCHAR(3));\nINSERT INTO befund VALUES (1, \'aus der Datei\', \'zu lang\');\n');
    await page.getByRole('link', { name: 'Daten aus Backup wiederherstellen' }).click();
    await page.getByLabel('SQL-Datei', { exact: true }).setInputFiles(file);
    await page.getByRole('button', { name: 'Hochladen und prüfen' }).click();
    const form = page.locator('form', { has: page.getByRole('heading', { name: 'Datenbank aus SQL-Datei wiederherstellen' }) });
    await form.locator('.progress[data-finished="true"]').waitFor();
    await form.getByTestId('restore-warning').getByText(new RegExp(`Die Datenbank "${DB}" wird gelöscht`)).waitFor();
    await shot('sql-upload');
    await form.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
    await page.locator('.restore-progress').getByText('Elexis jetzt neu starten.').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('.restore-progress .phase-done').count(), 4, 'every phase done, "Aufräumen" last');
    await page.locator('.restore-progress .phase-done').last().getByText('Aufräumen').waitFor();
    await page.locator('.restore-progress .caution').getByText("Achtung: MariaDB hat beim Laden 1 Wert verändert; dort weicht die Datenbank von der Datei ab (zuerst: Data truncated for column 'kurz' at row 1).").waitFor();
    assert.equal(await page.locator('.restore-progress .caution').count(), 1, 'root sees every connection: no note about PROCESS');
    assert.equal(await sql('SELECT text FROM befund WHERE id = 1'), 'aus der Datei');
  });

  it('a SQL load that fails says the database is now empty or partial, and which set holds it from before', async () => {
    // An audit got the client's English reason ending in "restore it with POST /api/restores/sql".
    await fx.clock.advance(60_000);
    const file = path.join(fx.root, 'kein-sql.sql');
    await fs.writeFile(file, 'hello this is not sql\n');
    await page.getByRole('link', { name: 'Übersicht' }).click();
    await page.getByRole('link', { name: 'Daten aus Backup wiederherstellen' }).click();
    await page.getByLabel('SQL-Datei', { exact: true }).setInputFiles(file);
    await page.getByRole('button', { name: 'Hochladen und prüfen' }).click();
    const form = page.locator('form', { has: page.getByRole('heading', { name: 'Datenbank aus SQL-Datei wiederherstellen' }) });
    await form.getByTestId('restore-warning').waitFor();
    await form.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
    const caution = page.locator('.restore-progress .caution');
    await caution.getByText(/^Die Datenbank ist jetzt leer oder nur teilweise geladen: Elexis so nicht starten\. Die Datenbank von vorher ist in der Sicherung vom .+: diese oben wählen und ihre Datenbank wiederherstellen\.$/).waitFor({ timeout: 60_000 });
    // The safety dump's set is listed above at once (the list is reloaded when the restore ends).
    await page.locator(`button.set[data-stamp="${fx.clock.stamp()}"]`).waitFor({ timeout: 10_000 });
  });

  it('backs up a chosen volume only, and flags an archive that shrank by half', async () => {
    await fx.clock.advance(60_000);
    await fs.rm(path.join(fx.volumesDir, 'elexisdb', 'nested'), { recursive: true });
    await page.getByRole('link', { name: 'Übersicht' }).click();
    await page.getByRole('checkbox', { name: 'lucindadata' }).uncheck();
    await page.getByText('Nur die angekreuzten Datenbestände (ohne Datenbank-Abzug).').waitFor();
    await page.getByRole('button', { name: 'Jetzt sichern' }).click();
    const run = page.locator('.run');
    await run.getByText('Alle Sicherungen dieses Laufs sind geschrieben und geprüft.').waitFor({ timeout: 60_000 });
    assert.equal(await run.locator('.progress').count(), 1, 'one volume in this run');
    await page.locator('tr[data-volume="elexisdb"]').getByText('viel kleiner!').waitFor();
    await page.getByRole('alert').filter({ hasText: 'Sicherung von elexisdb viel kleiner als die vorige.' }).getByText(/Was tun: Prüfen Sie, ob Daten gelöscht/).waitFor();
    assert.equal(await page.locator('tr[data-volume="lucindadata"]').getByText('viel kleiner!').count(), 0);
  });

  it('names the mode and the newest archive\'s level in the overview for an incremental volume', async () => {
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/lucindadata', { mode: 'incremental', fullEvery: 3 }, TOKEN)).status, 200);
    const expected = ['inkrementell, Stufe 0 (Vollsicherung)', 'inkrementell, Stufe 1'];
    for (const words of expected) {
      await fx.clock.advance(60_000);
      await fs.writeFile(path.join(fx.volumesDir, 'lucindadata', `neu-${words.length}.txt`), words);
      await runNowAndSettle(svc.url, TOKEN, { volumes: ['lucindadata'] });
      await page.reload();
      await page.getByTestId('mode-lucindadata').getByText(words, { exact: true }).waitFor();
    }
    assert.ok((await fs.readdir(fx.backupDir)).some((f) => f.startsWith('lucindadata_') && f.endsWith('.inc.tar.gz')), 'an incremental archive was written');
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/lucindadata', { mode: 'full' }, TOKEN)).status, 200);
  });

  it('switches to English, and stays on this origin throughout', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 2 }).waitFor();
    await page.getByRole('button', { name: 'Back up now' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await page.getByRole('link', { name: 'Configure backups' }).click();
    await page.getByTestId('backup-words').getByText(/03:15.*Monday through Friday/).waitFor();
    await shot('configure-en');
    assert.deepEqual(foreign, [], 'no request left the service');
  });

  it('works from the keyboard with a visible focus, and says so when a queue is paused', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const archive = new Queue('archive', { connection: redis, prefix: fx.prefix });
    try {
      await archive.pause();
      await page.getByRole('link', { name: 'Overview' }).click();
      await page.getByRole('alert').filter({ hasText: 'The queue “archive” is paused.' }).waitFor();
    } finally {
      await archive.resume();
      await archive.close();
      redis.disconnect();
    }
    await page.getByRole('link', { name: 'Configure backups' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Configure backups', level: 2 }).waitFor();
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      return { tag: el.tagName, outline: style.outlineStyle, width: style.outlineWidth };
    });
    assert.notEqual(focus.tag, 'BODY', 'Tab moves the focus on');
    assert.equal(focus.outline, 'solid', `the focused ${focus.tag} shows a ring`);
    assert.equal(focus.width, '3px');
  });

  it('fits a tablet (820×1180) without sideways scrolling, on every screen', async () => {
    await page.setViewportSize({ width: 820, height: 1180 });
    try {
      for (const name of ['Overview', 'Configure backups', 'Restore data from a backup', 'Restore a document']) {
        await page.getByRole('link', { name }).click();
        await page.getByRole('heading', { name, level: 2 }).waitFor();
        const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth }));
        assert.ok(scroll <= width, `${name}: ${scroll} px wide in a ${width} px window`);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('"remember" keeps the token in localStorage; logging out forgets it everywhere', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('checkbox', { name: 'Remember on this device' }).check();
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    const stored = () => page.evaluate(() => [...Object.values({ ...sessionStorage }), ...Object.values({ ...localStorage })]);
    assert.ok((await page.evaluate(() => Object.values({ ...localStorage }))).includes(TOKEN));
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    assert.ok(!(await stored()).includes(TOKEN));
  });

  it('without API_TOKEN (loopback only) the screens open without a login, in the browser\'s language', async () => {
    const open = await startService('api', { ...fx.env, API_TOKEN: '' });
    try {
      const other = await browser.newPage();
      await other.goto(`${open.url}/`);
      // Another origin (port), so no language chosen yet: the browser's (de-CH) decides again.
      await other.getByRole('heading', { name: 'Übersicht', level: 2 }).waitFor();
      await other.locator('tr[data-volume="elexisdb"]').waitFor();
      assert.equal(await other.getByLabel('API-Token').count(), 0);
      assert.equal(await other.getByRole('button', { name: 'Abmelden' }).count(), 0, 'nothing to log out of');
      await other.close();
    } finally {
      await open.stop();
    }
  });
});
