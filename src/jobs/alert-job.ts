/**
 * The `alerts` queue's processor: one attempt to POST one alert to one webhook. BullMQ keeps the job
 * in Redis between attempts, so retries survive a restart; the backoff below spaces them out.
 * A job that fails for good is logged with logger.error (and counted in /metrics as kind
 * `alerts`); it never raises an alert of its own, which could only go to the same dead receivers.
 */
import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import { ALERT_BACKOFF, type AlertJobData, type AlertTarget, type NotifierLogger } from '../stores/notifier.js';
import { origin, postAlert } from './webhook.js';

export interface AlertDeliveryOptions {
  /** NOTIFY_WEBHOOK_URL as this worker has it. */
  urls: string[];
  logger: NotifierLogger;
  /** Per attempt, including reading the response. Default 10 s. */
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/** A failed attempt worth another one; carries the receiver's Retry-After for the backoff. */
export class RetryableDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableDeliveryError';
  }
}

/**
 * The job's URL from this worker's config: by position, if the origin still matches (the list may
 * have been edited since the alert was queued), else the first URL with that origin.
 */
export function resolveTarget(urls: string[], target: AlertTarget): string | undefined {
  const byIndex = urls[target.index];
  if (byIndex !== undefined && origin(byIndex) === target.origin) return byIndex;
  return urls.find((u) => origin(u) === target.origin);
}

export function makeAlertProcessor(o: AlertDeliveryOptions): Processor<AlertJobData> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const log = o.logger;
  return async (job: Job<AlertJobData>) => {
    // Job data is not trusted (a job added in the dashboard): a clear refusal, not a TypeError.
    const { alert, target } = (job.data ?? {}) as Partial<AlertJobData>;
    if (typeof alert?.event !== 'string' || typeof target?.origin !== 'string' || !Number.isInteger(target.index)) {
      throw new UnrecoverableError('job data refused, nothing was done: an alert job needs {alert: {event, …}, target: {index, origin}}');
    }
    const url = resolveTarget(o.urls, target);
    const attempt = job.attemptsMade + 1;
    const attemptsMax = job.opts.attempts ?? 1;
    const fields = { event: alert.event, target: target.origin, attempt, jobId: job.id };
    if (url === undefined) {
      log.error(fields, 'alert dropped: its webhook is no longer in NOTIFY_WEBHOOK_URL');
      return { delivered: false, reason: 'webhook no longer configured' };
    }
    const result = await postAlert(url, JSON.stringify(alert), { timeoutMs, fetchImpl: o.fetchImpl });
    if (result.ok) {
      log.debug(fields, 'alert delivered');
      return { delivered: true, target: target.origin, attempt };
    }
    if (!result.retry) {
      log.error({ ...fields, problem: result.problem }, 'alert delivery failed, not retried');
      throw new UnrecoverableError(result.problem);
    }
    if (attempt >= attemptsMax) log.error({ ...fields, problem: result.problem }, `alert delivery failed, giving up after ${attempt} attempts`);
    else log.warn({ ...fields, problem: result.problem }, 'alert delivery failed, will retry');
    throw new RetryableDeliveryError(result.problem, result.retryAfterMs);
  };
}

/**
 * The worker's backoff for ALERT_BACKOFF jobs: exponential from `baseDelayMs` (NOTIFY_RETRY_DELAY),
 * capped at `maxDelayMs`, with jitter in [50 %, 100 %] so that many alerts to one receiver that
 * comes back do not arrive in one burst; at least the receiver's Retry-After (capped too).
 */
export function alertBackoff(o: { baseDelayMs: number; maxDelayMs?: number }) {
  const max = o.maxDelayMs ?? 15 * 60_000;
  return (attemptsMade: number, type?: string, err?: Error): number => {
    if (type !== ALERT_BACKOFF) return 0;
    const exp = Math.min(max, o.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
    const jittered = exp / 2 + Math.random() * (exp / 2);
    const retryAfter = err instanceof RetryableDeliveryError ? (err.retryAfterMs ?? 0) : 0;
    return Math.round(Math.min(max, Math.max(jittered, retryAfter)));
  };
}
