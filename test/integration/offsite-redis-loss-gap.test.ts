/**
 * Redis loses its data while the copy of an archive waits for its retry (hours of backoff), and the
 * next night's copy to the same target already got through: the archive is older than the
 * target's newest copy of its volume, but newer than a copy the target's retention keeps there, so
 * the retention did not remove it. Its copy must be made again after the loss.
 *
 * Before the fix (found in the thirteenth review): the rebuild took every archive older than the
 * target's newest copy for one the target's retention removed; the archive got no copy job and no
 * expectation, and the next prune deleted it locally: it existed nowhere off-site.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { TEST_START } from '../helpers/clock.js';
import { rcloneConfig, startWebdavServer, type TestRemote } from '../helpers/offsite-servers.js';
import { http, makeFixture, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { ThrowawayRedis } from '../helpers/throwaway-redis.js';
import { makeVolume } from '../helpers/volumes.js';

const VOLUME = 'lucindadata';
const fileOf = (stamp: string) => `${VOLUME}_${stamp}.tar.gz`;

describe('off-site copies after Redis lost its data: a copy retrying behind a newer one', () => {
  let fx: Fixture;
  let redis: ThrowawayRedis;
  let dav: TestRemote;
  let api: Service;
  let worker: Service;
  let davDir = '';
  const stamps: string[] = [];
  const listing = async () => (await http(api.url, 'GET', '/api/backups')).body.sets as { stamp: string; remote?: boolean; archives: { file: string; copies: unknown[] }[] }[];
  const copiesOf = async (stamp: string) => (await listing()).find((s) => s.stamp === stamp && !s.remote)?.archives[0]?.copies ?? [];
  const runNow = async () => {
    await fx.clock.advance(60_000);
    const r = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    stamps.push(r.body.stamp as string);
    return r.body.stamp as string;
  };

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    redis = await ThrowawayRedis.start(path.join(fx.root, 'redis'));
    dav = await startWebdavServer(path.join(fx.root, 'dav'));
    davDir = path.join(dav.dir, 'oob');
    const config = await rcloneConfig(path.join(fx.root, 'rclone.conf'), [dav]);
    await makeVolume(path.join(fx.volumesDir, VOLUME), VOLUME);
    const env = {
      ...fx.env,
      REDIS_URL: redis.url,
      OFFSITE_TARGETS: `${dav.name}:oob`,
      RCLONE_CONFIG: config,
      OFFSITE_RETENTION: 'keep:3',
      OFFSITE_COPY_ATTEMPTS: '3',
      OFFSITE_RETRY_DELAY: '3600',
      MAINTENANCE_INTERVAL: '1',
    };
    [api, worker] = await startServices(['api', env], ['worker', env]);
    const put = await http(api.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 3 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });

  after(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await Promise.all([dav?.stop(), redis?.stop()]);
    await fx?.cleanup();
  });

  it('the copy that waited for its retry behind a newer copy is made after the loss, and prune keeps the archive until then', async () => {
    await runNow();
    await waitForJobsSettled(api.url, undefined);
    assert.equal((await copiesOf(stamps[0]!)).length, 1, 'first set copied');
    // The target refuses writes for a while: the second set's copy fails and waits an hour for its retry.
    await fs.rename(davDir, `${davDir}.away`);
    await fs.writeFile(davDir, 'not a directory');
    const second = await runNow();
    await waitFor(() => new RegExp(`"file":"${fileOf(second)}"[^\\n]*"msg":"off-site copy failed"`).test(worker.logs()), 60_000, 'the second copy to fail once');
    await fs.rm(davDir);
    await fs.rename(`${davDir}.away`, davDir);
    // The next night's copy gets through at its first attempt.
    const third = await runNow();
    await waitFor(async () => ((await copiesOf(third)).length === 1 ? true : undefined), 60_000, 'the third set copied');
    assert.equal((await copiesOf(second)).length, 0, 'the second set still waits for its retry');
    const offset = worker.logs().length;
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
    await waitFor(() => /"msg":"off-site copy records missing/.test(worker.logs().slice(offset)), 30_000, 'the records rebuilt');
    await waitFor(async () => ((await copiesOf(second)).length === 1 ? true : undefined), 60_000, 'the second set copied after the loss');
    assert.ok((await fs.readdir(davDir)).includes(`${fileOf(second)}.sha256`), 'its completion marker on the target');
    // Prune with keep 1: every older archive is on the target now, so only the newest stays.
    await waitForJobsSettled(api.url, undefined);
    const put = await http(api.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 1 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const fourth = await runNow();
    await waitForJobsSettled(api.url, undefined);
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort(), [fileOf(fourth)]);
    const onTarget = (await fs.readdir(davDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(onTarget, stamps.slice(1).map(fileOf), 'keep:3 on the target');
  });
});
