/**
 * Restoring backup sets end to end over HTTP: request, confirm, the job, and what the volumes look
 * like afterwards — including the failures that must leave them exactly as they were.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { logLines } from '../helpers/logs.js';
import { Redis } from 'ioredis';
import { http, makeFixture, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import { syncWrapperPath } from '../helpers/sync-wrapper.js';
import { exec, gnuTarArchive, gnuTarTree, makeVolume } from '../helpers/volumes.js';

const TOKEN = 'restore-test-token-0123456789';

async function confirm(svc: Service, body: Record<string, unknown>): Promise<string> {
  const req = await http(svc.url, 'POST', '/api/restores', body, TOKEN);
  assert.equal(req.status, 201, JSON.stringify(req.body));
  const conf = await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token }, TOKEN);
  assert.equal(conf.status, 202, JSON.stringify(conf.body));
  return req.body.id;
}

async function finished(svc: Service, id: string): Promise<any> {
  return waitFor(async () => {
    const r = (await http(svc.url, 'GET', `/api/restores/${id}`, undefined, TOKEN)).body;
    return r.state === 'completed' || r.state === 'failed' ? r : undefined;
  }, 60_000, 'the restore to finish');
}

async function restoreAndWait(svc: Service, body: Record<string, unknown>): Promise<any> {
  return finished(svc, await confirm(svc, body));
}

describe('restore a backup set', () => {
  let fx: Fixture;
  let svc: Service;
  let stamp: string;
  let syncLog = '';
  /** While this file exists, the service's `sync` fails (the flush before the swap, below). */
  const syncFails = () => path.join(fx.root, 'sync-fails');
  const vol = (v: string) => path.join(fx.volumesDir, v);

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', NODE_ENV: 'test', OOB_TEST_FAIL_SWAP: 'pacsdata:2', RESTORE_WRITEBACK_MIB: '1' }, { clock: TEST_START });
    // A `sync` first on the service's PATH that notes its calls and runs the real one: the
    // restore's flushes (RESTORE_WRITEBACK_MIB, the one before the swap) show in syncLog.
    syncLog = path.join(fx.root, 'sync.log');
    fx.env.PATH = syncWrapperPath(fx.root, syncLog, { failWhile: syncFails() });
    await makeVolume(vol('elexisdb'), 'elexisdb');
    await makeVolume(vol('lucindadata'), 'lucindadata');
    await makeVolume(vol('pacsdata'), 'pacsdata');
    svc = await startService('start', fx.env);
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    assert.equal(run.status, 202);
    stamp = run.body.stamp;
    await waitForJobsSettled(svc.url, TOKEN);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('answers the request with a warning and a token, and queues nothing before the confirmation', async () => {
    const r = await http(svc.url, 'POST', '/api/restores', { stamp, volumes: ['elexisdb'] }, TOKEN);
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.volumes, ['elexisdb']);
    assert.match(r.body.warning.de, /gelöscht.*elexisdb|elexisdb.*gelöscht/);
    assert.match(r.body.warning.de, /Clients/);
    assert.match(r.body.warning.en, /restart/);
    assert.ok(r.body.token.length >= 32);
    assert.equal(Date.parse(r.body.expiresAt), fx.clock.now().getTime() + 600_000, 'RESTORE_CONFIRM_TTL after now');
    const jobs = (await http(svc.url, 'GET', '/api/jobs?state=waiting', undefined, TOKEN)).body.jobs;
    assert.equal(jobs.filter((j: any) => j.queue === 'restore').length, 0);
    assert.equal((await http(svc.url, 'GET', `/api/restores/${r.body.id}`, undefined, TOKEN)).body.state, 'pending');
  });

  it('refuses unknown sets and volumes with 404/400', async () => {
    assert.equal((await http(svc.url, 'POST', '/api/restores', { stamp: '2001-01-01-0101' }, TOKEN)).status, 404);
    const r = await http(svc.url, 'POST', '/api/restores', { stamp, volumes: ['webelexisdata'] }, TOKEN);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'volumes');
    assert.equal((await http(svc.url, 'POST', '/api/restores', { stamp: '../x' }, TOKEN)).body.error.field, 'stamp');
  });

  it('confirm: 404 unknown id, 403 wrong token, 202 once, 409 the second time', async () => {
    await fx.clock.advance(60_000); // the next minute, free for this restore's safety backup
    const r = await http(svc.url, 'POST', '/api/restores', { stamp, volumes: ['lucindadata'] }, TOKEN);
    assert.equal((await http(svc.url, 'POST', '/api/restores/00000000-0000-4000-8000-000000000000/confirm', { token: r.body.token }, TOKEN)).status, 404);
    assert.equal((await http(svc.url, 'POST', '/api/restores/not-an-id/confirm', { token: r.body.token }, TOKEN)).status, 404);
    const wrong = await http(svc.url, 'POST', `/api/restores/${r.body.id}/confirm`, { token: 'x'.repeat(43) }, TOKEN);
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'wrong_token');
    const [a, b] = await Promise.all([
      http(svc.url, 'POST', `/api/restores/${r.body.id}/confirm`, { token: r.body.token }, TOKEN),
      http(svc.url, 'POST', `/api/restores/${r.body.id}/confirm`, { token: r.body.token }, TOKEN),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [202, 409], 'two concurrent confirmations: exactly one wins');
    await finished(svc, r.body.id);
  });

  it('round trip: changed volumes come back exactly as backed up; the safety backup waits for a minute without a set and holds the changed state', async () => {
    const original = { elexisdb: await snapshotTree(vol('elexisdb')), lucindadata: await snapshotTree(vol('lucindadata')) };
    await fs.writeFile(path.join(vol('elexisdb'), 'readme.txt'), 'changed by the user\n');
    await fs.rm(path.join(vol('elexisdb'), 'nested'), { recursive: true });
    await fs.writeFile(path.join(vol('lucindadata'), 'new-document.txt'), 'added after the backup\n');
    await fs.rm(path.join(vol('lucindadata'), 'link-to-data'));
    await fs.chmod(path.join(vol('lucindadata'), 'secret.cnf'), 0o644);
    const changed = { elexisdb: await snapshotTree(vol('elexisdb')), lucindadata: await snapshotTree(vol('lucindadata')) };

    // This minute holds the previous test's safety backup: the safety backup waits for the next one.
    const taken = fx.clock.stamp();
    await fs.rm(syncLog, { force: true });
    const id = await confirm(svc, { stamp, volumes: ['elexisdb', 'lucindadata'] });
    await waitFor(() => logLines(svc.logs(), 'safety backup waits for the next minute: this one has a set').find((l) => l.stamp === taken), 30_000, 'the safety backup to wait');
    const waiting = (await http(svc.url, 'GET', `/api/restores/${id}`, undefined, TOKEN)).body;
    assert.equal(waiting.state, 'active', 'nothing restored while it waits');
    // The screen shows the safety backup's step while it waits, not the extraction at 100 % for up
    // to a minute (found by a tester).
    assert.equal(waiting.progress?.phase, 'safety-backup', JSON.stringify(waiting.progress));
    // The archives are extracted and verified already (into the restore's own work directory);
    // the volume's data itself is untouched.
    const work = `.oob-restore-${id}`;
    const untouched = new Map([...(await snapshotTree(vol('elexisdb')))].filter(([p]) => p !== work && !p.startsWith(`${work}/`)));
    assertSameTree(untouched, changed.elexisdb, { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    await fx.clock.advance(60_000);
    const result = await finished(svc, id);
    assert.equal(result.state, 'completed', result.failedReason);
    for (const v of ['elexisdb', 'lucindadata'] as const) {
      const restored = await snapshotTree(vol(v));
      // The root's mtime is the archive's "." (what a restore promises), held against the archive.
      assertSameTree(restored, original[v], { ignore: (p) => (p === '.' ? ['mtime'] : []) });
      const archived = (await gnuTarTree(path.join(fx.backupDir, `${v}_${stamp}.tar.gz`))).get('.');
      assert.equal(restored.get('.')?.mtime, archived?.mtime, `${v}: the root's mtime is the archive's`);
    }
    assert.equal(result.summary.restartRequired, true);
    assert.match(result.summary.message, /Restart/);

    const safety = result.summary.safetyBackupStamp as string;
    assert.equal(safety, fx.clock.stamp(), 'the next free minute');
    assert.notEqual(safety, taken);
    for (const v of ['elexisdb', 'lucindadata'] as const) {
      assertSameTree(await gnuTarTree(path.join(fx.backupDir, `${v}_${safety}.tar.gz`)), changed[v]);
    }
    const listed = (await http(svc.url, 'GET', `/api/backups/${safety}`, undefined, TOKEN)).body;
    assert.deepEqual(listed.archives.map((a: any) => a.volume), ['elexisdb', 'lucindadata']);
    // Marked as the data from before this restore: listed so, and no generation for keep.
    assert.deepEqual(listed.archives.map((a: any) => a.safetyFor), [id, id]);
    const restoredFrom = (await http(svc.url, 'GET', `/api/backups/${stamp}`, undefined, TOKEN)).body.archives as any[];
    assert.ok(restoredFrom.every((a) => a.safetyFor === null), 'a run\'s own archives are no safety backup');
    // The only copy of the data from before is read back like any run's archive (verify jobs).
    const verified = await waitFor(async () => {
      const archives = (await http(svc.url, 'GET', `/api/backups/${safety}`, undefined, TOKEN)).body.archives as any[];
      return archives.every((a) => a.verified) ? archives.map((a) => a.verified.ok) : undefined;
    }, 30_000, 'the safety backup\'s verification');
    assert.deepEqual(verified, [true, true]);
    const names = await fs.readdir(vol('elexisdb'));
    assert.ok(!names.some((n) => n.startsWith('.oob-restore')), names.join());
    // Both volumes were swapped in before either's previous data was removed (restore-set.ts).
    const steps = logLines(svc.logs())
      .filter((l) => l.restoreId === id && ['volume replaced by the backup', 'previous data removed'].includes(l.msg as string))
      .map((l) => `${l.msg} ${l.volume}`);
    assert.deepEqual(steps.slice(0, 2).sort(), ['volume replaced by the backup elexisdb', 'volume replaced by the backup lucindadata']);
    assert.deepEqual(steps.slice(2).sort(), ['previous data removed elexisdb', 'previous data removed lucindadata']);
    // Before the first rename, one flush for both volumes: they share a file system.
    const volumeFlushes = (await fs.readFile(syncLog, 'utf8')).split('\n').filter((l) => l === `start -f ${vol('elexisdb')}` || l === `start -f ${vol('lucindadata')}`);
    assert.equal(volumeFlushes.length, 1, volumeFlushes.join(' | '));
    const order = logLines(svc.logs()).filter((l) => l.restoreId === id).map((l) => l.msg as string);
    assert.ok(order.indexOf('restored data flushed to disk') >= 0 && order.indexOf('restored data flushed to disk') < order.indexOf('volume replaced by the backup'), order.join(' | '));
  });

  for (const damage of ['corrupted', 'truncated'] as const) {
    it(`a ${damage} archive fails before the volume is touched`, async () => {
      const file = path.join(fx.backupDir, `lucindadata_${stamp}.tar.gz`);
      const good = await fs.readFile(file);
      const bad = Buffer.from(good);
      if (damage === 'corrupted') bad[Math.floor(bad.length / 2)]! ^= 0xff;
      await fs.writeFile(file, damage === 'corrupted' ? bad : bad.subarray(0, Math.floor(bad.length * 0.6)));
      await fs.writeFile(path.join(vol('lucindadata'), 'current.txt'), `current state before ${damage} restore\n`);
      const before = await snapshotTree(vol('lucindadata'));
      try {
        const result = await restoreAndWait(svc, { stamp, volumes: ['lucindadata'], skipSafetyBackup: true });
        assert.equal(result.state, 'failed');
        assert.match(result.failedReason, /verification.*nothing was changed/);
        assertSameTree(await snapshotTree(vol('lucindadata')), before);
      } finally {
        await fs.writeFile(file, good);
      }
    });
  }

  it('a failure in the middle of the swap is rolled back: the volume is as before', async () => {
    await fs.writeFile(path.join(vol('pacsdata'), 'image-after-backup.dcm'), 'new image\n');
    const before = await snapshotTree(vol('pacsdata'));
    const result = await restoreAndWait(svc, { stamp, volumes: ['pacsdata'], skipSafetyBackup: true });
    assert.equal(result.state, 'failed');
    assert.match(result.failedReason, /rolled back/);
    assertSameTree(await snapshotTree(vol('pacsdata')), before);
    assert.ok(!(await fs.readdir(vol('pacsdata'))).some((n) => n.startsWith('.oob-restore')));
  });

  it('a flush before the swap that fails changes nothing: every staging directory is dropped, the volumes are as before', async () => {
    await fs.writeFile(path.join(vol('elexisdb'), 'after-backup.txt'), 'still here after the failed restore\n');
    const before = { elexisdb: await snapshotTree(vol('elexisdb')), pacsdata: await snapshotTree(vol('pacsdata')) };
    await fs.writeFile(syncFails(), '');
    try {
      const result = await restoreAndWait(svc, { stamp, volumes: ['elexisdb', 'pacsdata'], skipSafetyBackup: true });
      assert.equal(result.state, 'failed');
      assert.match(result.failedReason, /^flushing the restored data to disk failed, nothing was changed: /);
    } finally {
      await fs.rm(syncFails(), { force: true });
    }
    for (const v of ['elexisdb', 'pacsdata'] as const) {
      assertSameTree(await snapshotTree(vol(v)), before[v]);
      assert.ok(!(await fs.readdir(vol(v))).some((n) => n.startsWith('.oob-restore')), v);
    }
  });

  it('volumes are committed side by side: one that fails is rolled back, the other stays restored, the error names both', async () => {
    await fs.writeFile(path.join(vol('pacsdata'), 'image-after-backup.dcm'), 'new image\n');
    await fs.writeFile(path.join(vol('elexisdb'), 'after-backup.txt'), 'gone after the restore\n');
    const pacsBefore = await snapshotTree(vol('pacsdata'));
    const result = await restoreAndWait(svc, { stamp, volumes: ['elexisdb', 'pacsdata'], skipSafetyBackup: true });
    assert.equal(result.state, 'failed');
    assert.match(result.failedReason, /^replacing pacsdata failed and was rolled back: .*\. Already restored: elexisdb\.$/);
    assertSameTree(await snapshotTree(vol('pacsdata')), pacsBefore);
    assertSameTree(await snapshotTree(vol('elexisdb')), await gnuTarTree(path.join(fx.backupDir, `elexisdb_${stamp}.tar.gz`)));
    for (const v of ['elexisdb', 'pacsdata']) assert.ok(!(await fs.readdir(vol(v))).some((n) => n.startsWith('.oob-restore')), v);
  });

  // That our restore of GNU tar's archives is exact is proven in exact-archives.test.ts, and that
  // such sets are listed (sha256 null) in backup-run.test.ts; here: the restore flow takes them.
  it('restores a set made by hand with GNU tar (earlier OOB versions: no checksum, no manifest); flushes every RESTORE_WRITEBACK_MIB', async () => {
    const handmade = path.join(fx.root, 'handmade');
    await makeVolume(handmade, 'handmade');
    await fs.writeFile(path.join(handmade, 'only-in-handmade.txt'), 'x');
    await fs.writeFile(path.join(handmade, 'scan.bin'), randomBytes(3 * 1024 * 1024));
    await gnuTarArchive(handmade, path.join(fx.backupDir, 'elexisdb_2024-01-01-0315.tar.gz'));
    await fs.writeFile(path.join(vol('elexisdb'), 'only-in-the-volume.txt'), 'gone after the restore\n');
    await fs.rm(syncLog, { force: true });
    const id = await confirm(svc, { stamp: '2024-01-01-0315', skipSafetyBackup: true });
    const result = await finished(svc, id);
    assert.equal(result.state, 'completed', result.failedReason);
    assert.deepEqual((await fs.readdir(vol('elexisdb'))).sort(), (await fs.readdir(handmade)).sort());
    assert.equal(await fs.readFile(path.join(vol('elexisdb'), 'readme.txt'), 'utf8'), 'volume handmade\n'.repeat(100));
    // 3 MiB extracted at 1 MiB steps: early flushes of the staging directory (the swap's own flush
    // names the volume). How many depends on the disk: none starts while one still runs. The
    // staging directory is reached through its work directory's descriptor (/proc/<pid>/fd/<n>/tree).
    const flushes = (await fs.readFile(syncLog, 'utf8')).split('\n').filter((l) => /^start -f \/proc\/\d+\/fd\/\d+\/tree$/.test(l));
    assert.ok(flushes.length >= 1, `an early flush of the staging directory: ${(await fs.readFile(syncLog, 'utf8')).trim()}`);
  });

  it('refuses a hostile archive and writes nothing outside the volume', async () => {
    // Python's tarfile writes member names verbatim, which GNU tar would refuse to create.
    const script = [
      'import io, sys, tarfile',
      't = tarfile.open(sys.argv[1], "w:gz")',
      'for name in ["./ok.txt", "../escape"]:',
      '    data = b"pwned"; ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))',
      't.close()',
    ].join('\n');
    await exec('python3', ['-c', script, path.join(fx.backupDir, 'elexisdb_2024-01-02-0315.tar.gz')]);
    const before = await snapshotTree(vol('elexisdb'));
    const result = await restoreAndWait(svc, { stamp: '2024-01-02-0315', skipSafetyBackup: true });
    assert.equal(result.state, 'failed');
    await assert.rejects(fs.stat(path.join(fx.volumesDir, 'escape')));
    await assert.rejects(fs.stat(path.join(fx.root, 'escape')));
    assertSameTree(await snapshotTree(vol('elexisdb')), before);
  });
  it('a run started before a restore replaced a volume archives nothing of it when it reaches the volume after: the restored data is not labelled with the earlier minute', async () => {
    // An audit confirmed a restore and clicked "run now" at once: the run's archive waited for the
    // restore's lock and then archived the restored data under the minute before the restore.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const key = `${fx.prefix}:oob-restored-at:lucindadata`;
    try {
      assert.ok(Number(await redis.get(key)) > 0, 'the restores above noted when they replaced lucindadata');
      // As if the restore had committed after this run was started (the window is milliseconds).
      await redis.set(key, String(Date.now() + 3_600_000));
      await fx.clock.advance(60_000);
      const before = (await fs.readdir(fx.backupDir)).sort();
      const run = await http(svc.url, 'POST', '/api/backups', { volumes: ['lucindadata'] }, TOKEN);
      assert.equal(run.status, 202, JSON.stringify(run.body));
      await waitForJobsSettled(svc.url, TOKEN);
      const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000', undefined, TOKEN)).body.jobs as any[];
      const archive = jobs.find((j) => j.queue === 'archive' && j.stamp === run.body.stamp);
      assert.equal(archive?.state, 'failed');
      assert.match(archive.failedReason, /^volume "lucindadata" was restored at \S+, after this run was started \(\S+\): its archive would hold the restored data under \S+; nothing was archived/);
      assert.equal(jobs.find((j) => j.queue === 'prune' && j.stamp === run.body.stamp)?.state, 'failed');
      assert.deepEqual((await fs.readdir(fx.backupDir)).sort().filter((n) => !n.startsWith('.')), before.filter((n) => !n.startsWith('.')), 'nothing written, nothing pruned');
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});

describe('a restore of an archive that was written with warnings', () => {
  let fx: Fixture;
  let svc: Service;
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('says in its summary what the archive left out (a FIFO), which the restored volume no longer has', async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' }, { clock: TEST_START });
    const vol = path.join(fx.volumesDir, 'pipes');
    await fs.mkdir(vol);
    await fs.writeFile(path.join(vol, 'data.txt'), 'Befund\n');
    await exec('mkfifo', [path.join(vol, 'queue')]);
    svc = await startService('start', fx.env);
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    assert.equal(run.status, 202);
    await waitForJobsSettled(svc.url, TOKEN);
    const result = await restoreAndWait(svc, { stamp: run.body.stamp, skipSafetyBackup: true });
    assert.equal(result.state, 'completed', result.failedReason);
    const [said] = result.summary.warnings as string[];
    assert.match(said ?? '', /^pipes: its archive \(pipes_[\d-]+\.tar\.gz\) was written with 1 warning\(s\): "\.\/queue": is a FIFO, .*\(EUNSUPPORTED\); what they name is not in the restored volume as it was/);
    assert.match(result.summary.message, /Warning: pipes: its archive/);
    assert.deepEqual((await fs.readdir(vol)).sort(), ['data.txt']);
  });
});

describe('a restore of a volume with a file system mounted inside it', { skip: process.geteuid?.() !== 0 && 'needs root (mount)' }, () => {
  let fx: Fixture;
  let svc: Service;
  let mounted = '';
  after(async () => {
    if (mounted) await exec('umount', [mounted]).catch(() => undefined);
    await svc?.stop();
    await fx?.cleanup();
  });

  it('is refused before any work, nothing changed (a mount point cannot be renamed); the backup holds the mount\'s files', async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' }, { clock: TEST_START });
    const vol = path.join(fx.volumesDir, 'nested');
    mounted = path.join(vol, 'inner');
    await fs.mkdir(mounted, { recursive: true });
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mounted]);
    await fs.writeFile(path.join(mounted, 'on-the-mount.txt'), 'Befund\n');
    await fs.writeFile(path.join(vol, 'top.txt'), 'oben\n');
    svc = await startService('start', fx.env);
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    assert.equal(run.status, 202);
    await waitForJobsSettled(svc.url, TOKEN);
    await fs.writeFile(path.join(vol, 'top.txt'), 'changed\n');
    const before = await snapshotTree(vol);
    const result = await restoreAndWait(svc, { stamp: run.body.stamp, skipSafetyBackup: true });
    assert.equal(result.state, 'failed');
    assert.match(result.failedReason, /^volume nested has a file system mounted inside it \(.*\/nested\/inner\): .*cannot move a mount point; .*nothing was changed$/);
    assertSameTree(await snapshotTree(vol), before);
    const { stdout } = await exec('tar', ['-tzf', path.join(fx.backupDir, `nested_${run.body.stamp}.tar.gz`)]);
    assert.match(stdout, /\.\/inner\/on-the-mount\.txt/);
  });
});

describe('restore confirmation expiry', () => {
  let fx: Fixture;
  let svc: Service;
  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', RESTORE_CONFIRM_TTL: '1' }, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'webelexisdata'), 'webelexisdata');
    await gnuTarArchive(path.join(fx.volumesDir, 'webelexisdata'), path.join(fx.backupDir, 'webelexisdata_2024-05-05-0505.tar.gz'));
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('answers 410 once the confirmation window has passed, and queues nothing', async () => {
    const r = await http(svc.url, 'POST', '/api/restores', { stamp: '2024-05-05-0505' }, TOKEN);
    assert.equal(r.status, 201);
    await fx.clock.advance(1000);
    assert.equal((await http(svc.url, 'GET', `/api/restores/${r.body.id}`, undefined, TOKEN)).body.state, 'pending', 'the last moment of the window');
    await fx.clock.advance(1);
    const c = await http(svc.url, 'POST', `/api/restores/${r.body.id}/confirm`, { token: r.body.token }, TOKEN);
    assert.equal(c.status, 410);
    assert.equal(c.body.error.code, 'expired');
    assert.equal((await http(svc.url, 'GET', `/api/restores/${r.body.id}`, undefined, TOKEN)).body.state, 'expired');
  });

});
