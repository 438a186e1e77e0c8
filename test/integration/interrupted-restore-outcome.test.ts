/**
 * A restore of several volumes whose worker died between two volumes' commits: the recovery rolls
 * one volume back and finishes the other. The request must say both (an audit found only the first
 * volume named, "rolled back", while the other held the restored data), and the safety backup the
 * dead restore had made, which nothing would verify any more, is queued for verification.
 * The dead restore's state is made with the swap's own crash points (commitSwap's test hooks), so
 * the test does not depend on when a kill lands.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { TEST_START } from '../helpers/clock.js';
import { DB_ENV, http, makeFixture, REDIS_URL, startService, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { noteSafetyBackup } from '../../src/engine/manifest-notes.js';
import { commitSwap, SimulatedCrash } from '../../src/engine/swap/swap-volume.js';
import { workDirName } from '../../src/engine/swap/work-dir.js';
import { SQL_WORK_PREFIX } from '../../src/jobs/sql-restore-copies.js';
import { madeWorkDir } from '../helpers/work-dir.js';

const silent = pino({ level: 'silent' });

/** A confirmed restore's job, taken out of the queue before any worker runs it: what a worker that took it and died leaves, less the stall. */
async function removeQueuedRestore(prefix: string, jobId: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('restore', { connection: redis, prefix });
  try {
    await queue.remove(jobId);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

describe('an interrupted restore of two volumes: rolled back on one, finished on the other', () => {
  let fx: Fixture;
  let svc: Service;
  let worker: Service | undefined;
  let id: string;
  let safetyStamp: string;
  const vol = (v: string) => path.join(fx.volumesDir, v);

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    for (const v of ['docs', 'elexisdb']) {
      await fs.mkdir(vol(v));
      await fs.writeFile(path.join(vol(v), 'current.txt'), `${v} as it is now\n`);
    }
    [svc, worker] = await startServices(['api', fx.env], ['worker', fx.env]);
    const run = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await waitForJobsSettled(svc.url, undefined);
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: run.body.stamp });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    id = req.body.id;
    // The safety backup the restore made before it died: a run's archives, noted as its, never verified.
    await fx.clock.advance(60_000);
    const safety = await http(svc.url, 'POST', '/api/backups', {});
    await waitForJobsSettled(svc.url, undefined);
    safetyStamp = safety.body.stamp;
    for (const v of ['docs', 'elexisdb']) {
      const file = `${v}_${safetyStamp}.tar.gz`;
      await noteSafetyBackup(fx.backupDir, file, id);
      await fs.rm(path.join(fx.backupDir, `${file}.verify.json`));
    }
    // Confirmed, its job taken by a worker that then died: here the job is removed before any worker runs it.
    await worker.stop();
    const conf = await http(svc.url, 'POST', `/api/restores/${id}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    await removeQueuedRestore(fx.prefix, conf.body.jobId);
    // Its swap: docs died after moving one entry out (uncommitted), elexisdb after its commit marker.
    for (const [v, crash] of [['docs', 1], ['elexisdb', 'marker']] as const) {
      const tree = await madeWorkDir(vol(v), id);
      await fs.mkdir(tree);
      await fs.writeFile(path.join(tree, 'restored.txt'), `${v} from the backup\n`);
      await assert.rejects(commitSwap(vol(v), { id, logger: silent, crashAfterRenames: crash }), SimulatedCrash);
    }
    worker = await startService('worker', fx.env);
  });
  after(async () => {
    await Promise.all([svc?.stop(), worker?.stop()]);
    await fx?.cleanup();
  });

  it('recovers each volume as its swap left it: docs as before, elexisdb restored, no work directory left', async () => {
    await waitFor(async () => {
      const names = await Promise.all(['docs', 'elexisdb'].map((v) => fs.readdir(vol(v))));
      return names.every((n) => !n.includes(workDirName(id)));
    }, 30_000, 'the recovery of both volumes');
    assert.deepEqual(await fs.readdir(vol('docs')), ['current.txt']);
    assert.deepEqual(await fs.readdir(vol('elexisdb')), ['restored.txt']);
  });

  it('the request names what the recovery did to each volume, not only the first', async () => {
    const r = await waitFor(async () => {
      const body = (await http(svc.url, 'GET', `/api/restores/${id}`)).body;
      return /elexisdb/.test(body.failedReason ?? '') ? body : undefined;
    }, 30_000, 'both volumes in the outcome');
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason, new RegExp(`^the restore was interrupted \\(its worker stopped or lost Redis\\); docs: restore ${id}: rolled back an interrupted swap .*; elexisdb: restore ${id}: the swap had completed`));
  });

  it('its safety backup, which the dead restore never queued, is verified', async () => {
    await waitFor(async () => {
      const archives = (await http(svc.url, 'GET', `/api/backups/${safetyStamp}`)).body.archives as { verified: { ok: boolean } | null }[];
      return archives.length === 2 && archives.every((a) => a.verified?.ok === true);
    }, 30_000, 'the safety backup verified');
    // Once per archive, not once per volume the dead restore was found in: the run's own two verify jobs and two more.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('verify', { connection: redis, prefix: fx.prefix });
    try {
      const jobs = await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
      assert.equal(jobs.filter((j) => j.data?.stamp === safetyStamp).length, 4);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});

describe('an interrupted SQL restore: the request says whether the load had begun, and where the database before it is', () => {
  let fx: Fixture;
  let api: Service;
  let worker: Service | undefined;
  const DB = `oob_interrupted_${Math.random().toString(16).slice(2, 10)}`;

  /** A confirmed SQL restore whose job a worker took and died in (here: removed before any worker runs it). */
  async function confirmedSqlRestore(): Promise<string> {
    const res = await fetch(`${api.url}/api/restores/sql?skipSafetyBackup=true`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'CREATE TABLE t (id INT);\n' });
    const req = (await res.json()) as { id: string; token: string };
    assert.equal(res.status, 201, JSON.stringify(req));
    const conf = await http(api.url, 'POST', `/api/restores/${req.id}/confirm`, { token: req.token });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    await removeQueuedRestore(fx.prefix, conf.body.jobId);
    return req.id;
  }

  before(async () => {
    fx = await makeFixture({ ...DB_ENV, DB_NAME: DB, MAINTENANCE_INTERVAL: '1' });
    api = await startService('api', fx.env);
  });
  after(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await fx?.cleanup();
  });

  it('cut off in the load: the database may hold part of the file, the safety dump is named; before it: nothing was changed', async () => {
    const loading = await confirmedSqlRestore();
    const checking = await confirmedSqlRestore();
    // The private directories the dead restores left, with what each had got to.
    for (const [id, phase] of [[loading, 'load'], [checking, 'check']] as const) {
      const dir = await fs.mkdtemp(path.join(fx.backupDir, SQL_WORK_PREFIX));
      await fs.writeFile(path.join(dir, 'checked.sql'), 'CREATE TABLE t (id INT);\n');
      await fs.writeFile(path.join(dir, 'restore.json'), JSON.stringify({ id, database: DB, phase, safetyDump: phase === 'load' ? `elexisdb-sql_2030-06-12-1020.sql.gz` : null }));
    }
    worker = await startService('worker', fx.env);
    const outcome = (id: string) => waitFor(async () => {
      const body = (await http(api.url, 'GET', `/api/restores/${id}`)).body;
      return body.failedReason ? body : undefined;
    }, 30_000, 'the recorded outcome');
    const cut = await outcome(loading);
    assert.equal(cut.state, 'failed');
    assert.equal(cut.failedReason, `the restore was interrupted (its worker stopped or lost Redis); database ${DB}: the load of the SQL file was cut off, so the database may hold only part of it; restore again (the database before the restore is in elexisdb-sql_2030-06-12-1020.sql.gz)`);
    assert.equal((await outcome(checking)).failedReason, `the restore was interrupted (its worker stopped or lost Redis); database ${DB}: before the database was changed`);
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.startsWith(SQL_WORK_PREFIX)), [], 'the private copies are gone');
  });
});
