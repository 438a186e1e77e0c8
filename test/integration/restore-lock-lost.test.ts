/**
 * A restore that loses its volume's lock while it extracts (Redis away for the lock's TTL, or
 * another worker holding it now) stops before it swaps anything, and says so: the lost lock is the
 * reason, not the archive (an audit under heavy load read "archive … failed verification, nothing
 * was changed: … extracting aborted", which sends an admin looking for a bad backup).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { http, makeFixture, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';

const VOLUME = 'pacsdata';

describe('a restore that loses its volume lock while extracting', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  const vol = () => path.join(fx.volumesDir, VOLUME);

  before(async () => {
    fx = await makeFixture({ VOLUME_LOCK_TTL: '3' });
    await fs.mkdir(vol());
    // Random data does not compress: extracting it takes long enough to take the lock away meanwhile.
    const fh = await fs.open(path.join(vol(), 'images.bin'), 'w');
    for (let i = 0; i < 12; i++) await fh.write(randomBytes(16 * 1024 * 1024));
    await fh.close();
    // Text compresses slowly: its safety backup takes long enough to take the lock away meanwhile.
    await fs.mkdir(path.join(fx.volumesDir, 'docs'));
    const text = await fs.open(path.join(fx.volumesDir, 'docs', 'letters.txt'), 'w');
    for (let i = 0; i < 8; i++) await text.write(randomBytes(6 * 1024 * 1024).toString('base64'));
    await text.close();
    svc = await startService('start', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    await svc?.stop();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('fails naming the lost lock, not the archive; the volume is as it was', async () => {
    const run = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await waitForJobsSettled(svc.url, undefined, 120_000);
    await fs.writeFile(path.join(vol(), 'after-backup.dcm'), 'new image\n');
    const before = await snapshotTree(vol());
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: run.body.stamp, volumes: [VOLUME], skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token })).status, 202);
    await waitFor(async () => {
      const r = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return r.progress?.phase === 'extract' && r.progress.bytesDone > 0;
    }, 60_000, 'the restore to be extracting');
    // Another owner now: the next renewal finds the lock taken.
    await redis.set(`${fx.prefix}:oob-lock:volume:${VOLUME}`, 'another-worker', 'PX', 10_000);
    const r = await waitFor(async () => {
      const body = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return body.state === 'failed' || body.state === 'completed' ? body : undefined;
    }, 60_000, 'the restore to end');
    assert.equal(r.state, 'failed');
    // Seen while it extracts, or at the check before the swap when the extraction ended first.
    assert.match(r.failedReason, new RegExp(`^the restore stopped (while extracting ${VOLUME}_[\\d-]+\\.tar\\.gz|before the swap), nothing was changed: lock .*${VOLUME} lost`));
    assert.doesNotMatch(r.failedReason, /failed verification/);
    assertSameTree(before, await snapshotTree(vol()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
  });

  it('during the safety backup too: fails naming the lost lock, not the safety backup', async () => {
    // An audit read "safety backup failed, nothing was changed: … archiving … aborted", which sends
    // an admin to look at the backup disk.
    const stamp = (await http(svc.url, 'GET', '/api/backups')).body.sets[0].stamp;
    const docs = path.join(fx.volumesDir, 'docs');
    const before = await snapshotTree(docs);
    const req = await http(svc.url, 'POST', '/api/restores', { stamp, volumes: ['docs'] });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token })).status, 202);
    await waitFor(async () => {
      const r = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return r.progress?.phase === 'safety-backup' || r.state === 'failed' || r.state === 'completed';
    }, 60_000, 'the safety backup to start');
    await redis.set(`${fx.prefix}:oob-lock:volume:docs`, 'another-worker', 'PX', 10_000);
    const r = await waitFor(async () => {
      const body = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return body.state === 'failed' || body.state === 'completed' ? body : undefined;
    }, 60_000, 'the restore to end');
    assert.equal(r.state, 'failed', JSON.stringify(r));
    assert.match(r.failedReason, /^the restore stopped (during the safety backup|before the swap), nothing was changed: lock .*docs lost/);
    assertSameTree(before, await snapshotTree(docs), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
  });
});
