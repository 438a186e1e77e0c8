/**
 * The job scheduler end to end: the real run-job template, upserted with `every` (a cron pattern
 * only fires at the next full minute), makes a worker fan out a run whose archives carry the
 * stamp of the tick's scheduled time. This runs on the real time, as BullMQ does: the ticks are
 * grouped by their scheduled minute, whichever minutes they fall into.
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
import { makeFixture, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

/** Ticks to wait for: four ticks 1.5 s apart span 4.5 s, so at least two of them share a minute. */
const TICKS = 4;

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
    await upsertRunScheduler(queue, { every: 1500 });
    await waitFor(async () => (await queue.getJobs(['completed'], 0, 100)).filter((j) => j.name === 'run').length >= TICKS, 30_000, `${TICKS} ticks to run`);
    await queue.removeJobScheduler(RUN_SCHEDULER_ID);
    await waitForJobsSettled(svc.url, undefined);

    // BullMQ names scheduler jobs repeat:<scheduler>:<scheduled millis>.
    const runs = (await queue.getJobs(['completed'], 0, 100)).filter((j) => j.name === 'run');
    const ticks = runs.map((j) => {
      const scheduledAt = Number(/^repeat:backup-run:(\d+)$/.exec(String(j.id))?.[1]);
      assert.ok(scheduledAt > 0, `scheduler job id carries its scheduled time: ${j.id}`);
      return { minute: formatStamp(new Date(scheduledAt), 'Europe/Zurich'), scheduledAt, processedMinute: formatStamp(new Date(j.processedOn ?? 0), 'Europe/Zurich'), result: j.returnvalue };
    }).sort((a, b) => a.scheduledAt - b.scheduledAt);
    const made = ticks.filter((t) => !t.result?.skipped);
    assert.ok(made.length >= 1, JSON.stringify(ticks));
    assert.equal(made[0], ticks[0], 'the first tick made a set');
    for (const t of made) assert.equal(t.result.stamp, t.minute, 'a set is stamped with its tick\'s scheduled minute');
    assert.equal(new Set(made.map((t) => t.minute)).size, made.length, 'one set per minute');
    const sameMinute = ticks.filter((t) => t.result?.skipped && made.some((m) => m.minute === t.minute));
    assert.ok(sameMinute.length >= 1, `later ticks of a minute with a set were skipped: ${JSON.stringify(ticks)}`);
    // A tick that a loaded worker only took up in the next minute is late, and CATCH_UP is off in
    // the fixture: it is skipped as missed (seen once under CI's load). Every other one stands in.
    for (const t of sameMinute) {
      if (/was missed and CATCH_UP is off/.test(t.result.reason)) assert.ok(t.processedMinute > t.minute, `a tick skipped as missed ran after its minute: ${JSON.stringify(t)}`);
      else assert.match(t.result.reason, /stands in for the tick/);
    }
    assert.ok(sameMinute.some((t) => /stands in for the tick/.test(t.result.reason)), `a tick on time in a minute with a set stands aside: ${JSON.stringify(ticks)}`);

    const archives = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(archives, made.flatMap((t) => [`elexisdb_${t.minute}.tar.gz`, `webelexisdata_${t.minute}.tar.gz`]).sort());
  });
});
