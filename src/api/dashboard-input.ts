/**
 * What bull-board's own API would pass on to BullMQ unchecked: the body of "add job" (also its
 * "duplicate"), of "update data", "promote" of a job that is not delayed, and absurd limits (a
 * queue's global concurrency and rate limit, a delayed job's new run time). BullMQ threw for some
 * of it (a job id with `:`, a fractional priority, a parent that does not exist: 500 with the
 * reason only in words meant for a programmer), stored the rest as it came (`delay: "x"`,
 * `attempts: -1`, `repeat: {every: 1000}`, data `"x"`) for a processor to run or to choke on. Here
 * such a request is answered 4xx before bull-board sees it, in its error shape (`error.key`, which
 * its UI translates) with our `code` and `message` (which say what to change), and nothing is added.
 *
 * The processors still check every job's data themselves (jobs/job-data.ts): this is the first
 * fence, for the person at the dashboard. Queues the dashboard shows read-only (`restore`,
 * `schedule`, or all with DASHBOARD_READ_ONLY) are left to bull-board, which answers 405.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { runJobDataProblem, type RunJobFields } from '../core/run-job-data.js';
import type { AppContext } from '../runtime/context.js';
import { QUEUE_NAMES, type QueueName } from '../stores/queues.js';

/** Queues whose jobs name a run's files: their data is checked as their processors check it. */
const RUN_QUEUES: readonly QueueName[] = ['archive', 'dump', 'verify', 'prune', 'copy'];

const DAY_MS = 24 * 3600 * 1000;
const PRIORITY_LIMIT = 2 ** 21 - 1; // BullMQ's

type Rule = { ok: (v: unknown) => boolean; want: string };
const int = (min: number, max: number) => (v: unknown) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const keepJobs = (v: unknown) =>
  typeof v === 'boolean' || int(0, Number.MAX_SAFE_INTEGER)(v) || (isObject(v) && Object.entries(v).every(([k, x]) => ['age', 'count', 'limit'].includes(k) && int(0, Number.MAX_SAFE_INTEGER)(x)));

/** The options a job may be added with here, as BullMQ understands them. */
const OPTION_RULES: Record<string, Rule> = {
  delay: { ok: int(0, 365 * DAY_MS), want: 'whole milliseconds from 0 to one year' },
  // 0 is BullMQ's default (one attempt); a job's opts show it, so "duplicate" sends it.
  attempts: { ok: int(0, 100), want: 'a whole number from 0 to 100' },
  priority: { ok: int(0, PRIORITY_LIMIT), want: `a whole number from 0 to ${PRIORITY_LIMIT}` },
  lifo: { ok: (v) => typeof v === 'boolean', want: 'true or false' },
  backoff: {
    ok: (v) =>
      int(0, DAY_MS)(v) ||
      (isObject(v) &&
        typeof v.type === 'string' && ['fixed', 'exponential', 'webhook'].includes(v.type) &&
        (v.delay === undefined || int(0, DAY_MS)(v.delay)) &&
        (v.jitter === undefined || (typeof v.jitter === 'number' && v.jitter >= 0 && v.jitter <= 1)) &&
        Object.keys(v).every((k) => ['type', 'delay', 'jitter'].includes(k))),
    want: 'milliseconds (at most a day), or {"type": "fixed"|"exponential"|"webhook", "delay"?, "jitter"?}',
  },
  removeOnComplete: { ok: keepJobs, want: 'true, false, a count, or {"age"?, "count"?}' },
  removeOnFail: { ok: keepJobs, want: 'true, false, a count, or {"age"?, "count"?}' },
  keepLogs: { ok: int(0, 100_000), want: 'a whole number from 0 to 100000' },
  stackTraceLimit: { ok: int(0, 1000), want: 'a whole number from 0 to 1000' },
  jobId: {
    // BullMQ refuses (500) an id with ':' or one that reads as an integer; '0' is reserved.
    ok: (v) => typeof v === 'string' && v.length > 0 && v.length <= 200 && !v.includes(':') && String(parseInt(v, 10)) !== v,
    want: 'text of 1 to 200 characters, without ":", that is not a whole number',
  },
};

