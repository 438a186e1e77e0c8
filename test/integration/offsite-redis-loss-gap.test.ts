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
import { after, before, describe, it } from 'node:test';
import { fileOf, startRedisLossService, type RedisLossService } from '../helpers/redis-loss.js';
import { http, waitFor, waitForJobsSettled } from '../helpers/service.js';

describe('off-site copies after Redis lost its data: a copy retrying behind a newer one', () => {
  let svc: RedisLossService;
  before(async () => {
    svc = await startRedisLossService();
  });
  after(async () => {
    await svc?.stop();
  });

  it('the copy that waited for its retry behind a newer copy is made after the loss, and prune keeps the archive until then', async () => {
    const { api, worker, davDir, fx, stamps, runNow, copiesOf } = svc;
    await runNow();
    await waitForJobsSettled(api.url, undefined);
    assert.equal((await copiesOf(stamps[0]!)).length, 1, 'first set copied');
    // The target refuses writes for a while: the second set's copy fails and waits an hour for its retry.
    const allowWrites = await svc.refuseWrites();
    const second = await runNow();
    await waitFor(() => new RegExp(`"file":"${fileOf(second)}"[^\\n]*"msg":"off-site copy failed"`).test(worker.logs()), 60_000, 'the second copy to fail once');
    await allowWrites();
    // The next night's copy gets through at its first attempt.
    const third = await runNow();
    await waitFor(async () => ((await copiesOf(third)).length === 1 ? true : undefined), 60_000, 'the third set copied');
    assert.equal((await copiesOf(second)).length, 0, 'the second set still waits for its retry');
    const offset = worker.logs().length;
    await svc.loseRedisData();
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
