/**
 * A worker killed with -9 in the middle of an archive: stalled-job detection hands the job to the
 * other worker, which removes the dead attempt's .partial, writes the archive once, and the prune
 * after it runs once. Short lock timings keep the test fast; production uses the defaults.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, REDIS_URL, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec, gnuTarArchive } from '../helpers/volumes.js';

const VOLUME = 'elexisdb';
const OLD = ['2024-01-01-0315', '2024-01-02-0315'].map((s) => `${VOLUME}_${s}.tar.gz`);

/** `bytes` of random data in 16 MiB chunks (random data does not compress, so gzip takes its time). */
async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const fh = await fs.open(file, 'w');
  try {
    const chunk = 16 * 1024 * 1024;
    for (let done = 0; done < bytes; done += chunk) await fh.write(randomBytes(Math.min(chunk, bytes - done)));
  } finally {
    await fh.close();
  }
}

describe('crash recovery: kill -9 of a worker mid-archive', () => {
  let fx: Fixture;
  let api: Service;
  let workers: Service[] = [];
  let victim: Service;
  let survivor: Service;
  let stamp: string;
  let archiveJobId: string;
  let file: string;
  let partialSeenAfterKill: boolean;
  let recoveredInMs: number;
  let settled: { id: string; queue: string; state: string; result: any; attemptsMade: number }[];
  let redis: Redis;

  before(async () => {
    // One sequential gzip stream over random data (~30 MB/s): slow enough to kill mid-way. The lock
    // is short so that the killed attempt is taken over soon, but not so short that the survivor's
    // own renewal (every LOCK_DURATION / 2) can miss it when another test file loads both cores:
    // with 2 s its attempt was once taken for stalled too and started a second time.
    fx = await makeFixture({ LOCK_DURATION: '4', STALLED_INTERVAL: '1', VOLUME_LOCK_TTL: '5', WORKER_CONCURRENCY: '1', GZIP_PARALLEL: 'false' });
    const dir = path.join(fx.volumesDir, VOLUME);
    await fs.mkdir(dir);
    await writeRandomFile(path.join(dir, 'ibdata1'), 160 * 1024 * 1024);
    await fs.writeFile(path.join(dir, 'my.cnf'), '[mysqld]\n');
    // Two older generations; with keep=2 only the newer of them stays after this run.
    const old = path.join(fx.root, 'old-source');
    await fs.mkdir(old);
    await fs.writeFile(path.join(old, 'old.txt'), 'old generation\n');
    for (const f of OLD) await gnuTarArchive(old, path.join(fx.backupDir, f));

    [api, ...workers] = await startServices(['api', fx.env], ['worker', fx.env], ['worker', fx.env]);
    const put = await http(api.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 2 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

    const r = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    stamp = r.body.stamp;
    archiveJobId = r.body.jobs[0].archiveJobId;
    file = `${VOLUME}_${stamp}.tar.gz`;

    await waitFor(
      async () => {
        const j = await http(api.url, 'GET', `/api/jobs/${archiveJobId}`);
        return j.body.state === 'active' && j.body.progress?.bytesDone > 0 ? j.body : undefined;
      },
      30_000,
      'the archive to make progress',
    );
    const owners = workers.filter((w) => logLines(w.logs(), 'archive started').some((l) => l.volume === VOLUME));
    assert.equal(owners.length, 1, 'exactly one worker started the archive');
    victim = owners[0]!;
    survivor = workers.find((w) => w !== victim)!;
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    partialSeenAfterKill = (await fs.readdir(fx.backupDir)).includes(`${file}.partial`);

    settled = await waitForJobsSettled(api.url, undefined, 90_000);
    recoveredInMs = Date.now() - killedAt;
  });
  after(async () => {
    if (process.env.OOB_TEST_DUMP_LOGS) {
      for (const [i, s] of [api, ...workers].entries()) await fs.writeFile(`${process.env.OOB_TEST_DUMP_LOGS}.${i}`, s?.logs() ?? '');
    }
    await Promise.all([api, ...workers].map((s) => s?.stop('SIGKILL')));
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('the killed attempt left a .partial behind (it could not clean up)', () => {
    assert.ok(partialSeenAfterKill);
  });

  it('the other worker completes the job; every job of the run completed', () => {
    const bad = settled.filter((j) => j.state !== 'completed');
    assert.deepEqual(bad, [], JSON.stringify(bad));
    const restarted = logLines(survivor.logs(), 'archive started').filter((l) => l.volume === VOLUME);
    assert.equal(restarted.length, 1);
    assert.equal(restarted[0]!.pid, survivor.proc.pid);
    const finished = [victim, survivor].flatMap((w) => logLines(w.logs(), 'archive finished'));
    assert.equal(finished.length, 1);
    assert.equal(finished[0]!.pid, survivor.proc.pid);
    // LOCK_DURATION 4 s + STALLED_INTERVAL 1 s + one archive of 160 MiB; generous for slow machines.
    assert.ok(recoveredInMs < 60_000, `recovered in ${recoveredInMs} ms`);
  });

  it('writes one complete archive: sha256sum -c and GNU tar accept it, no .partial is left', async () => {
    const names = await fs.readdir(fx.backupDir);
    assert.deepEqual(names.filter((n) => n.includes('.partial')), []);
    assert.equal(names.filter((n) => n.startsWith(`${VOLUME}_${stamp}`) && n.endsWith('.tar.gz')).length, 1);
    const { stdout } = await exec('sha256sum', ['-c', `${file}.sha256`], { cwd: fx.backupDir });
    assert.match(stdout, /: OK$/m);
    const { stdout: list } = await exec('tar', ['-tvzf', path.join(fx.backupDir, file)]);
    assert.match(list, / \.\/ibdata1$/m);
    assert.match(list, / 167772160 .* \.\/ibdata1$/m);
  });

  it('prunes once: the newest old generation and the new archive remain', async () => {
    const archives = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(archives, [OLD[1], file]);
    const prunes = [victim, survivor].flatMap((w) => logLines(w.logs(), 'prune finished'));
    assert.equal(prunes.length, 1);
    const prune = settled.find((j) => j.queue === 'prune');
    assert.deepEqual(prune?.result?.removed, [OLD[0]]);
  });

  it('shows the stall in the job history: one completed attempt, started twice, stalled once', async () => {
    const view = await http(api.url, 'GET', `/api/jobs/${archiveJobId}`);
    assert.equal(view.body.state, 'completed');
    assert.equal(view.body.attemptsMade, 1);
    const queue = new Queue('archive', { connection: redis, prefix: fx.prefix });
    try {
      const job = await queue.getJob(archiveJobId);
      assert.ok(job);
      assert.equal(job.stalledCounter, 1);
      // Started again after the stall, plus once per "volume busy" wait for the dead attempt's lock.
      assert.ok(job.attemptsStarted >= 2, `attemptsStarted ${job.attemptsStarted}`);
      assert.equal(job.attemptsMade, 1);
    } finally {
      await queue.close();
    }
    assert.ok(
      logLines(survivor.logs(), 'job stalled (its worker died or lost Redis); moved back to waiting').some((l) => l.jobId === archiveJobId),
      'the survivor logged the stall',
    );
  });
});