const FLOW_ONLY = 'the service makes its own flows (a run\'s prune job waits for its verify job); a job added here cannot join one. Remove it (bull-board\'s "duplicate" copies it from the job)';
/** Options refused outright, and why. */
const REFUSED_OPTIONS: Record<string, string> = {
  repeat: 'a repeating job would run on a schedule of its own beside the one PUT /api/schedule (the main screen) sets; add a single job',
  parent: FLOW_ONLY,
  failParentOnFailure: FLOW_ONLY,
  continueParentOnFailure: FLOW_ONLY,
  ignoreDependencyOnFailure: FLOW_ONLY,
  removeDependencyOnFailure: FLOW_ONLY,
};

/** Sane bounds of a queue's limits: 0 concurrency removes it; beyond these a value only hides a typo. */
const CONCURRENCY = { min: 0, max: 1000 };
const RATE_MAX = { min: 1, max: 100_000 };
const RATE_DURATION = { min: 1, max: DAY_MS };

/** A value as a message may show it: a huge string is cut. */
const shown = (v: unknown) => (JSON.stringify(v) ?? 'nothing').slice(0, 40);

class Refusal {
  constructor(
    readonly status: number,
    readonly field: string,
    readonly code: string,
    readonly message: string,
    readonly key = 'ERRORS.INVALID_REQUEST_BODY',
    /** bull-board's `error.options`, which its UI puts into the key's text. */
    readonly keyOptions: Record<string, unknown> = { field },
  ) {}
}

function optionsProblem(options: unknown): Refusal | undefined {
  if (options === undefined) return undefined;
  if (!isObject(options)) return new Refusal(400, 'options', 'invalid_job_options', 'options must be a JSON object (e.g. {} or {"delay": 60000}); nothing was added');
  for (const [name, value] of Object.entries(options)) {
    const field = `options.${name}`;
    if (name in REFUSED_OPTIONS) return new Refusal(400, field, 'invalid_job_options', `${field} is not accepted here: ${REFUSED_OPTIONS[name]}; nothing was added`);
    const rule = OPTION_RULES[name];
    if (!rule) return new Refusal(400, field, 'invalid_job_options', `${field} is not an option a job can be added with here (allowed: ${Object.keys(OPTION_RULES).join(', ')}); nothing was added`);
    if (!rule.ok(value)) return new Refusal(400, field, 'invalid_job_options', `${field} must be ${rule.want}, not ${JSON.stringify(value)}; nothing was added`);
  }
  return undefined;
}

function dataProblem(queue: QueueName, data: unknown, field: string): Refusal | undefined {
  if (!isObject(data)) {
    return new Refusal(400, field, 'invalid_job_data', `${field} must be a JSON object like the data of the queue's other jobs (e.g. {"volume": …, "stamp": …}), not ${JSON.stringify(data) ?? 'nothing'}; nothing was changed`);
  }
  const problem = RUN_QUEUES.includes(queue) ? runJobDataProblem(data as unknown as RunJobFields) : undefined;
  return problem ? new Refusal(400, field, 'invalid_job_data', `${field} refused, its job could never run: ${problem}; nothing was changed`) : undefined;
}

function limitProblem(body: unknown, field: string, range: { min: number; max: number }, code: string, key: string, label = field): Refusal | undefined {
  const v = isObject(body) ? body[field] : undefined;
  if (int(range.min, range.max)(v)) return undefined;
  return new Refusal(400, field, code, `${label} must be a whole number from ${range.min} to ${range.max}, not ${shown(v)}; nothing was changed`, key, {});
}

function rateLimitProblem(body: unknown): Refusal | undefined {
  if (isObject(body) && (body.max === null || body.max === undefined)) return undefined; // removes the limit
  const rate = (field: string, range: { min: number; max: number }, label: string) =>
    limitProblem(body, field, range, 'invalid_rate_limit', 'ERRORS.INVALID_RATE_LIMIT', label);
  return rate('max', RATE_MAX, 'max (jobs per duration)') ?? rate('duration', RATE_DURATION, 'duration (milliseconds, at most a day)');
}

function refuse(res: Response, r: Refusal): void {
  res.status(r.status).json({ error: { key: r.key, options: r.keyOptions, code: r.code, message: r.message, field: r.field } });
}

