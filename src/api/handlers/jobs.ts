/** GET /api/jobs and /api/jobs/:id: running and recent jobs of every queue, for the main screen. */
import type { Job, JobType } from 'bullmq';
import type { AppContext } from '../../context.js';
import { pausedQueues } from '../../lib/paused-queues.js';
import { QUEUE_NAMES, type QueueName } from '../../lib/queues.js';
import type { Handler } from '../handler.js';
import { badRequest, notFound } from '../http-error.js';

const STATES: JobType[] = ['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'];

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

export const listJobs: Handler = async (ctx, req) => {
  const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be an integer from 1 to 1000', 'limit');
  const state = req.query.state;
  if (state !== undefined && !STATES.includes(state as JobType)) {
    throw badRequest(`state must be one of ${STATES.join(', ')}`, 'state');
  }
  const types = state === undefined ? STATES : [state as JobType];
  // One list per queue and state, all at once: the state is then known without asking Redis once
  // per job, which under the main screen's polling was most of this request's cost.
  const lists = await Promise.all(
    QUEUE_NAMES.flatMap((name) =>
      types.map(async (type) => ({ name, type, jobs: await ctx.queues[name].getJobs([type], 0, limit - 1, false) })),
    ),
  );
  const views: JobView[] = [];
  const seen = new Set<string>();
  for (const { name, type, jobs } of lists) {
    for (const job of jobs) {
      // A job that moved on between two of the reads is listed once.
      if (!job || seen.has(`${name}:${job.id}`)) continue;
      seen.add(`${name}:${job.id}`);
      views.push(await view(name, job, type));
    }
  }
  views.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  // Jobs of a paused queue wait forever; the main screen says why.
  return { status: 200, body: { jobs: views.slice(0, limit), paused: await pausedQueues(ctx.queues) } };
};

export const getJob: Handler = async (ctx, req) => {
  const found = await findJob(ctx, req.params.id ?? '');
  if (!found) throw notFound(`no job ${req.params.id}`);
  return { status: 200, body: await view(found.queue, found.job) };
};

async function findJob(ctx: AppContext, id: string): Promise<{ queue: QueueName; job: Job } | undefined> {
  for (const queue of QUEUE_NAMES) {
    const job = await ctx.queues[queue].getJob(id);
    if (job) return { queue, job };
  }
  return undefined;
}
