/**
 * A backup run end to end: HTTP "run now" against the real all-in-one process, real Redis, real
 * files; GNU tar and sha256sum are the independent readers of what we wrote.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec, gnuTarArchive, makeVolume } from '../helpers/volumes.js';

describe('backup run over three volumes', () => {
  let fx: Fixture;
  let svc: Service;
  let run: { stamp: string; jobs: { volume: string; file: string; archiveJobId: string }[] };
  const volumes = ['elexisdb', 'lucindadata', 'pacsdata'];

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    for (const v of volumes) await makeVolume(path.join(fx.volumesDir, v), v);
    // A directory whose name is no volume name is not backed up (and never joins a path).
    await fs.mkdir(path.join(fx.volumesDir, 'Not A Volume'));
    svc = await startService('start', fx.env);
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    run = r.body;
    await waitForJobsSettled(svc.url, undefined);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('answers 202 with one archive job per volume, all with the run stamp: the current minute', () => {
    assert.equal(run.stamp, '2030-06-12-1020');
    assert.equal(run.stamp, fx.clock.stamp());
    assert.deepEqual(run.jobs.map((j) => j.volume), volumes);
    for (const j of run.jobs) assert.equal(j.file, `${j.volume}_${run.stamp}.tar.gz`);
  });

  it('refuses a second run for the same minute with 409', async () => {
    await fx.clock.advance(29_000); // 10:20:59, the last second of the set's minute
    const r = await http(svc.url, 'POST', '/api/backups', { volumes: ['pacsdata'] });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'run_exists');
    assert.deepEqual((await http(svc.url, 'GET', '/api/backups')).body.sets.map((s: any) => s.stamp), [run.stamp], 'no second set');
  });

  it('writes three archives with sidecars (checksum, manifest, entry index, verification) and no partial file', async () => {
    const names = (await fs.readdir(fx.backupDir)).sort();
    const expected = volumes.flatMap((v) => {
      const f = `${v}_${run.stamp}.tar.gz`;
      return [f, `${f}.entries.gz`, `${f}.manifest.json`, `${f}.sha256`, `${f}.verify.json`];
    });
    assert.deepEqual(names, expected.sort());
  });

  it('passes sha256sum -c for every archive', async () => {
    for (const v of volumes) {
      const { stdout } = await exec('sha256sum', ['-c', `${v}_${run.stamp}.tar.gz.sha256`], { cwd: fx.backupDir });
      assert.match(stdout, /: OK$/m);
    }
  });

  it("each volume's archive holds that volume (GNU tar reads its readme back)", async () => {
    // That GNU tar restores our archives exactly is proven once, in exact-archives.test.ts.
    for (const v of volumes) {
      const { stdout } = await exec('tar', ['-xzOf', path.join(fx.backupDir, `${v}_${run.stamp}.tar.gz`), './readme.txt']);
      assert.equal(stdout, await fs.readFile(path.join(fx.volumesDir, v, 'readme.txt'), 'utf8'));
      assert.match(stdout, new RegExp(`^volume ${v}\n`));
    }
  });

  it('lists the set via the API, newest first, with size and checksum', async () => {
    const list = await http(svc.url, 'GET', '/api/backups');
    assert.equal(list.status, 200);
    const set = list.body.sets[0];
    assert.equal(set.stamp, run.stamp);
    assert.deepEqual(set.archives.map((a: { volume: string }) => a.volume), volumes);
    for (const a of set.archives) {
      const { size } = await fs.stat(path.join(fx.backupDir, a.file));
      assert.equal(a.size, size);
      assert.match(a.sha256, /^[0-9a-f]{64}$/);
    }
    const one = await http(svc.url, 'GET', `/api/backups/${run.stamp}`);
    assert.deepEqual(one.body, set);
  });

  it('shows the archive jobs as completed with progress', async () => {
    const job = await http(svc.url, 'GET', `/api/jobs/${run.jobs[0]!.archiveJobId}`);
    assert.equal(job.status, 200);
    assert.equal(job.body.state, 'completed');
    assert.equal(job.body.volume, 'elexisdb');
    assert.equal(job.body.stamp, run.stamp);
    assert.equal(job.body.progress.bytesDone, job.body.progress.bytesTotal);
    assert.ok(job.body.progress.bytesTotal > 200_000);
  });

  it('archives first: no verify of the run starts before its last archive finished (src/jobs/archives-first.ts)', async () => {
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as { queue: string; stamp: string; startedAt: string; finishedAt: string }[];
    const ofRun = jobs.filter((j) => j.stamp === run.stamp);
    const archives = ofRun.filter((j) => j.queue === 'archive');
    const verifies = ofRun.filter((j) => j.queue === 'verify');
    assert.equal(archives.length, 3);
    assert.equal(verifies.length, 3);
    // The jobs' own times cannot tell: a verify's startedAt is when a worker took it, which can be
    // a few ms before the last archive's finishedAt is recorded, although the verify then saw that
    // archive finished and went on. The logs say when the work itself happened: each archive's
    // "archive finished" (written before its job is marked completed) and each verify's "verify
    // started" (written once it no longer waits).
    const times = (msg: string) => logLines(svc.logs(), msg).filter((l) => l.stamp === run.stamp).map((l) => Date.parse(String(l.time)));
    const finished = times('archive finished');
    const started = times('verify started');
    assert.equal(finished.length, 3);
    assert.equal(started.length, 3);
    const lastArchive = Math.max(...finished);
    for (const t of started) assert.ok(t >= lastArchive, `a verify started at ${new Date(t).toISOString()}, before the last archive finished at ${new Date(lastArchive).toISOString()}`);
  });

  it('the worker gives the memory its archive and verify jobs freed back after each (releaseFreedMemory)', async () => {
    const ids = new Set([...run.jobs.map((j) => j.archiveJobId), ...(await http(svc.url, 'GET', '/api/jobs?queue=verify&limit=100')).body.jobs.map((j: { id: string }) => j.id)]);
    assert.equal(ids.size, 6);
    // Logged once the job's "completed" event has been handled, a moment after the job shows completed.
    const released = await waitFor(() => {
      const lines = logLines(svc.logs(), 'freed memory given back after the job').filter((l) => ids.has(String(l.jobId)));
      return lines.length === ids.size ? lines : undefined;
    }, 10_000, 'a release after each of the six jobs');
    // trimmed is a boolean where glibc's malloc_trim ran (the binding is built, as CI requires);
    // the RSS figures are not compared: another job may allocate while one is released.
    for (const l of released) assert.ok(typeof l.trimmed === 'boolean' && Number(l.rssAfterMiB) > 0, JSON.stringify(l));
  });
});

describe('retention and failures', () => {
  let fx: Fixture;
  let svc: Service;
  let emptyVolume: string;

  before(async () => {
    fx = await makeFixture({ VOLUMES: '' }, { clock: TEST_START });
    emptyVolume = path.join(fx.root, 'source-for-old-archives');
    await fs.mkdir(emptyVolume);
    await fs.writeFile(path.join(emptyVolume, 'old.txt'), 'old generation\n');
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    // Three older generations of each volume, made by GNU tar like earlier OOB versions did.
    for (const v of ['elexisdb', 'pacsdata', 'lucindadata']) {
      for (const stamp of ['2024-01-01-0315', '2024-01-02-0315', '2024-01-03-0315']) {
        await gnuTarArchive(emptyVolume, path.join(fx.backupDir, `${v}_${stamp}.tar.gz`));
      }
    }
    await fs.writeFile(path.join(fx.backupDir, 'notes-of-the-admin.txt'), 'do not delete\n');
    await fs.writeFile(path.join(fx.backupDir, 'elexisdb_2023-12-31-0315.tar.gz.partial'), 'half an archive');
    await fs.writeFile(path.join(fx.backupDir, 'elexisdb_2023-12-30-0315.tar.gz.sha256'), 'orphaned sidecar');
    const env: Record<string, string> = { ...fx.env, VOLUMES_DIR: '' };
    env.VOLUMES = [
      `elexisdb=${path.join(fx.volumesDir, 'elexisdb')}`,
      `pacsdata=${path.join(fx.volumesDir, 'pacsdata')}`,
      // Configured but gone (a disk not mounted): its archive must fail, its old generations stay.
      `lucindadata=${path.join(fx.volumesDir, 'lucindadata')}`,
    ].join(',');
    svc = await startService('start', env);
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: 15, hour: 3, day: '*', month: '*', weekday: '*', keep: 2 });
    assert.equal(put.status, 200);
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitForJobsSettled(svc.url, undefined);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('keeps exactly the 2 newest archives of a volume that succeeded, with their sidecars', async () => {
    const names = await fs.readdir(fx.backupDir);
    for (const v of ['elexisdb', 'pacsdata']) {
      const archives = names.filter((n) => n.startsWith(`${v}_`) && n.endsWith('.tar.gz')).sort();
      assert.equal(archives.length, 2, archives.join());
      assert.equal(archives[0], `${v}_2024-01-03-0315.tar.gz`);
      assert.ok(names.includes(`${archives[1]}.sha256`));
    }
  });

  it('leaves unrelated files alone and removes leftovers of dead jobs', async () => {
    const names = await fs.readdir(fx.backupDir);
    assert.ok(names.includes('notes-of-the-admin.txt'));
    assert.equal(await fs.readFile(path.join(fx.backupDir, 'notes-of-the-admin.txt'), 'utf8'), 'do not delete\n');
    assert.ok(!names.some((n) => n.endsWith('.partial')), names.join());
    assert.ok(!names.includes('elexisdb_2023-12-30-0315.tar.gz.sha256'));
  });

  it('fails the archive of a missing volume with a readable reason and prunes none of its generations', async () => {
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[];
    const archive = jobs.find((j) => j.name === 'archive' && j.volume === 'lucindadata');
    assert.equal(archive.state, 'failed');
    assert.match(archive.failedReason, /lucindadata.*does not exist/);
    const prune = jobs.find((j) => j.name === 'prune' && j.volume === 'lucindadata');
    assert.equal(prune.state, 'failed');
    const names = (await fs.readdir(fx.backupDir)).filter((n) => n.startsWith('lucindadata_'));
    assert.deepEqual(names.sort(), ['lucindadata_2024-01-01-0315.tar.gz', 'lucindadata_2024-01-02-0315.tar.gz', 'lucindadata_2024-01-03-0315.tar.gz']);
  });

  it('lists hand-made archives without sidecars too, sha256 null', async () => {
    const set = (await http(svc.url, 'GET', '/api/backups/2024-01-01-0315')).body;
    assert.deepEqual(set.archives.map((a: any) => [a.volume, a.sha256]), [['lucindadata', null]]);
  });
});
