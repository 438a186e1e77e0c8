/**
 * The job scheduler end to end: the real run-job template, upserted with `every` (a cron pattern
 * only fires at the next full minute), makes a worker fan out a run whose archives carry the
 * stamp of the tick's scheduled time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { formatStamp } from '../../src/core/names.js';
import { RUN_SCHEDULER_ID } from '../../src/stores/queues.js';
import { upsertRunScheduler } from '../../src/stores/schedule-store.js';
import { makeFixture, REDIS_URL, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { awayFromMinuteEnd, makeVolume } from '../helpers/volumes.js';

describe('scheduled runs', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  let queue: Queue;

  before(async () => {
    // The maintenance check would put the stored cron pattern back in place of the test's `every`.
    fx = await makeFixture({ MAINTENANCE_INTERVAL: '3600' });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    await makeVolume(path.join(fx.volumesDir, 'webelexisdata'), 'webelexisdata');
    svc = await startService('start', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('schedule', { connection: redis, prefix: fx.prefix });
  });
  after(async () => {
    await queue?.removeJobScheduler(RUN_SCHEDULER_ID).catch(() => undefined);
    await svc?.stop();
    await queue?.close();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('a tick fans out archives of every volume stamped with the scheduled minute; later ticks of that minute are skipped', async () => {
    await awayFromMinuteEnd(20);
    await upsertRunScheduler(queue, { every: 1500 });
    const files = await waitFor(
      async () => {
        const names = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz'));
        return names.length === 2 ? names.sort() : undefined;
      },
      30_000,
      'two archives from the scheduled run',
    );
    // Let a few more ticks of the same minute arrive before stopping the scheduler.
    await new Promise((r) => setTimeout(r, 3500));
    await queue.removeJobScheduler(RUN_SCHEDULER_ID);

    const runs = await queue.getJobs(['completed'], 0, 100);
    const first = runs.sort((a, b) => a.timestamp - b.timestamp)[0]!;
    // BullMQ names scheduler jobs repeat:<scheduler>:<scheduled millis>.
    const scheduledAt = Number(/^repeat:backup-run:(\d+)$/.exec(String(first.id))?.[1]);
    assert.ok(scheduledAt > 0, `scheduler job id carries its scheduled time: ${first.id}`);
    const stamp = formatStamp(new Date(scheduledAt), 'Europe/Zurich');
    assert.deepEqual(files, [`elexisdb_${stamp}.tar.gz`, `webelexisdata_${stamp}.tar.gz`]);
    assert.equal(first.returnvalue.stamp, stamp);
    const skipped = runs.filter((j) => j.returnvalue?.skipped);
    assert.ok(skipped.length >= 1, `later ticks in ${stamp} were skipped (saw ${runs.length} runs)`);
    const archives = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz'));
    assert.equal(archives.length, 2, 'no tick made a second set for the same minute');
  });
});
