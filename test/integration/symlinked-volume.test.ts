/**
 * A volume that is a symlink in VOLUMES_DIR (`pacsdata -> /srv/pacs`, the set-up without Docker),
 * end to end through the API: listed, archived with the target's contents (checked with GNU tar),
 * archived again in incremental mode, and restored into the target, with the symlink left as it
 * is. Entries of VOLUMES_DIR that are no volume are named in the log, once. And a volume named
 * like a property of Object.prototype is unknown (400), as any other name that is no volume.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, runNowAndSettle, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { exec, gnuTarTree, makeVolume } from '../helpers/volumes.js';

const TOKEN = 'symlinked-volume-token-0123456789';

describe('a volume that is a symlink in VOLUMES_DIR', () => {
  let fx: Fixture;
  let svc: Service;
  let target = '';
  let stamp = '';
  let original: Map<string, TreeEntry>;
  const api = (method: string, url: string, body?: unknown) => http(svc.url, method, url, body, TOKEN);
  const link = () => path.join(fx.volumesDir, 'pacsdata');

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' }, { clock: TEST_START });
    target = path.join(fx.root, 'srv', 'pacs');
    await makeVolume(target, 'pacs');
    await fs.chmod(target, 0o750);
    await fs.symlink(target, link());
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    // Volumes that cannot be reached (a disk not mounted): a dangling symlink, a symlink to a file. No volume: a file.
    await fs.symlink(path.join(fx.root, 'srv', 'gone'), path.join(fx.volumesDir, 'lucindadata'));
    await fs.writeFile(path.join(fx.root, 'srv', 'a-file'), 'x');
    await fs.symlink(path.join(fx.root, 'srv', 'a-file'), path.join(fx.volumesDir, 'to-file'));
    await fs.writeFile(path.join(fx.volumesDir, 'notes.txt'), 'not a volume\n');
    original = await snapshotTree(target);
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('is listed, and so are the volumes that cannot be reached; what is no volume is named in the log once', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await api('GET', '/api/volumes');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.volumes.map((v: any) => v.name), ['elexisdb', 'lucindadata', 'pacsdata', 'to-file']);
      assert.ok(r.body.volumes[2].size >= 200_000, `pacsdata's size is its target's: ${r.body.volumes[2].size}`);
      // Those that cannot be reached say why, and have no size (a symlink to a file showed the file's).
      assert.deepEqual(r.body.volumes.map((v: any) => [v.name, v.unreachable === null ? null : v.unreachable.replace(/ to \S+,/, ' to …,'), v.unreachable ? v.size : 'n/a']), [
        ['elexisdb', null, 'n/a'],
        ['lucindadata', 'is a symlink to …, which does not exist', null],
        ['pacsdata', null, 'n/a'],
        ['to-file', 'is a symlink to …, which is not a directory', null],
      ]);
    }
    const warned = logLines(svc.logs()).filter((l) => typeof l.msg === 'string' && l.msg.includes('in VOLUMES_DIR is not a volume'));
    assert.deepEqual(warned.map((l) => l.entry).sort(), ['notes.txt'], 'one line each, not one per poll');
    const unreachable = logLines(svc.logs()).filter((l) => typeof l.msg === 'string' && l.msg.includes('cannot be reached'));
    assert.deepEqual(unreachable.map((l) => l.volume).sort(), ['lucindadata', 'to-file'], 'one line each, not one per poll');
    assert.ok(unreachable.some((l) => String(l.msg).startsWith(`volume lucindadata cannot be reached: it is a symlink to ${path.join(fx.root, 'srv', 'gone')}, which does not exist;`)));
    assert.equal(logLines(svc.logs(), `volume pacsdata is a symlink: its target ${target} is backed up`).length, 1);
  });

  it('a name of Object.prototype is an unknown volume (400), and does not take the minute', async () => {
    for (const name of ['constructor', '__proto__', 'hasOwnProperty', 'tostring', 'notes-txt']) {
      const r = await api('POST', '/api/backups', { volumes: [name] });
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.field, 'volumes');
    }
    assert.match((await api('POST', '/api/backups', { volumes: ['constructor'] })).body.error.message, /^unknown volume\(s\): constructor; known: elexisdb, lucindadata, pacsdata, to-file$/);
  });

  it('is archived with its target\'s contents, as GNU tar reads them', async () => {
    // The minute of the refused requests above: they claimed no stamp.
    stamp = await runNowAndSettle(svc.url, TOKEN);
    const set = (await api('GET', `/api/backups/${stamp}`)).body;
    assert.deepEqual(set.archives.map((a: any) => [a.volume, a.verified?.ok]), [['elexisdb', true], ['pacsdata', true]]);
    // The volumes that cannot be reached fail, saying why (an alert), instead of dropping out of the backups.
    const failed = ((await api('GET', '/api/jobs?queue=archive&state=failed')).body.jobs as { volume: string; failedReason: string }[]).sort((a, b) => (a.volume < b.volume ? -1 : 1));
    assert.deepEqual(failed.map((j) => j.volume), ['lucindadata', 'to-file']);
    assert.match(failed[0]!.failedReason, /^volume "lucindadata" cannot be reached: \S+ is a symlink to \S+gone, which does not exist \(a disk that is not mounted\?\); nothing was archived$/);
    const archive = path.join(fx.backupDir, `pacsdata_${stamp}.tar.gz`);
    const { stdout } = await exec('tar', ['-tvzf', archive]);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^drwxr-x--- .* \.\/$/, `the root is the target directory, not the symlink: ${lines[0]}`);
    assert.ok(lines.some((l) => / \.\/nested\/deeper\/deepest\/data\.bin$/.test(l)), stdout);
    assert.ok(lines.some((l) => /^l.* \.\/link-to-data -> nested\/deeper\/deepest\/data\.bin$/.test(l)), stdout);
    assertSameTree(await gnuTarTree(archive), original);
  });

  it('is archived in incremental mode too', async () => {
    assert.equal((await api('PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 7 })).status, 200);
    await fx.clock.advance(60_000);
    const full = await runNowAndSettle(svc.url, TOKEN, { volumes: ['pacsdata'] });
    await fs.writeFile(path.join(target, 'new-study.dcm'), 'study\n');
    await fx.clock.advance(60_000);
    const inc = await runNowAndSettle(svc.url, TOKEN, { volumes: ['pacsdata'] });
    const listed = (await api('GET', `/api/backups/${inc}`)).body.archives;
    assert.deepEqual(listed.map((a: any) => [a.file, a.verified?.ok]), [[`pacsdata_${inc}.inc.tar.gz`, true]]);
    const { stdout } = await exec('tar', ['-tzf', path.join(fx.backupDir, `pacsdata_${inc}.inc.tar.gz`)]);
    assert.match(stdout, /^\.\/new-study\.dcm$/m);
    assert.ok((await fs.stat(path.join(fx.backupDir, `pacsdata_${full}.tar.gz`))).isFile());
    await fs.rm(path.join(target, 'new-study.dcm'));
    assert.equal((await api('PUT', '/api/volumes/pacsdata', { mode: 'full' })).status, 200);
  });

  it('is restored into its target; the symlink stays a symlink', async () => {
    await fs.writeFile(path.join(target, 'readme.txt'), 'changed after the backup\n');
    await fs.rm(path.join(target, 'nested'), { recursive: true });
    await fs.writeFile(path.join(target, 'added.txt'), 'added after the backup\n');
    await fs.chmod(target, 0o700);
    const changed = await snapshotTree(target);

    await fx.clock.advance(60_000); // a minute without a set, for the safety backup
    const req = await api('POST', '/api/restores', { stamp, volumes: ['pacsdata'] });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await api('POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token })).status, 202);
    const result = await waitFor(async () => {
      const r = (await api('GET', `/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, 'the restore to finish');
    assert.equal(result.state, 'completed', result.failedReason);

    assertSameTree(await snapshotTree(target), original);
    const st = await fs.lstat(link());
    assert.ok(st.isSymbolicLink(), 'VOLUMES_DIR/pacsdata is still a symlink');
    assert.equal(await fs.readlink(link()), target);
    assert.deepEqual((await fs.readdir(fx.volumesDir)).sort(), ['elexisdb', 'lucindadata', 'notes.txt', 'pacsdata', 'to-file']);
    // The safety backup holds the target as it was before the restore.
    const safety = result.summary.safetyBackupStamp as string;
    assertSameTree(await gnuTarTree(path.join(fx.backupDir, `pacsdata_${safety}.tar.gz`)), changed);
  });

  it('a symlink that leads to the backups is archived by no run: the job fails, nothing is written', async () => {
    // At start BACKUP_DIR is checked against VOLUMES_DIR; a symlink made later is checked by each job
    // (an audit lost every archive to a volume that held BACKUP_DIR).
    const link = path.join(fx.volumesDir, 'backups');
    await fs.symlink(fx.backupDir, link);
    try {
      await fx.clock.advance(60_000);
      await waitForJobsSettled(svc.url, TOKEN); // the last test's safety backup is verified after it
      const before = (await fs.readdir(fx.backupDir)).sort();
      const stampOf = await runNowAndSettle(svc.url, TOKEN, { volumes: ['backups'] });
      const failed = (await api('GET', '/api/jobs?queue=archive&state=failed')).body.jobs.find((j: any) => j.stamp === stampOf);
      assert.match(failed?.failedReason ?? '', /^volume "backups" and BACKUP_DIR overlap \(they are the same directory\): its archive would hold the backups themselves; put BACKUP_DIR outside every volume; nothing was archived$/);
      assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.startsWith('backups_')), []);
      assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => !before.includes(n) && !n.startsWith('.')), []);
    } finally {
      await fs.rm(link);
    }
  });
});
