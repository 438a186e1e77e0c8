/**
 * GET /metrics content from a real context: archives written by hand into a temp BACKUP_DIR, jobs
 * failed by real BullMQ workers on the real Redis, under a random queue prefix removed afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FlowProducer, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/runtime/config.js';
import { createContext, type AppContext } from '../../src/runtime/context.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/api/metrics.js';
import { metricsText } from '../../src/api/metrics-sources.js';
import { COUNT_LOOKBACK_MS } from '../../src/stores/finished-job-totals.js';
import { lastArchivesByVolume } from '../../src/stores/last-archives.js';
import { createRedis } from '../../src/stores/redis.js';
import { makeFixture, REDIS_URL, type Fixture } from '../helpers/service.js';

/** `name{labels}` → value, from the text exposition. */
function parse(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    series.set(m[1]!, Number(m[2]));
  }
  return series;
}

function value(series: Map<string, number>, key: string): number {
  const v = series.get(key);
  assert.ok(v !== undefined, `no series ${key} in:\n${[...series.keys()].join('\n')}`);
  return v;
}

async function writeArchive(dir: string, file: string, bytes: number, manifest?: Record<string, unknown>): Promise<string> {
  const p = path.join(dir, file);
  await fs.writeFile(p, Buffer.alloc(bytes, 7));
  if (manifest) await fs.writeFile(`${p}.manifest.json`, JSON.stringify(manifest));
  return p;
}

