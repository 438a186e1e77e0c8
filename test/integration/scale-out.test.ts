/**
 * Horizontal workers: one API process that runs no jobs and two worker processes (one job at a time
 * each) against one Redis. A run over four volumes is spread over both workers, and every archive
 * is made exactly once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, startServices, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

describe('scale-out: one API, two workers', () => {
  const volumes = ['elexisdb', 'lucindadata', 'pacsdata', 'webelexisdata'];
  let fx: Fixture;
  let api: Service;
  let workers: Service[] = [];
  let run: { stamp: string; jobs: { volume: string; file: string; archiveJobId: string }[] };
  let jobs: { id: string; queue: string; state: string; volume: string | null }[];

  before(async () => {
    // One sequential gzip stream: random data then takes a noticeable moment (parallel mode stores it).
    fx = await makeFixture({ WORKER_CONCURRENCY: '1', GZIP_PARALLEL: 'false' });
    for (const v of volumes) {
      const dir = path.join(fx.volumesDir, v);
      await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
      // Random data does not compress: each archive takes a noticeable moment.
      await fs.writeFile(path.join(dir, 'sub/big.bin'), randomBytes(24 * 1024 * 1024));
      await fs.writeFile(path.join(dir, 'small.txt'), `volume ${v}\n`);
    }
    [api, ...workers] = await startServices(['api', fx.env], ['worker', fx.env], ['worker', fx.env]);
    const r = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    run = r.body;
    jobs = await waitForJobsSettled(api.url, undefined, 90_000);
  });
  after(async () => {
    await Promise.all([api, ...workers].map((s) => s?.stop()));
    await fx?.cleanup();
  });

  it('completes every job', () => {
    const bad = jobs.filter((j) => j.state !== 'completed');
    assert.deepEqual(bad, [], JSON.stringify(bad));
    assert.equal(jobs.filter((j) => j.queue === 'archive').length, volumes.length);
  });

  it('writes each archive once, with a checksum sha256sum accepts', async () => {
    const names = await fs.readdir(fx.backupDir);
    assert.deepEqual(names.filter((n) => n.endsWith('.partial')), []);
    for (const v of volumes) {
      const file = `${v}_${run.stamp}.tar.gz`;
      assert.equal(names.filter((n) => n === file).length, 1, `${file} in ${names}`);
      const { stdout } = await exec('sha256sum', ['-c', `${file}.sha256`], { cwd: fx.backupDir });
      assert.match(stdout, /: OK$/m);
      const { stdout: list } = await exec('tar', ['-tzf', path.join(fx.backupDir, file)]);
      assert.match(list, /^\.\/sub\/big\.bin$/m);
    }
  });

  it('spreads the archives over both workers', () => {
    const started = workers.flatMap((w) => logLines(w.logs(), 'archive started'));
    const pids = new Set(started.map((l) => l.pid));
    assert.equal(pids.size, 2, `archive started by pids ${[...pids]}: ${JSON.stringify(started.map((l) => [l.pid, l.volume]))}`);
    for (const w of workers) assert.ok(pids.has(w.proc.pid), `worker ${w.proc.pid} archived nothing`);
    assert.equal(logLines(api.logs(), 'archive started').length, 0, 'the API process ran an archive');
  });

  it('runs every thread of a worker at WORKER_NICE (default 10), the API at normal priority', async () => {
    /** nice of each thread: field 19 of /proc/<pid>/task/<tid>/stat, counted after the command in parentheses. */
    const niceness = async (pid: number) => {
      const tids = await fs.readdir(`/proc/${pid}/task`);
      const stats = await Promise.all(tids.map((t) => fs.readFile(`/proc/${pid}/task/${t}/stat`, 'utf8').catch(() => '')));
      return stats.filter(Boolean).map((st) => Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16]));
    };
    for (const w of workers) {
      const nice = await niceness(w.proc.pid!);
      // main thread, V8's platform threads, libuv's pool (started by the archives) and more
      assert.ok(nice.length >= 8, `only ${nice.length} threads`);
      assert.deepEqual([...new Set(nice)], [Math.max(10, os.getPriority())], `worker ${w.proc.pid}: ${nice}`);
    }
    // The API inherits ours (0 unless the tests themselves run niced).
    assert.deepEqual([...new Set(await niceness(api.proc.pid!))], [os.getPriority()]);
  });

  it('archives no volume twice', () => {
    const finished = workers.flatMap((w) => logLines(w.logs(), 'archive finished'));
    const perVolume = Object.fromEntries(volumes.map((v) => [v, finished.filter((l) => l.volume === v).length]));
    assert.deepEqual(perVolume, Object.fromEntries(volumes.map((v) => [v, 1])));
    const started = workers.flatMap((w) => logLines(w.logs(), 'archive started'));
    assert.equal(started.length, volumes.length);
  });

  it('the jobs answer counts the workers connected now: 2, then 0 when they are gone (the main screen then says so)', async () => {
    assert.equal((await http(api.url, 'GET', '/api/jobs?limit=1')).body.workers, 2);
    await workers[0]!.stop('SIGKILL');
    await workers[1]!.stop();
    const answer = (await http(api.url, 'GET', '/api/jobs?limit=1')).body;
    assert.equal(answer.workers, 0, JSON.stringify(answer));
  });
});