/** Mounted at the dashboard's path, behind its token check, before bull-board. */
export function dashboardInput(ctx: AppContext): express.Router {
  const router = express.Router();
  const writable = (name: string): name is QueueName => {
    const q = QUEUE_NAMES.find((n) => n === name);
    return q !== undefined && !ctx.config.dashboardReadOnly && q !== 'restore' && q !== 'schedule';
  };
  // bull-board parses the same bodies with a 100 KB limit; a job's data is a few names.
  const json = express.json({ limit: '64kb' });
  const guard = (check: (req: Request, queue: QueueName) => Promise<Refusal | undefined> | Refusal | undefined) => [
    (req: Request, res: Response, next: NextFunction) => (writable(String(req.params.queueName)) ? json(req, res, next) : next('route')),
    (req: Request, res: Response, next: NextFunction) => {
      Promise.resolve(check(req, req.params.queueName as QueueName)).then((r) => (r ? refuse(res, r) : next()), next);
    },
  ];

  router.post('/api/queues/:queueName/add', ...guard(async (req, queue) => {
    const body: unknown = req.body;
    if (!isObject(body)) return new Refusal(400, 'body', 'invalid_request', 'the body must be a JSON object {name, data, options}; nothing was added');
    const r = dataProblem(queue, body.data, 'data') ?? optionsProblem(body.options);
    if (r) return r;
    const jobId = isObject(body.options) ? body.options.jobId : undefined;
    // BullMQ answers an existing id with that job and adds nothing: the dashboard would say "added".
    if (typeof jobId === 'string' && (await ctx.queues[queue].getJob(jobId))) {
      return new Refusal(409, 'options.jobId', 'job_exists', `the ${queue} queue has a job ${jobId} already, and BullMQ would answer with that one; nothing was added. Remove options.jobId (bull-board's "duplicate" copies it) or choose another`);
    }
    return undefined;
  }));

  router.patch('/api/queues/:queueName/:jobId/update-data', ...guard((req, queue) => dataProblem(queue, isObject(req.body) ? req.body.jobData : undefined, 'jobData')));

  // bull-board calls BullMQ's promote on any job, which throws (500) unless it is delayed.
  router.put('/api/queues/:queueName/:jobId/promote', ...guard(async (req, queue) => {
    const job = await ctx.queues[queue].getJob(String(req.params.jobId));
    if (!job) return undefined; // bull-board's own 404
    const state = await job.getState();
    if (state === 'delayed') return undefined;
    return new Refusal(400, 'jobId', 'job_not_delayed', `job ${job.id} is ${state}: only a delayed job can be promoted (run now); nothing was changed`, 'ERRORS.JOB_NOT_DELAYED', { status: state });
  }));

  // Queue-wide limits: bull-board checks only "a whole number ≥ 0/1", so `duration: 1e12` (one job
  // in 31 years) stopped the queue's backups without a word. 0 / null remove a limit (its meaning).
  router.put('/api/queues/:queueName/concurrency', ...guard((req) => limitProblem(req.body, 'concurrency', CONCURRENCY, 'invalid_concurrency', 'ERRORS.INVALID_CONCURRENCY')));
  router.put('/api/queues/:queueName/rate-limit', ...guard((req) => rateLimitProblem(req.body)));
  // A delayed job moved past a year would never run; bull-board takes any finite time.
  router.patch('/api/queues/:queueName/:jobId/delay', ...guard((req) => {
    const runAt = isObject(req.body) ? req.body.runAt : undefined;
    if (typeof runAt === 'number' && Number.isFinite(runAt) && runAt - Date.now() <= 365 * DAY_MS) return undefined;
    return new Refusal(400, 'runAt', 'invalid_run_at', `runAt must be a time (milliseconds since 1970) at most a year from now, not ${shown(runAt)}; nothing was changed`, 'ERRORS.INVALID_RUN_AT', {});
  }));

  // Bad JSON or too large a body, answered in bull-board's shape too.
  router.use((err: { type?: string; status?: number; message?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (!err?.type || typeof err.status !== 'number' || err.status >= 500) return next(err);
    const code = err.type === 'entity.too.large' ? 'too_large' : err.type === 'entity.parse.failed' ? 'invalid_json' : 'invalid_request';
    const message = code === 'too_large' ? 'the body is too large (at most 64 KiB of JSON); nothing was changed' : `the body is not valid JSON: ${err.message}; nothing was changed`;
    refuse(res, new Refusal(err.status, 'body', code, message));
  });
  return router;
}