describe('metrics', () => {
  let fx: Fixture;
  let ctx: AppContext;
  let workerRedis: Redis;
  const workers: Worker[] = [];

  /** Runs one worker per queue until `jobs` have finished; `fail` decides per job. */
  async function finish(queue: Queue, add: () => Promise<Job[]>, fail: (job: Job) => boolean): Promise<void> {
    const worker = new Worker(
      queue.name,
      async (job) => {
        if (fail(job)) throw new Error('boom (test)');
        return { kind: 'set' };
      },
      { connection: workerRedis, prefix: fx.prefix, autorun: false },
    );
    workers.push(worker);
    const jobs = await add();
    const ids = new Set(jobs.map((j) => j.id));
    const done = new Promise<void>((resolve) => {
      const seen = new Set<string>();
      const mark = (job: Job | undefined) => {
        if (job?.id && ids.has(job.id)) seen.add(job.id);
        if (seen.size === ids.size) resolve();
      };
      worker.on('completed', mark);
      worker.on('failed', mark);
    });
    void worker.run();
    await done;
    await worker.close();
  }

  before(async () => {
    fx = await makeFixture();
    const config = loadConfig(fx.env, fx.root);
    ctx = await createContext(config, createLogger('silent'), REDIS_URL);
    workerRedis = createRedis(REDIS_URL);

    // elexisdb: an older and the newest archive, both with manifests.
    await writeArchive(fx.backupDir, 'elexisdb_2026-01-09-0315.tar.gz', 100, {
      volume: 'elexisdb',
      size: 100,
      durationMs: 1000,
      createdAt: '2026-01-09T02:16:00.000Z',
    });
    await writeArchive(fx.backupDir, 'elexisdb_2026-01-12-0315.tar.gz', 300, {
      volume: 'elexisdb',
      size: 12345,
      durationMs: 4200,
      createdAt: '2026-01-12T02:16:30.000Z',
    });
    // pacsdata: one archive without manifest (copied in by hand): file size and mtime.
    const pacs = await writeArchive(fx.backupDir, 'pacsdata_2026-01-12-0315.tar.gz', 2048);
    await fs.utimes(pacs, new Date('2026-01-12T03:00:00Z'), new Date('2026-01-12T03:00:00Z'));
    // Not archives: a leftover of a dead job and a foreign file.
    await writeArchive(fx.backupDir, 'lucinda_2026-01-13-0315.tar.gz.partial', 10);
    await writeArchive(fx.backupDir, 'notes.txt', 10);
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await ctx?.close();
    workerRedis?.disconnect();
    await fx?.cleanup();
  });

  test('lastArchivesByVolume takes the newest archive per volume, manifest first', async () => {
    const last = await lastArchivesByVolume(ctx.store);
    assert.deepEqual(Object.keys(last), ['elexisdb', 'pacsdata']);
    assert.deepEqual(last.elexisdb, {
      volume: 'elexisdb',
      kind: 'volume',
      file: 'elexisdb_2026-01-12-0315.tar.gz',
      stamp: '2026-01-12-0315',
      sizeBytes: 12345,
      durationMs: 4200,
      at: new Date('2026-01-12T02:16:30.000Z'),
      source: 'manifest',
    });
    assert.equal(last.pacsdata?.sizeBytes, 2048);
    assert.equal(last.pacsdata?.durationMs, null);
    assert.equal(last.pacsdata?.at.toISOString(), '2026-01-12T03:00:00.000Z');
    assert.equal(last.pacsdata?.source, 'file');
  });

  test('lastArchivesByVolume skips an archive that failed its verification: it is no success', async () => {
    const bad = path.join(fx.backupDir, 'elexisdb_2026-01-12-2200.tar.gz');
    await fs.writeFile(bad, 'damaged');
    await fs.writeFile(`${bad}.verify.json`, JSON.stringify({ ok: false, at: '2026-01-12T21:05:00.000Z', error: 'checksum mismatch' }));
    try {
      assert.equal((await lastArchivesByVolume(ctx.store)).elexisdb?.file, 'elexisdb_2026-01-12-0315.tar.gz');
      await fs.writeFile(`${bad}.verify.json`, JSON.stringify({ ok: true, at: '2026-01-12T21:05:00.000Z' }));
      assert.equal((await lastArchivesByVolume(ctx.store)).elexisdb?.file, 'elexisdb_2026-01-12-2200.tar.gz');
    } finally {
      await fs.rm(bad);
      await fs.rm(`${bad}.verify.json`);
    }
  });

  test("lastArchivesByVolume skips a restore's safety backup: it is no backup of the schedule", async () => {
    const safety = await writeArchive(fx.backupDir, 'elexisdb_2026-01-12-2230.tar.gz', 99, { tool: 'oob-backup', safetyFor: 'a-restore-id' });
    try {
      assert.equal((await lastArchivesByVolume(ctx.store)).elexisdb?.file, 'elexisdb_2026-01-12-0315.tar.gz');
    } finally {
      await fs.rm(safety);
      await fs.rm(`${safety}.manifest.json`);
    }
  });

  test('an empty installation: zero counters, no volumes, every source up', async () => {
    const empty = await makeFixture();
    const c = await createContext(loadConfig(empty.env, empty.root), createLogger('silent'), REDIS_URL);
    try {
      const s = parse(await metricsText(c));
      for (const kind of ['run', 'archive', 'dump', 'verify', 'prune', 'restore']) assert.equal(value(s, `oob_backup_job_failures_total{kind="${kind}"}`), 0, kind);
      assert.equal(value(s, 'oob_backup_restores_total{outcome="failed",kind="sql"}'), 0);
      assert.equal(value(s, 'oob_backup_queue_jobs{queue="archive",state="failed"}'), 0);
      assert.ok(![...s.keys()].some((k) => k.startsWith('oob_backup_last_success')));
      for (const source of ['queues', 'backup_dir_free', 'backup_dir', 'job_failures', 'restores']) {
        assert.equal(value(s, `oob_backup_metrics_source_up{source="${source}"}`), 1, source);
      }
    } finally {
      await c.close();
      await empty.cleanup();
    }
  });

  test('archives, a failed archive job, queue counts and free space', async () => {
    await finish(
      ctx.queues.archive,
      async () => [await ctx.queues.archive.add('archive', { volume: 'elexisdb', stamp: '2026-01-13-0315', trigger: 'manual' }, { attempts: 1 })],
      () => true,
    );
    const text = await metricsText(ctx);
    assert.match(text, /^oob_backup_last_success_timestamp_seconds\{volume="elexisdb"\} 1768184190$/m);
    assert.match(text, /^# TYPE oob_backup_job_failures_total counter$/m);
    const s = parse(text);
    assert.equal(value(s, 'oob_backup_last_success_timestamp_seconds{volume="elexisdb"}'), Date.parse('2026-01-12T02:16:30Z') / 1000);
    assert.equal(value(s, 'oob_backup_last_archive_size_bytes{volume="elexisdb"}'), 12345);
    assert.equal(value(s, 'oob_backup_last_archive_duration_seconds{volume="elexisdb"}'), 4.2);
    assert.equal(value(s, 'oob_backup_last_success_timestamp_seconds{volume="pacsdata"}'), Date.parse('2026-01-12T03:00:00Z') / 1000);
    assert.equal(value(s, 'oob_backup_last_archive_size_bytes{volume="pacsdata"}'), 2048);
    assert.equal(s.has('oob_backup_last_archive_duration_seconds{volume="pacsdata"}'), false, 'no duration without manifest');
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="archive"}'), 1);
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="prune"}'), 0);
    assert.equal(value(s, 'oob_backup_queue_jobs{queue="archive",state="failed"}'), 1);
    assert.equal(value(s, 'oob_backup_queue_jobs{queue="archive",state="waiting"}'), 0);
    assert.ok(value(s, 'oob_backup_backup_dir_free_bytes') > 0);
    // Nothing sensitive: no paths of the temp dirs, no error text, no job data.
    assert.ok(!text.includes(fx.root) && !text.includes('boom') && !text.includes('2026-01-13'), text);
  });

  test('the failure counter is monotonic: history trimming does not lower it, replicas count once', async () => {
    // Three scrapes at once, as three API replicas would: each failure is counted once.
    const texts = await Promise.all([metricsText(ctx), metricsText(ctx), metricsText(ctx)]);
    for (const t of texts) assert.equal(value(parse(t), 'oob_backup_job_failures_total{kind="archive"}'), 1);

    // BullMQ trims old failed jobs; the counter must not go down.
    const [failed] = await ctx.queues.archive.getJobs(['failed']);
    assert.ok(failed);
    await failed.remove();
    let s = parse(await metricsText(ctx));
    assert.equal(value(s, 'oob_backup_queue_jobs{queue="archive",state="failed"}'), 0);
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="archive"}'), 1);

    // The next failure counts, even though the failed set holds one job again (the trap of counts).
    await finish(
      ctx.queues.archive,
      async () => [await ctx.queues.archive.add('archive', { volume: 'pacsdata', stamp: '2026-01-13-0315', trigger: 'manual' }, { attempts: 1 })],
      () => true,
    );
    s = parse(await metricsText(ctx));
    assert.equal(value(s, 'oob_backup_queue_jobs{queue="archive",state="failed"}'), 1);
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="archive"}'), 2);
  });

  test('a job that lands in the failed set late (finishedOn before the watermark) is still counted', async () => {
    const failedKey = ctx.queues.archive.toKey('failed');
    const newest = Number((await ctx.redis.zrange(failedKey, '-1', '-1', 'WITHSCORES'))[1]);
    await ctx.redis.zadd(failedKey, String(newest - 60_000), 'late-within-window');
    assert.equal(value(parse(await metricsText(ctx)), 'oob_backup_job_failures_total{kind="archive"}'), 3);
    // Beyond the look-back window it is taken as trimmed history, not as new (documented limit).
    await ctx.redis.zadd(failedKey, String(newest - COUNT_LOOKBACK_MS - 60_000), 'late-beyond-window');
    assert.equal(value(parse(await metricsText(ctx)), 'oob_backup_job_failures_total{kind="archive"}'), 3);
    await ctx.redis.zrem(failedKey, 'late-within-window', 'late-beyond-window');
  });

  test('a verify failed only by its archive (failParentOnFailure) is not counted again: one failure, one count', async () => {
    const before = parse(await metricsText(ctx));
    const flows = new FlowProducer({ connection: workerRedis, prefix: fx.prefix });
    try {
      const tree = await flows.add({
        name: 'verify', queueName: 'verify', data: { volume: 'elexisdb', stamp: '2026-01-14-0315' }, opts: { attempts: 1 },
        children: [{ name: 'archive', queueName: 'archive', data: { volume: 'elexisdb', stamp: '2026-01-14-0315', trigger: 'manual' }, opts: { attempts: 1, failParentOnFailure: true } }],
      });
      await finish(ctx.queues.archive, async () => [tree.children![0]!.job], () => true);
      // The parent is failed by BullMQ when a worker takes it: "child <key> failed" (its processor never runs).
      await finish(ctx.queues.verify, async () => [tree.job], () => false);
      const parent = await ctx.queues.verify.getJob(tree.job.id!);
      assert.equal(await parent!.getState(), 'failed');
      assert.match(parent!.failedReason, /^child \S+ failed$/);
    } finally {
      await flows.close();
    }
    const after = parse(await metricsText(ctx));
    const delta = (kind: string) => value(after, `oob_backup_job_failures_total{kind="${kind}"}`) - value(before, `oob_backup_job_failures_total{kind="${kind}"}`);
    assert.equal(delta('archive'), 1);
    assert.equal(delta('verify'), 0);
  });

  test('schedule queue: run and verify-newest ticks count as run and verify', async () => {
    await finish(
      ctx.queues.schedule,
      async () => [await ctx.queues.schedule.add('run', { trigger: 'manual' }), await ctx.queues.schedule.add('verify-newest', {})],
      () => true,
    );
    const s = parse(await metricsText(ctx));
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="run"}'), 1);
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="verify"}'), 1);
    assert.equal(value(s, 'oob_backup_queue_jobs{queue="schedule",state="failed"}'), 2);
  });

  test('restores by outcome and kind (from the restore request), and restore failures', async () => {
    const sql = await ctx.restores.create({ kind: 'sql', stamp: null, volumes: [], sqlFile: 'upload.sql.gz', skipSafetyBackup: false });
    const set = await ctx.restores.create({ kind: 'set', stamp: '2026-01-12-0315', volumes: ['elexisdb'], sqlFile: null, skipSafetyBackup: false });
    await finish(
      ctx.queues.restore,
      async () => [
        await ctx.queues.restore.add('restore', { restoreId: sql.request.id }, { jobId: `restore-${sql.request.id}`, attempts: 1 }),
        await ctx.queues.restore.add('restore', { restoreId: set.request.id }, { jobId: `restore-${set.request.id}`, attempts: 1 }),
      ],
      (job) => job.data.restoreId === sql.request.id,
    );
    const s = parse(await metricsText(ctx));
    assert.equal(value(s, 'oob_backup_restores_total{outcome="failed",kind="sql"}'), 1);
    assert.equal(value(s, 'oob_backup_restores_total{outcome="completed",kind="set"}'), 1);
    assert.equal(value(s, 'oob_backup_restores_total{outcome="completed",kind="sql"}'), 0);
    assert.equal(value(s, 'oob_backup_restores_total{outcome="failed",kind="set"}'), 0);
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="restore"}'), 1);
  });

  test('a source that fails is reported down and left out; the others still answer', async () => {
    const m = new Metrics({ prefix: 'x_' });
    const errors: string[] = [];
    const text = await m.render({
      queueCounts: async () => {
        throw new Error('redis down');
      },
      backupDirFreeBytes: async () => 42,
      onSourceError: (source) => errors.push(source),
    });
    const s = parse(text);
    assert.equal(value(s, 'x_metrics_source_up{source="queues"}'), 0);
    assert.equal(value(s, 'x_backup_dir_free_bytes'), 42);
    assert.deepEqual(errors, ['queues']);

    // Unknown free space is absent, never 0 (which would read as "disk full").
    const again = parse(
      await m.render({
        queueCounts: async () => ({}),
        backupDirFreeBytes: async () => {
          throw new Error('statfs failed');
        },
      }),
    );
    assert.equal(again.has('x_backup_dir_free_bytes'), false);
    assert.equal(value(again, 'x_metrics_source_up{source="backup_dir_free"}'), 0);
    assert.equal(value(again, 'x_metrics_source_up{source="queues"}'), 1);
    assert.equal(parse(await new Metrics({ prefix: 'y_' }).render({ queueCounts: async () => ({}) })).has('y_backup_dir_free_bytes'), false);
  });

  test('the event methods feed the same metrics for a process without Redis', async () => {
    const m = new Metrics({});
    m.archiveSucceeded('elexisdb', 10, 1500, new Date('2026-01-12T02:16:30Z'));
    m.jobFailed('archive');
    m.jobFailed('archive');
    m.restoreFinished('completed', 'set');
    const s = parse(await m.render({ queueCounts: async () => ({ archive: { failed: 2 } }) }));
    assert.equal(value(s, 'oob_backup_last_archive_duration_seconds{volume="elexisdb"}'), 1.5);
    assert.equal(value(s, 'oob_backup_job_failures_total{kind="archive"}'), 2);
    assert.equal(value(s, 'oob_backup_restores_total{outcome="completed",kind="set"}'), 1);
    assert.equal(value(s, 'oob_backup_queue_jobs{queue="archive",state="failed"}'), 2);
    assert.match(m.contentType, /^text\/plain/);
  });
});
