/**
 * Prune takes the lock of the writers of its kind of file: the database's lock for dumps (which a
 * dump job and a SQL restore's safety dump hold while they write), so the prune of `elexisdb-sql`
 * never deletes a dump that is being written. It waits while a writer holds the lock, and then
 * removes a dead writer's `.partial` — but a sidecar's temp file only once it is old (verify jobs
 * write `.verify.json` without that lock). How many it keeps comes from the stored schedule, never
 * from the job's data (which bull-board lets an operator edit).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { PruneJobData } from '../../src/stores/queues.js';
import { DB_ENV, http, makeFixture, REDIS_URL, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';

const DB = 'oob_prune_locks_test';
const DUMP = 'elexisdb-sql';
const dump = (stamp: string) => `${DUMP}_${stamp}.sql.gz`;

describe('prune of the database dumps and the dump lock', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  let queue: Queue;

  before(async () => {
    // DB_HOST makes dumps part of the service; no dump runs here (the test plays the writer).
    fx = await makeFixture({ ...DB_ENV, DB_NAME: DB });
    svc = await startService('start', fx.env);
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 2 });
    assert.equal(put.status, 200);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('prune', { connection: redis, prefix: fx.prefix });
  });
  after(async () => {
    await svc?.stop();
    await queue?.close();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('waits while a dump writer holds the lock, then removes the dead writer\'s .partial; a fresh sidecar temp file stays', async () => {
    const stamps = ['2024-01-01-0315', '2024-01-02-0315', '2024-01-03-0315'];
    for (const s of stamps) {
      await fs.writeFile(path.join(fx.backupDir, dump(s)), `dump ${s}`);
      await fs.writeFile(path.join(fx.backupDir, `${dump(s)}.sha256`), `${'0'.repeat(64)}  ${dump(s)}\n`);
      // Verified, as the run's flow makes sure before its prune (the prune checks it too).
      await fs.writeFile(path.join(fx.backupDir, `${dump(s)}.verify.json`), JSON.stringify({ ok: true, at: '2024-01-03T03:20:00.000Z' }));
    }
    // A dump being written right now (a SQL restore's safety dump, say), holding the database lock.
    const writing = path.join(fx.backupDir, `${dump('2024-01-04-0315')}.partial`);
    await fs.writeFile(writing, 'half a dump');
    const lockKey = `${fx.prefix}:oob-lock:db:${DB}`;
    await redis.set(lockKey, 'dump-elexisdb-sql-2024-01-04-0315@token', 'PX', 120_000);
    // A verification recording its outcome this very moment, and one killed two hours ago.
    const freshTemp = path.join(fx.backupDir, `${dump(stamps[2]!)}.verify.json.0123456789ab.partial`);
    const oldTemp = path.join(fx.backupDir, `${dump(stamps[1]!)}.verify.json.ba9876543210.partial`);
    await fs.writeFile(freshTemp, '{}');
    await fs.writeFile(oldTemp, '{}');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await fs.utimes(oldTemp, twoHoursAgo, twoHoursAgo);

    // keep 1 in the job's data, as someone editing the job in bull-board could set it: ignored, the
    // prune keeps what the stored schedule says (2).
    const data: PruneJobData = { volume: DUMP, stamp: stamps[2]!, keep: 1, kind: 'sql' };
    const job = await queue.add('prune', data, { jobId: 'prune-test' });
    try {
      await waitFor(async () => {
        const j = await queue.getJob(job.id!);
        return j && j.attemptsStarted >= 1 && (await j.getState()) === 'delayed';
      }, 30_000, 'the prune to wait for the lock');
      assert.ok(await fs.stat(writing), 'the dump being written is still there');
      assert.equal((await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.sql.gz')).length, 3, 'nothing pruned while the lock is held');
    } finally {
      await redis.del(lockKey);
    }

    const done = await waitFor(async () => {
      const j = await queue.getJob(job.id!);
      return j?.finishedOn ? j : undefined;
    }, 30_000, 'the prune to finish');
    assert.equal(done.failedReason ?? '', '');
    assert.deepEqual(done.returnvalue.removed, [dump(stamps[0]!)], 'the schedule\'s keep (2), not the job data\'s (1)');
    assert.deepEqual(done.returnvalue.debrisRemoved.sort(), [path.basename(oldTemp), path.basename(writing)].sort());
    const left = (await fs.readdir(fx.backupDir)).sort();
    assert.ok(left.includes(path.basename(freshTemp)), 'a fresh sidecar temp file may belong to a live verify job');
    assert.ok(!left.includes(dump(stamps[0]!)) && !left.includes(`${dump(stamps[0]!)}.sha256`));
  });
});
