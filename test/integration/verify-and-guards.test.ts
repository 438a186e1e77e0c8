/**
 * Beyond the seed: every archive is verified before its volume is pruned, the listing shows the
 * outcome, a verify can be requested, and the free-space guard fails early on a full disk. (Catch-up
 * of missed runs: catch-up.test.ts.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TEST_START } from '../helpers/clock.js';
import { REDIS_URL, http, makeFixture, runNowAndSettle, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { gnuTarArchive, makeVolume } from '../helpers/volumes.js';


describe('verification', () => {
  let fx: Fixture;
  let svc: Service;
  const older = ['2024-01-01-0315', '2024-01-02-0315'];

  before(async () => {
    fx = await makeFixture({ NODE_ENV: 'test', OOB_TEST_CORRUPT_BEFORE_VERIFY: 'pacsdata' });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    for (const s of older) await gnuTarArchive(path.join(fx.volumesDir, 'pacsdata'), path.join(fx.backupDir, `pacsdata_${s}.tar.gz`));
    svc = await startService('start', fx.env);
    await http(svc.url, 'PUT', '/api/schedule', { minute: 15, hour: 3, day: '*', month: '*', weekday: '*', keep: 1 });
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('verifies each new archive before pruning; a bad new archive fails verify and prunes nothing', async () => {
    const stamp = await runNowAndSettle(svc.url);
    const set = (await http(svc.url, 'GET', `/api/backups/${stamp}`)).body;
    const byVolume = Object.fromEntries(set.archives.map((a: any) => [a.volume, a]));
    assert.equal(byVolume.elexisdb.verified.ok, true);
    assert.equal(byVolume.pacsdata.verified.ok, false);
    assert.match(byVolume.pacsdata.verified.error, /corrupt|checksum/);
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[];
    const verify = jobs.find((j) => j.name === 'verify' && j.volume === 'pacsdata');
    assert.equal(verify.state, 'failed');
    assert.equal(jobs.find((j) => j.name === 'prune' && j.volume === 'pacsdata').state, 'failed');
    const names = await fs.readdir(fx.backupDir);
    for (const s of older) assert.ok(names.includes(`pacsdata_${s}.tar.gz`), `older generation ${s} survived`);
  });

  it('a failed prune retried from the dashboard still prunes nothing: the rule is in the prune job itself', async () => {
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[];
    const prune = jobs.find((j) => j.name === 'prune' && j.volume === 'pacsdata');
    const retried = await http(svc.url, 'PUT', `/admin/queues/api/queues/prune/${encodeURIComponent(prune.id)}/retry`);
    assert.ok(retried.status >= 200 && retried.status < 300, `${retried.status} ${JSON.stringify(retried.body)}`);
    const again = await waitFor(async () => {
      const j = ((await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[]).find((x) => x.id === prune.id);
      return j?.state === 'failed' && j.attemptsMade > prune.attemptsMade ? j : undefined;
    }, 30_000, 'the retried prune');
    assert.match(again.failedReason, /not pruning pacsdata: this run's archive pacsdata_.*\.tar\.gz failed its verification .*no older archive was deleted/);
    const names = await fs.readdir(fx.backupDir);
    for (const s of older) assert.ok(names.includes(`pacsdata_${s}.tar.gz`), `older generation ${s} survived the retry`);
  });

  it("a failed run's prune whose data was edited in the dashboard to name a good run prunes nothing either", async () => {
    // An audit did this: the edited prune ran as a prune of the earlier run and deleted two
    // verified archives after the newest one had failed; the dashboard then showed BullMQ's reason.
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[];
    const prune = jobs.find((j) => j.name === 'prune' && j.volume === 'pacsdata');
    const good = jobs.find((j) => j.name === 'verify' && j.volume === 'elexisdb' && j.state === 'completed');
    const edited = await http(svc.url, 'PATCH', `/admin/queues/api/queues/prune/${encodeURIComponent(prune.id)}/update-data`, { jobData: { volume: 'elexisdb', stamp: good.stamp, kind: 'volume' } });
    assert.ok(edited.status >= 200 && edited.status < 300, `${edited.status} ${JSON.stringify(edited.body)}`);
    const before = (await fs.readdir(fx.backupDir)).sort();
    const retried = await http(svc.url, 'PUT', `/admin/queues/api/queues/prune/${encodeURIComponent(prune.id)}/retry`);
    assert.ok(retried.status >= 200 && retried.status < 300, `${retried.status} ${JSON.stringify(retried.body)}`);
    const again = await waitFor(async () => {
      const j = ((await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[]).find((x) => x.id === prune.id);
      return j?.state === 'failed' && /belongs to its own run/.test(j.failedReason ?? '') ? j : undefined;
    }, 30_000, 'the edited prune refused');
    assert.match(again.failedReason, new RegExp(`^job data refused, nothing was done: job ${prune.id} belongs to its own run, but its data names elexisdb ${good.stamp}`));
    assert.deepEqual((await fs.readdir(fx.backupDir)).sort(), before, 'nothing deleted');
  });

  it('jobs added in the dashboard with data that names files outside BACKUP_DIR are refused before anything is touched', async () => {
    // A real archive beside BACKUP_DIR, which a verify job trusting its data would read and write
    // its .verify.json beside; an archive job trusting its stamp would write `../outside-2.tar.gz`.
    await gnuTarArchive(path.join(fx.volumesDir, 'pacsdata'), path.join(fx.root, 'outside.tar.gz'));
    const before = (await fs.readdir(fx.root)).sort();
    // The dashboard refuses such data before a job exists (src/api/dashboard-input.ts); the
    // processors refuse it too, whatever added the job: added below the dashboard, through BullMQ.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const add = async (queue: string, data: object) => {
      const r = await http(svc.url, 'POST', `/admin/queues/api/queues/${queue}/add`, { name: queue, data });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'invalid_job_data');
      const q = new Queue(queue, { connection: redis, prefix: fx.prefix });
      const job = await q.add(queue, data);
      await q.close();
      return job.id!;
    };
    const ids = {
      verify: await add('verify', { volume: 'pacsdata', stamp: older[0], file: '../outside.tar.gz', kind: 'volume' }),
      archive: await add('archive', { volume: 'pacsdata', stamp: '../../outside-2', trigger: 'manual' }),
      prune: await add('prune', { volume: '../pacsdata', stamp: older[1], kind: 'volume' }),
    };
    for (const [queue, id] of Object.entries(ids)) {
      const job = await waitFor(async () => {
        const j = (await http(svc.url, 'GET', `/admin/queues/api/queues/${queue}/${id}`)).body.job;
        return j?.finishedOn ? j : undefined;
      }, 30_000, `the ${queue} job added in the dashboard`);
      assert.match(job.failedReason, /^job data refused, nothing was done: (file|stamp|volume) /, queue);
    }
    redis.disconnect();
    assert.deepEqual((await fs.readdir(fx.root)).sort(), before, 'nothing written beside BACKUP_DIR');
    for (const s of older) assert.ok((await fs.readdir(fx.backupDir)).includes(`pacsdata_${s}.tar.gz`));
  });

  it('POST /api/backups/:stamp/verify re-reads a set on request; a truncated archive is flagged in the listing', async () => {
    const file = path.join(fx.backupDir, `pacsdata_${older[0]}.tar.gz`);
    const data = await fs.readFile(file);
    await fs.writeFile(file, data.subarray(0, Math.floor(data.length * 0.6)));
    const r = await http(svc.url, 'POST', `/api/backups/${older[0]}/verify`, {});
    assert.equal(r.status, 202);
    assert.equal(r.body.jobs.length, 1);
    const listed = await waitFor(async () => {
      const set = (await http(svc.url, 'GET', `/api/backups/${older[0]}`)).body;
      return set.archives[0].verified ?? undefined;
    }, 30_000, 'the verification result');
    assert.equal(listed.ok, false);
    assert.match(listed.error, /truncated/);
    const good = await http(svc.url, 'POST', `/api/backups/${older[1]}/verify`, {});
    assert.equal(good.status, 202);
    const ok = await waitFor(async () => (await http(svc.url, 'GET', `/api/backups/${older[1]}`)).body.archives[0].verified ?? undefined, 30_000, 'verify');
    assert.equal(ok.ok, true);
    assert.equal((await http(svc.url, 'POST', '/api/backups/2001-01-01-0000/verify', {})).status, 404);
  });

  it('PUT /api/verify-schedule takes the same crontab fields, one scheduler', async () => {
    const r = await http(svc.url, 'PUT', '/api/verify-schedule', { minute: 30, hour: 4, day: '*', month: '*', weekday: '0' });
    assert.equal(r.status, 200);
    assert.equal(r.body.cron, '30 4 * * 0');
    assert.equal(r.body.nextRuns.length, 5);
    const bad = await http(svc.url, 'PUT', '/api/verify-schedule', { minute: 30, hour: 24, day: '*', month: '*', weekday: '0' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'hour');
    assert.equal((await http(svc.url, 'DELETE', '/api/verify-schedule')).body.enabled, false);
  });
});

describe('free-space guard on a small tmpfs', () => {
  let fx: Fixture;
  let svc: Service;
  let mounted = false;

  before(async () => {
    fx = await makeFixture({ SPACE_MARGIN_MB: '0' }, { clock: TEST_START });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', fx.backupDir]);
    mounted = true;
    // Random data does not compress: 5 MB cannot fit into 3 MB.
    const vol = path.join(fx.volumesDir, 'pacsdata');
    await fs.mkdir(vol);
    await fs.writeFile(path.join(vol, 'image.dcm'), (await import('node:crypto')).randomBytes(5 * 1024 * 1024));
    // The older generation (1.5 MB) makes the estimate; with it 1.5 MB are left, the estimate + 10% is more.
    await fs.writeFile(path.join(fx.backupDir, 'pacsdata_2024-01-01-0315.tar.gz'), Buffer.alloc(1536 * 1024, 1));
    svc = await startService('start', fx.env);
    await http(svc.url, 'PUT', '/api/schedule', { minute: 15, hour: 3, day: '*', month: '*', weekday: '*', keep: 1 });
  });
  after(async () => {
    await svc?.stop();
    if (mounted) execFileSync('umount', [fx.backupDir]);
    await fx?.cleanup();
  });

  it('fails early with a clear reason, prunes nothing, leaves no partial', async () => {
    assert.equal(await runNowAndSettle(svc.url), '2030-06-12-1020');
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=100')).body.jobs as any[];
    const archive = jobs.find((j) => j.name === 'archive');
    assert.equal(archive.state, 'failed');
    assert.match(archive.failedReason, /not enough free space.*pacsdata/);
    // (and the copy of the saved schedule beside the backups: src/stores/settings-mirror.ts)
    assert.deepEqual((await fs.readdir(fx.backupDir)).sort(), ['.oob-settings', 'pacsdata_2024-01-01-0315.tar.gz']);
    const ready = (await http(svc.url, 'GET', '/readyz')).body;
    assert.ok(ready.backupDirFreeBytes > 0 && ready.backupDirFreeBytes <= 3 * 1024 * 1024);
  });

  it('a write that hits ENOSPC mid-archive fails the job and leaves no partial, nothing pruned', async () => {
    // An older archive of 10 bytes makes the estimate tiny, so the guard lets the archive start.
    await fs.writeFile(path.join(fx.backupDir, 'pacsdata_2024-01-02-0315.tar.gz'), 'tiny older');
    await fx.clock.advance(60_000); // a new minute for a new set
    assert.equal(await runNowAndSettle(svc.url), '2030-06-12-1021');
    const jobs = (await http(svc.url, 'GET', '/api/jobs?state=failed&limit=100')).body.jobs as any[];
    const reasons = jobs.filter((j) => j.name === 'archive').map((j) => j.failedReason).join('\n');
    assert.match(reasons, /ENOSPC|no space/i);
    assert.deepEqual((await fs.readdir(fx.backupDir)).sort(), ['.oob-settings', 'pacsdata_2024-01-01-0315.tar.gz', 'pacsdata_2024-01-02-0315.tar.gz']);
  });
});
