/**
 * A worker killed with -9 in the middle of a restore: the restore is not run again by another
 * worker (maxStalledCount 0 for the restore queue; BullMQ fails it), and the next worker, started
 * while the dead one's locks still hold, recovers the volume as soon as they expire: the staging
 * directory goes, the data is what it was before the restore, and the request says what happened.
 * Short lock timings keep the test fast; production uses the defaults.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, REDIS_URL, startService, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type TreeEntry } from '../helpers/tree.js';

const VOLUME = 'pacsdata';

describe('restore: kill -9 of its worker mid-extraction', () => {
  let fx: Fixture;
  let api: Service;
  let victim: Service;
  let next: Service;
  let redis: Redis;
  let restoreId: string;
  let jobId: string;
  let beforeRestore: Map<string, TreeEntry>;
  const vol = () => path.join(fx.volumesDir, VOLUME);

  before(async () => {
    fx = await makeFixture({ LOCK_DURATION: '2', STALLED_INTERVAL: '1', VOLUME_LOCK_TTL: '3', MAINTENANCE_INTERVAL: '1' });
    await fs.mkdir(vol());
    // Random data does not compress: verifying and extracting it takes a few seconds.
    const fh = await fs.open(path.join(vol(), 'images.bin'), 'w');
    for (let i = 0; i < 12; i++) await fh.write(randomBytes(16 * 1024 * 1024));
    await fh.close();
    [api, victim] = await startServices(['api', fx.env], ['worker', fx.env]);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const run = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await waitForJobsSettled(api.url, undefined, 120_000);

    await fs.writeFile(path.join(vol(), 'image-after-backup.dcm'), 'new image\n');
    beforeRestore = await snapshotTree(vol());
    const req = await http(api.url, 'POST', '/api/restores', { stamp: run.body.stamp, skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    restoreId = req.body.id;
    const conf = await http(api.url, 'POST', `/api/restores/${restoreId}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 202);
    jobId = conf.body.jobId;
    await waitFor(async () => {
      const r = (await http(api.url, 'GET', `/api/restores/${restoreId}`)).body;
      return r.progress?.phase === 'extract' && r.progress.bytesDone > 0;
    }, 60_000, 'the restore to be extracting');
    await victim.stop('SIGKILL');
    assert.ok((await fs.readdir(vol())).some((n) => n.startsWith('.oob-restore-')), 'the killed restore left its staging directory');
    // The next worker starts while the dead restore's hold and lock are still valid (3 s).
    next = await startService('worker', fx.env);
  });
  after(async () => {
    await Promise.all([api, victim, next].map((s) => s?.stop('SIGKILL')));
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('fails the stalled restore instead of running it again', async () => {
    const queue = new Queue('restore', { connection: redis, prefix: fx.prefix });
    try {
      const job = await waitFor(async () => {
        const j = await queue.getJob(jobId);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      }, 30_000, 'the stalled restore to fail');
      assert.match(job.failedReason, /stalled/);
    } finally {
      await queue.close();
    }
    assert.equal(logLines(next.logs(), 'restore started').length, 0, 'the next worker did not run the restore again');
  });

  it('rolls the volume back once the dead restore\'s locks expire: the data is as before, no staging left', async () => {
    await waitFor(async () => !(await fs.readdir(vol())).some((n) => n.startsWith('.oob-restore-')), 30_000, 'the recovery');
    // Creating the staging directory changed the root's mtime; everything inside is as before.
    assertSameTree(beforeRestore, await snapshotTree(vol()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    assert.ok(logLines(next.logs(), 'recovered interrupted restore').length >= 1);
  });

  it('the request tells that the restore was interrupted', async () => {
    const r = (await http(api.url, 'GET', `/api/restores/${restoreId}`)).body;
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason, /interrupted/);
    assert.ok(r.startedAt);
  });
});
