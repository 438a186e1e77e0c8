/**
 * The archive processor's retry rules, called directly with a stub job against the real Redis (for
 * the volume locks) and real files: an earlier attempt's finished archive is reported, not
 * rewritten; a mismatching or unsigned one is refused; a killed attempt's .partial is removed; a
 * retry waits for the lock of an earlier attempt instead of sharing it; a shutdown hands the job back.
 * Also the lock's own loss detection.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DelayedError, WaitingError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/runtime/config.js';
import { createContext, type AppContext } from '../../src/runtime/context.js';
import { createLogger } from '../../src/runtime/logger.js';
import { VolumeLocks } from '../../src/stores/volume-lock.js';
import { claimStamp } from '../../src/stores/backup-runs.js';
import { makeArchiveProcessor } from '../../src/jobs/archive-job.js';
import { makeFixture, REDIS_URL, waitFor, type Fixture } from '../helpers/service.js';
import { exec, makeVolume } from '../helpers/volumes.js';

const VOLUME = 'lucindadata';
const STAMP = '2026-11-20-0315';
const FILE = `${VOLUME}_${STAMP}.tar.gz`;
const JOB_ID = `archive-${VOLUME}-${STAMP}`;

interface Calls {
  delayedUntil?: number;
  movedToWait?: string;
}

function stubJob(calls: Calls = {}): Job {
  return {
    id: JOB_ID,
    name: 'archive',
    data: { volume: VOLUME, stamp: STAMP, trigger: 'manual' },
    attemptsMade: 0,
    attemptsStarted: 1,
    stalledCounter: 0,
    updateProgress: async () => undefined,
    moveToDelayed: async (ts: number) => {
      calls.delayedUntil = ts;
    },
    moveToWait: async (token: string) => {
      calls.movedToWait = token;
      return 0;
    },
  } as unknown as Job;
}

describe('archive job retries', () => {
  let fx: Fixture;
  let ctx: AppContext;
  let run: ReturnType<typeof makeArchiveProcessor>;
  const final = () => path.join(fx.backupDir, FILE);

  before(async () => {
    // The service's clock at the run's minute, and the run's stamp claimed, as startRun does: an
    // archive job writes only for a started run (src/jobs/run-claim-check.ts).
    fx = await makeFixture({ VOLUME_LOCK_TTL: '2' }, { clock: '2026-11-20T03:15:20+01:00' });
    await makeVolume(path.join(fx.volumesDir, VOLUME), VOLUME);
    ctx = await createContext(loadConfig(fx.env), createLogger('silent'), REDIS_URL);
    assert.equal(await claimStamp(ctx.redis, ctx.config.queuePrefix, STAMP, 'archive-retry-test'), 'new');
    run = makeArchiveProcessor(ctx);
  });
  after(async () => {
    await ctx?.close();
    await fx?.cleanup();
  });

  it('removes a killed attempt’s .partial and writes the archive', async () => {
    await fs.writeFile(`${final()}.partial`, 'half an archive of a dead worker');
    const r = await run(stubJob(), 'worker-a:1');
    assert.equal(r.file, FILE);
    assert.ok(!('completedEarlier' in r));
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.includes('.partial')), []);
    const { stdout } = await exec('sha256sum', ['-c', `${FILE}.sha256`], { cwd: fx.backupDir });
    assert.match(stdout, /: OK$/m);
  });

  it('a retry that finds the archive complete reports it instead of rewriting it', async () => {
    const before = await fs.stat(final());
    const r = await run(stubJob(), 'worker-b:7');
    assert.equal((r as { completedEarlier?: boolean }).completedEarlier, true);
    assert.equal(r.size, before.size);
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
    assert.equal((await fs.stat(final())).mtimeMs, before.mtimeMs);
  });

  it('refuses an archive that does not match its manifest, or has no checksum', async () => {
    const original = await fs.readFile(final());
    try {
      await fs.appendFile(final(), 'tampered');
      await assert.rejects(run(stubJob(), 'worker-b:8'), /does not match its manifest/);
      await fs.writeFile(final(), original);
      await fs.rename(`${final()}.sha256`, `${final()}.sha256.away`);
      await assert.rejects(run(stubJob(), 'worker-b:9'), /has no \.sha256 sidecar/);
    } finally {
      await fs.writeFile(final(), original);
      await fs.rename(`${final()}.sha256.away`, `${final()}.sha256`).catch(() => undefined);
    }
  });

  it('a retry waits for the lock of an earlier attempt of the same job, then runs', async () => {
    for (const n of await fs.readdir(fx.backupDir)) await fs.rm(path.join(fx.backupDir, n));
    const earlier = await ctx.locks.acquire(VOLUME, `${JOB_ID}@worker-a:1`);
    assert.ok(earlier);
    try {
      const calls: Calls = {};
      const t0 = Date.now();
      await assert.rejects(run(stubJob(calls), 'worker-b:2'), DelayedError);
      // Polls again when the earlier lock could have run out (TTL 2 s), at most 5 s later.
      assert.ok(calls.delayedUntil !== undefined && calls.delayedUntil - t0 >= 250 && calls.delayedUntil - t0 <= 2200, String(calls.delayedUntil! - t0));
      assert.deepEqual(await fs.readdir(fx.backupDir), []);
    } finally {
      await earlier.release();
    }
    const r = await run(stubJob(), 'worker-b:3');
    assert.equal(r.file, FILE);
  });

  it('a shutdown hands the job back: no attempt spent, lock released, no .partial', async () => {
    for (const n of await fs.readdir(fx.backupDir)) await fs.rm(path.join(fx.backupDir, n));
    const calls: Calls = {};
    const aborted = new AbortController();
    aborted.abort('shutdown');
    await assert.rejects(run(stubJob(calls), 'worker-c:1', aborted.signal), WaitingError);
    assert.equal(calls.movedToWait, 'worker-c:1');
    assert.equal(await ctx.locks.holder(VOLUME), null);
    assert.deepEqual(await fs.readdir(fx.backupDir), []);
  });
});

describe('volume lock loss', () => {
  let redis: Redis;
  const prefix = `test-lock-${process.pid}`;
  before(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('is noticed at the next renewal when another owner took the key', async () => {
    const locks = new VolumeLocks(redis, prefix, 600);
    const lock = await locks.acquire('v1', 'me');
    assert.ok(lock && !lock.lost);
    await redis.set(locks.key('v1'), 'someone-else');
    await waitFor(() => lock.signal.aborted, 2000, 'the lock to be lost');
    assert.ok(lock.lost);
    assert.match((lock.signal.reason as Error).message, /held by another owner/);
    await lock.release();
    assert.equal(await locks.holder('v1'), 'someone-else', 'release must not delete a lock it does not hold');
  });

  it('is assumed when no renewal is confirmed for a TTL (Redis unreachable)', async () => {
    const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null, retryStrategy: () => null });
    conn.on('error', () => undefined);
    const locks = new VolumeLocks(conn, prefix, 900);
    const t0 = Date.now();
    const lock = await locks.acquire('v2', 'me');
    assert.ok(lock);
    let abortedAt = 0;
    lock.signal.addEventListener('abort', () => (abortedAt = Date.now()));
    conn.disconnect();
    await waitFor(() => lock.signal.aborted, 3000, 'the lock to be given up');
    // Before the key can have expired on the server (TTL 900 ms after the acquire was sent).
    assert.ok(abortedAt - t0 < 900, `gave up after ${abortedAt - t0} ms, later than the TTL`);
    assert.ok(abortedAt - t0 > 600, `gave up after ${abortedAt - t0} ms, too early`);
    assert.match((lock.signal.reason as Error).message, /no renewal confirmed/);
    await lock.release();
  });

  it('stays held while renewed', async () => {
    // Each confirmed renewal (the RENEW script answering 1 for our key) is an event we count.
    const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const renewals: number[] = [];
    const send = conn.eval.bind(conn) as (...args: any[]) => Promise<unknown>;
    (conn as any).eval = (...args: any[]) => {
      const p = send(...args);
      if (String(args[0]).includes('pexpire') && String(args[2]).endsWith(':v3')) void p.then((r) => r === 1 && renewals.push(Date.now()), () => undefined);
      return p;
    };
    const locks = new VolumeLocks(conn, prefix, 300);
    const acquiredAt = Date.now();
    const lock = await locks.acquire('v3', 'me');
    assert.ok(lock);
    // Renewed every 100 ms: four renewals outlast the 300 ms TTL the key would have had without them.
    await waitFor(() => renewals.length >= 4, 5000, 'four renewals');
    assert.ok(renewals.at(-1)! - acquiredAt > 300, 'past the TTL of the acquire');
    assert.equal(lock.lost, false);
    assert.equal(await locks.holder('v3'), 'me');
    assert.equal(await locks.acquire('v3', 'other'), undefined);
    await lock.release();
    assert.equal(await locks.holder('v3'), null);
    conn.disconnect();
  });
});
