/** GET /api/jobs and /api/jobs/:id: running and recent jobs of every queue, for the main screen, a page at a time. */
import type { Job, JobType } from 'bullmq';
import type { AppContext } from '../../runtime/context.js';
import { pausedQueues } from '../../stores/paused-queues.js';
import { QUEUE_NAMES, type QueueName } from '../../stores/queues.js';
import type { Handler } from '../handler.js';
import { notFound } from '../http-error.js';
import { JOB_STATES, jobsQuery } from '../schemas/index.js';
import { parseRequest } from '../validate.js';

export interface JobView {
  id: string;
  queue: QueueName;
  name: string;
  volume: string | null;
  stamp: string | null;
  state: string;
  progress: unknown;
  attemptsMade: number;
  /** Starts of the job, stalls included; stalledCounter: how often its worker died or lost Redis. */
  attemptsStarted: number;
  stalledCounter: number;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  failedReason: string | null;
  result: unknown;
}

/** `state`: known when the job was fetched by state; otherwise asked (one Redis script per job). */
async function view(queue: QueueName, job: Job, state?: string): Promise<JobView> {
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  const data = (job.data ?? {}) as { volume?: string; stamp?: string };
  return {
    id: String(job.id),
    queue,
    name: job.name,
    volume: data.volume ?? null,
    stamp: data.stamp ?? null,
    state: state ?? (await job.getState()),
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted ?? 0,
    stalledCounter: job.stalledCounter ?? 0,
    createdAt: iso(job.timestamp),
    startedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
    failedReason: job.failedReason || null,
    result: job.returnvalue ?? null,
  };
}

/**
 * One page of one queue: its jobs in the order of `types` (each state's own order, newest first),
 * positions `offset` to `offset + limit - 1`. The counts per state say which ranges of which state
 * lists make up that window, so at most `limit` jobs are read from Redis, however long the history.
 * A job that changes state between the count and the read can be missed or listed twice on
 * neighbouring pages: this is a view of moving queues, not a snapshot.
 */
async function queuePage(ctx: AppContext, name: QueueName, types: JobType[], offset: number, limit: number) {
  const queue = ctx.queues[name];
  const counts = await queue.getJobCounts(...types);
  const total = types.reduce((sum, t) => sum + (counts[t] ?? 0), 0);
  const ranges: { type: JobType; start: number; end: number }[] = [];
  let skip = offset;
  let want = limit;
  for (const type of types) {
    const n = counts[type] ?? 0;
    if (want === 0) break;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    const take = Math.min(n - skip, want);
    ranges.push({ type, start: skip, end: skip + take - 1 });
    want -= take;
    skip = 0;
  }
  const lists = await Promise.all(ranges.map(async (r) => ({ type: r.type, jobs: await queue.getJobs([r.type], r.start, r.end, false) })));
  return { name, total, lists };
}

/**
 * GET /api/jobs?queue=&state=&limit=&offset=: at most `limit` jobs of each queue (default 50, at
 * most 1000), starting at `offset` within each queue, newest first overall. `page.queues` has each
 * queue's total; `page.nextOffset` is the offset of the next page, null on the last one.
 */
export const listJobs: Handler = async (ctx, req) => {
  const { limit, offset, state, queue } = parseRequest(jobsQuery, req.query, 'query');
  const types: JobType[] = state === undefined ? [...JOB_STATES] : [state];
  const names = queue === undefined ? QUEUE_NAMES : [queue];
  // The paused flags are read beside the pages, not after them: one Redis round trip less.
  const [pages, paused, workers] = await Promise.all([
    Promise.all(names.map((name) => queuePage(ctx, name, types, offset, limit))),
    pausedQueues(ctx.queues),
    // Workers connected to Redis now (BullMQ names their connections; a killed one's is gone at once).
    // null when the server refuses CLIENT LIST (some managed Redis).
    ctx.queues.archive.getWorkersCount().catch(() => null),
  ]);
  const views: JobView[] = [];
  const seen = new Set<string>();
  for (const { name, lists } of pages) {
    for (const { type, jobs } of lists) {
      for (const job of jobs) {
        // A job that moved on between two of the reads is listed once.
        if (!job || seen.has(`${name}:${job.id}`)) continue;
        seen.add(`${name}:${job.id}`);
        views.push(await view(name, job, type));
      }
    }
  }
  views.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  const more = pages.some((p) => p.total > offset + limit);
  return {
    status: 200,
    body: {
      jobs: views,
      page: { limit, offset, nextOffset: more ? offset + limit : null, queues: Object.fromEntries(pages.map((p) => [p.name, { total: p.total }])) },
      // Jobs of a paused queue wait forever; the main screen says why.
      paused,
      // With none, jobs wait and an "active" one was left by a worker that died (found by a tester).
      workers,
    },
  };
};

export const getJob: Handler = async (ctx, req) => {
  const id = req.params.id ?? '';
  const found = await findJob(ctx, id);
  if (!found) throw notFound(`no job ${id}`);
  // The state first, then the job's data again: a job that finished between reading its data and
  // its state would otherwise show "completed" with no result (seen: a client polling for the
  // prune's result got null). A finished job's data no longer changes, so what is read after its
  // state is final; one that was removed in between keeps what was read first.
  const state = await found.job.getState();
  const job = (await ctx.queues[found.queue].getJob(id)) ?? found.job;
  return { status: 200, body: await view(found.queue, job, state) };
};

async function findJob(ctx: AppContext, id: string): Promise<{ queue: QueueName; job: Job } | undefined> {
  for (const queue of QUEUE_NAMES) {
    const job = await ctx.queues[queue].getJob(id);
    if (job) return { queue, job };
  }
  return undefined;
}
