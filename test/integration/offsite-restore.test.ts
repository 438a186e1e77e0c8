/**
 * Disaster recovery through the API: a backup copied (encrypted) to a real SFTP target; then the
 * server is "new": BACKUP_DIR empty, Redis without our keys, the volume wiped. The listing shows the
 * set from the target (`remote: true`); a restore `from` the target fetches, decrypts and verifies
 * the archive and swaps it in; the volume is the tree it was, entry for entry. A damaged copy on the
 * target fails the restore before anything is changed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildUi } from '../../scripts/build-ui.js';
import { CHROMIUM_SKIP, launchChromium } from '../helpers/chromium.js';
import { TEST_START } from '../helpers/clock.js';
import { ContractChecker } from '../helpers/openapi-check.js';
import { procedureScript } from '../helpers/emergency-procedure.js';
import { newEmptyServer, rcloneConfig, startSftpServer, type TestRemote } from '../helpers/offsite-servers.js';
import { Redis } from 'ioredis';
import { DB_ENV, MARIADB_ARGS, REDIS_URL, http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { exec, makeVolume } from '../helpers/volumes.js';

const DB = `oob_offsite_${process.pid}`;
const sql = async (query: string, db = DB) => (await exec('mariadb', [...MARIADB_ARGS, '-N', '-B', db, '-e', query])).stdout.trim();

describe('restore from an off-site target onto an empty server', () => {
  let fx: Fixture;
  let svc: Service | undefined;
  let sftp: TestRemote;
  let env: Record<string, string>;
  let target = '';
  let stamp = '';
  let original: Map<string, TreeEntry>;
  const volume = () => path.join(fx.volumesDir, 'lucindadata');

  let identity = '';
  async function restore(body: Record<string, unknown>, withIdentity = true) {
    const req = await http(svc!.url, 'POST', '/api/restores', body);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal(req.body.encrypted, true);
    const conf = await http(svc!.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token, ...(withIdentity ? { ageIdentity: identity } : {}) });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    return waitFor(async () => {
      const r = (await http(svc!.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, 'the restore to finish');
  }

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    sftp = await startSftpServer(path.join(fx.root, 'sftp'));
    target = `${sftp.name}:${path.join(sftp.dir, 'oob')}`;
    identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    await fs.writeFile(path.join(fx.root, 'key.txt'), identity, { mode: 0o600 });
    await makeVolume(volume(), 'lucindadata');
    // Not the server's default collation: a restore on a new server must bring this one back.
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_german2_ci`]);
    await sql("CREATE TABLE patient (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO patient VALUES (1, 'Müller'), (2, 'Rossi')");
    env = {
      ...fx.env,
      ...DB_ENV,
      DB_NAME: DB,
      OFFSITE_TARGETS: target,
      RCLONE_CONFIG: await rcloneConfig(path.join(fx.root, 'rclone.conf'), [sftp]),
      OFFSITE_AGE_RECIPIENTS: /public key: (age1\S+)/.exec(identity)![1]!,
    };
    svc = await startService('start', env);
    stamp = (await http(svc.url, 'POST', '/api/backups', {})).body.stamp;
    await waitForJobsSettled(svc.url, undefined);
    await waitFor(async () => {
      const archives = (await http(svc!.url, 'GET', '/api/backups')).body.sets[0]?.archives as { copies: unknown[] }[] | undefined;
      return archives?.length === 2 && archives.every((a) => a.copies.length === 1);
    }, 20_000, 'the copies of the archive and the dump');
    original = await snapshotTree(volume());
    await svc.stop();
    svc = undefined;
    // The new server: nothing of the old one but the target configuration (and the key, mounted).
    await newEmptyServer(fx, [volume()]);
    await sql('DROP TABLE patient');
    // No OFFSITE_AGE_IDENTITY_FILE: the key stays with the practice and comes with the confirmation.
    svc = await startService('start', env);
  });

  after(async () => {
    await svc?.stop();
    await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS ${DB}_hand`]).catch(() => undefined);
    await sftp?.stop();
    await fx?.cleanup();
  });

  it('lists the set found on the target as remote', async () => {
    const { sets } = (await http(svc!.url, 'GET', '/api/backups')).body;
    assert.equal(sets.length, 1);
    assert.equal(sets[0].stamp, stamp);
    assert.equal(sets[0].remote, true);
    assert.deepEqual(sets[0].archives.map((a: { file: string }) => a.file), [`elexisdb-sql_${stamp}.sql.gz`, `lucindadata_${stamp}.tar.gz`]);
    assert.deepEqual(sets[0].archives[1].copies.map((c: { target: string; file: string }) => [c.target, c.file]), [[target, `lucindadata_${stamp}.tar.gz.age`]]);
  });

  it('answers GET /api/backups/:stamp for the set known only from the target, as the listing shows it', async () => {
    const one = await http(svc!.url, 'GET', `/api/backups/${stamp}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.remote, true);
    const list = await http(svc!.url, 'GET', '/api/backups');
    assert.deepEqual(one.body, list.body.sets[0]);
    assert.equal((await http(svc!.url, 'GET', '/api/backups/2001-01-01-0000')).status, 404);
    // Both answers as the OpenAPI document describes them (a remote set has no local sizes or checks).
    const contract = new ContractChecker((await http(svc!.url, 'GET', '/api/openapi.json')).body);
    contract.check('GET', '/api/backups/{stamp}', 200, one.body);
    contract.check('GET', '/api/backups', 200, list.body);
  });

  it('refuses a target that is not configured, naming the field', async () => {
    const r = await http(svc!.url, 'POST', '/api/restores', { stamp, from: 'elsewhere:backup' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'from');
  });

  it('fails before changing anything when the copy on the target is damaged', async () => {
    const object = path.join(sftp.dir, 'oob', `lucindadata_${stamp}.tar.gz.age`);
    const good = await fs.readFile(object);
    const bad = Buffer.from(good);
    bad[bad.length - 100] = bad[bad.length - 100]! ^ 0x01;
    await fs.writeFile(object, bad);
    try {
      const r = await restore({ stamp, from: target });
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, /fetching the backup from .* failed, nothing was changed/);
      assert.deepEqual(await fs.readdir(volume()), [], 'the volume is as it was (empty)');
      assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.includes('tar.gz')), [], 'no archive published');
    } finally {
      await fs.writeFile(object, good);
    }
  });

  it('a forged copy (sidecars and an encrypted manifest to match) fails verification after the fetch; what was fetched is removed, so a later restore fetches again', async () => {
    const dir = path.join(sftp.dir, 'oob');
    const file = `lucindadata_${stamp}.tar.gz`;
    const names = [`${file}.age`, `${file}.age.sha256`, `${file}.sha256`, `${file}.manifest.json.age`];
    const saved = await Promise.all(names.map((n) => fs.readFile(path.join(dir, n))));
    const recipient = /public key: (age1\S+)/.exec(identity)![1]!;
    // Whoever can write to the target: another archive, encrypted to the public key, and a
    // manifest of their own that names this archive (they cannot read the real one).
    const tree = path.join(fx.root, 'forged-tree');
    await fs.mkdir(tree, { recursive: true });
    await fs.writeFile(path.join(tree, 'not-yours.txt'), 'forged\n');
    const plain = path.join(fx.root, 'forged.tar.gz');
    await exec('tar', ['-C', tree, '-czf', plain, '.']);
    const sha = (f: string) => execFileSync('sha256sum', [f], { encoding: 'utf8' }).slice(0, 64);
    execFileSync('age', ['-r', recipient, '-o', path.join(dir, `${file}.age`), plain]);
    const manifest = JSON.stringify({ tool: 'oob-backup', file, sha256: sha(plain), entries: 2, entryDigest: 'made up' });
    execFileSync('age', ['-r', recipient, '-o', path.join(dir, `${file}.manifest.json.age`)], { input: manifest });
    await fs.writeFile(path.join(dir, `${file}.age.sha256`), `${sha(path.join(dir, `${file}.age`))}  ${file}.age\n`);
    await fs.writeFile(path.join(dir, `${file}.sha256`), `${sha(plain)}  ${file}\n`);
    try {
      const r = await restore({ stamp, from: target });
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, /failed verification, nothing was changed: the archive does not match its manifest/);
      assert.deepEqual(await fs.readdir(volume()), [], 'the volume is as it was (empty)');
      assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.startsWith('lucindadata')), [], 'the fetched archive and its sidecars are gone');
    } finally {
      await Promise.all(names.map((n, i) => fs.writeFile(path.join(dir, n), saved[i]!)));
    }
  });

  it('a confirmation without the identity is refused, saying how to give it; the token stays usable, nothing changes', async () => {
    // An audit found it accepted: the job then failed and the admin had to request the restore again.
    const req = await http(svc!.url, 'POST', '/api/restores', { stamp, from: target });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal(req.body.encrypted, true);
    const conf = await http(svc!.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 400, JSON.stringify(conf.body));
    assert.equal(conf.body.error.field, 'ageIdentity');
    assert.match(conf.body.error.message, /^this restore fetches encrypted copies from \S+: give ageIdentity \(the text of the age identity file\), or mount it and set OFFSITE_AGE_IDENTITY_FILE; the confirmation was not used$/);
    assert.equal((await http(svc!.url, 'GET', `/api/restores/${req.body.id}`)).body.state, 'pending');
    assert.deepEqual(await fs.readdir(volume()), []);
  });

  it("a volume's directory missing on the new server is told before anything is fetched", async () => {
    await fs.rmdir(volume());
    try {
      const r = await restore({ stamp, from: target, skipSafetyBackup: true });
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, /volume directory \S+lucindadata of lucindadata does not exist; create it \(empty\) to restore into it; nothing was fetched or changed/);
      assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.includes(stamp)), [], 'the archive was fetched');
    } finally {
      await fs.mkdir(volume());
    }
  });

  it('fetches, decrypts (the identity given with the confirmation), verifies and restores the volume exactly', async () => {
    const r = await restore({ stamp, from: target, skipSafetyBackup: true });
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(r.from, target);
    assertSameTree(original, await snapshotTree(volume()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    // The fetched archive is a local backup again, with its sidecars: sha256sum -c passes.
    execFileSync('sha256sum', ['-c', `lucindadata_${stamp}.tar.gz.sha256`], { cwd: fx.backupDir, stdio: 'ignore' });
    // The restore verified it completely on the way: listed so, not as never verified.
    const archives = (await http(svc!.url, 'GET', `/api/backups/${stamp}`)).body.archives as { volume: string; verified: { ok: boolean } | null }[];
    assert.equal(archives.find((x) => x.volume === 'lucindadata')?.verified?.ok, true);
    // Its copy on the target is still there: found and recorded, listed as a copy (it was `copies: []`).
    await waitFor(async () => {
      const listed = (await http(svc!.url, 'GET', `/api/backups/${stamp}`)).body.archives as { volume: string; copies: { target: string; file: string; verifiedAt: string | null }[] }[];
      const copies = listed.find((x) => x.volume === 'lucindadata')?.copies ?? [];
      return copies.length === 1 && copies[0]!.target === target && copies[0]!.file === `lucindadata_${stamp}.tar.gz.age` && copies[0]!.verifiedAt !== null;
    }, 20_000, 'the fetched archive listed with its copy on the target');
    // The set's dump is still only on the target: listed in the set, remote (an audit found the
    // archives of a set not restored yet gone from the listing once one volume of it was).
    for (const set of [(await http(svc!.url, 'GET', '/api/backups')).body.sets.find((x: { stamp: string }) => x.stamp === stamp), (await http(svc!.url, 'GET', `/api/backups/${stamp}`)).body]) {
      const dump = set.archives.find((x: { kind: string }) => x.kind === 'sql');
      assert.equal(set.remote, undefined, 'the set is here');
      assert.equal(dump?.remote, true, JSON.stringify(set));
      assert.equal(dump.copies[0].target, target);
      assert.match(dump.copies[0].copiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO in UTC, as recorded copies give it');
    }
  });

  it("restores the set's SQL dump from the target the same way, onto a server without the database (nothing to keep: no safety dump)", async () => {
    await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE ${DB}`]);
    const r = await restore({ stamp, from: target, volumes: ['elexisdb-sql'] });
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(r.kind, 'sql');
    assert.equal(r.summary.safetyDump, null);
    assert.match(r.summary.message, new RegExp(`^Database ${DB} was created and loaded from the SQL file`));
    assert.equal(await sql(`SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`), 'utf8mb4_german2_ci');
    assert.equal(await sql('SELECT GROUP_CONCAT(name ORDER BY id) FROM patient'), 'Müller,Rossi');
    // The fetched dump is queued for verification (its load checked it, no verify job had read it).
    await waitFor(async () => {
      const archives = (await http(svc!.url, 'GET', `/api/backups/${stamp}`)).body.archives as { kind: string; verified: { ok: boolean } | null }[];
      return archives.find((x) => x.kind === 'sql')?.verified?.ok === true;
    }, 20_000, 'the fetched dump to be verified');
  });

  it('a second restore from the target uses the archive now in BACKUP_DIR; the identity given is dropped all the same', async () => {
    const r = await restore({ stamp, from: target, skipSafetyBackup: true });
    assert.equal(r.state, 'completed', r.failedReason);
    assert.match(svc!.logs(), /archive is in BACKUP_DIR already: not fetched again/);
    // The next test finds no sealed identity left in Redis.
  });

  it('a restore that fails after it verified what it fetched (here: the swap) keeps that archive, listed as verified; the volume stays as it was', async () => {
    // What the restores above fetched goes: this one fetches again.
    for (const n of await fs.readdir(fx.backupDir)) if (n.startsWith(`lucindadata_${stamp}`)) await fs.rm(path.join(fx.backupDir, n), { force: true });
    await fs.writeFile(path.join(volume(), 'changed-since.txt'), 'the practice went on working\n');
    const before = await snapshotTree(volume());
    const rootNs = (await fs.stat(volume(), { bigint: true })).mtimeNs;
    await svc!.stop();
    svc = await startService('start', { ...env, NODE_ENV: 'test', OOB_TEST_FAIL_SWAP: 'lucindadata:1' });
    try {
      const r = await restore({ stamp, from: target, skipSafetyBackup: true });
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, /replacing lucindadata failed and was rolled back/);
      assertSameTree(before, await snapshotTree(volume()));
      assert.equal((await fs.stat(volume(), { bigint: true })).mtimeNs, rootNs, "the root's mtime, to the nanosecond");
      assert.match(svc.logs(), /archive fetched and verified by the failed restore kept in BACKUP_DIR/);
      // Kept with its sidecars (a download of hours is not thrown away) and recorded as verified.
      execFileSync('sha256sum', ['-c', `lucindadata_${stamp}.tar.gz.sha256`], { cwd: fx.backupDir, stdio: 'ignore' });
      const set = (await http(svc.url, 'GET', `/api/backups/${stamp}`)).body;
      const archive = (set.archives as { volume: string; verified: { ok: boolean } | null }[]).find((a) => a.volume === 'lucindadata');
      assert.equal(archive?.verified?.ok, true, JSON.stringify(archive));
    } finally {
      await svc.stop();
      svc = await startService('start', env);
      await fs.rm(path.join(volume(), 'changed-since.txt'));
    }
  });

  it("the README's emergency procedure by hand, its very lines, restores our archive exactly and loads the dump into a new database with its collation", async () => {
    const dir = path.join(fx.root, 'by-hand');
    const dest = path.join(fx.root, 'by-hand-volume');
    await fs.mkdir(dir);
    await fs.mkdir(dest);
    const settings = { RCLONE_CONFIG: env.RCLONE_CONFIG!, T: target, KEY: path.join(fx.root, 'key.txt'), E: '.age', V: 'lucindadata', DEST: dest, DB: `${DB}_hand` };
    await exec('bash', ['-c', procedureScript(settings, 'volume')], { cwd: dir });
    assertSameTree(original, await snapshotTree(dest), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    await exec('bash', ['-c', procedureScript(settings, 'database', `mariadb ${MARIADB_ARGS.join(' ')}`)], { cwd: dir });
    assert.equal(await sql('SELECT GROUP_CONCAT(name ORDER BY id) FROM patient', `${DB}_hand`), 'Müller,Rossi');
    assert.equal(await sql(`SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}_hand'`), 'utf8mb4_german2_ci');
  });

  it('the screen "Wiederherstellen" restores a set known only from the target, fetched from it with the key pasted at the confirmation', { skip: CHROMIUM_SKIP }, async () => {
    // The new server once more: what the restores above fetched is gone, the volume empty.
    for (const n of await fs.readdir(fx.backupDir)) if (n.includes(stamp)) await fs.rm(path.join(fx.backupDir, n), { recursive: true, force: true });
    await fs.rm(volume(), { recursive: true });
    await fs.mkdir(volume());
    // The safety backup (on, as the screen offers it) takes the current minute: not the set's own.
    await fx.clock.advance(60_000);
    await buildUi();
    const browser = await launchChromium(path.join(fx.root, 'chromium-profile'), { locale: 'de-CH' });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(`${svc!.url}/`);
      await page.getByRole('link', { name: 'Daten aus Backup wiederherstellen' }).click();
      const set = page.locator(`button.set[data-stamp="${stamp}"]`);
      await set.getByText('nur auf dem Auslagerungsziel').waitFor();
      await set.click();
      assert.equal(await page.getByRole('combobox', { name: /Holen vom Auslagerungsziel/ }).inputValue(), target);
      await page.getByTestId('restore-warning').waitFor();
      await page.getByLabel(/age-Schlüssel/).fill(identity);
      await page.getByRole('button', { name: 'Ja, jetzt wiederherstellen' }).click();
      const progress = page.locator('.restore-progress');
      await page.locator('.restore-progress[data-state="completed"], .restore-progress[data-state="failed"]').waitFor({ timeout: 60_000 }).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await page.locator('body').innerText()}`);
      });
      assert.equal(await progress.getAttribute('data-state'), 'completed', await progress.innerText());
      await progress.getByText('Elexis-OOB (mit seiner Datenbank) und Elexis jetzt neu starten.').waitFor();
    } finally {
      await browser.close();
    }
    assertSameTree(original, await snapshotTree(volume()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
  });

  it('keeps the identity out of logs and Redis (only sealed for the workers, and taken once)', async () => {
    const secret = identity.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    assert.ok(!svc!.logs().includes(secret), 'the identity in the logs');
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys(`${fx.prefix}:*`);
      assert.ok(keys.some((k) => k.includes('oob-worker-key')), 'the worker announced its key');
      assert.ok(!keys.some((k) => k.endsWith(':sealed-identity')), 'sealed identities are taken by their job');
      for (const k of keys) {
        const type = await redis.type(k);
        const value = type === 'string' ? await redis.get(k) : type === 'hash' ? JSON.stringify(await redis.hgetall(k)) : type === 'list' ? JSON.stringify(await redis.lrange(k, 0, -1)) : '';
        assert.ok(!k.includes(secret) && !(value ?? '').includes(secret), `the identity in ${k}`);
      }
    } finally {
      redis.disconnect();
    }
  });
});
