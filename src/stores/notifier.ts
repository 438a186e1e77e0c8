/**
 * Webhook alerts (NOTIFY_WEBHOOK_URL, NOTIFY_ON), delivered through the durable `alerts` queue.
 *
 * `notify` turns an alert into one job per configured URL and returns at once: it never throws and
 * never waits, because it is called from job event handlers, and a backup must not fail or stall
 * because a chat server is down. The jobs live in Redis (AOF), so an alert whose receiver is down
 * survives a restart of every process and is still delivered when a worker runs again
 * (workers/alert-job.ts does the HTTP part, with retries and backoff; one dead receiver neither
 * delays nor stops the others, as each URL has its own job).
 *
 * A job names its target by position in NOTIFY_WEBHOOK_URL and by origin only (scheme, host,
 * port): webhook URLs often hold their secret in the path, query or user:password, and job data
 * is readable by anyone with the dashboard. The worker reads the URL itself from its own config.
 */
import os from 'node:os';
import type { Queue } from 'bullmq';
import { KEEP_HISTORY } from './queues.js';
import { origin } from '../core/url-origin.js';

export type AlertEvent = 'job.failed' | 'run.finished' | 'backup.overdue' | 'archive.size_drop' | 'offsite.failed' | 'offsite.overdue';

export interface Alert {
  event: AlertEvent;
  kind?: string;
  volume?: string;
  stamp?: string;
  reason?: string;
  attempt?: number;
  attemptsMax?: number;
  ok?: boolean;
  details?: Record<string, unknown>;
  /** ISO time of the event. */
  at: string;
  host: string;
}

/** A webhook by its place in NOTIFY_WEBHOOK_URL and its origin, never by its full URL. */
export interface AlertTarget {
  index: number;
  origin: string;
}

export interface AlertJobData {
  alert: Alert;
  target: AlertTarget;
}

/** The backoff type of alert jobs: the alert worker's own strategy (exponential, jitter, Retry-After). */
export const ALERT_BACKOFF = 'webhook';

/** What the notifier needs of a logger (a pino Logger fits). */
export interface NotifierLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface NotifierOptions {
  /** The `alerts` queue. */
  queue: Queue;
  urls: string[];
  on: 'failure' | 'always';
  logger: NotifierLogger;
  /** Delivery attempts per URL (NOTIFY_ATTEMPTS). Default 20. */
  attempts?: number;
}

/** Fills `at` (now) and `host` (this machine's name). */
export function makeAlert(fields: Omit<Alert, 'at' | 'host'> & Partial<Pick<Alert, 'at' | 'host'>>): Alert {
  return { ...fields, at: fields.at ?? new Date().toISOString(), host: fields.host ?? os.hostname() };
}

/** True for what NOTIFY_ON=failure sends. */
export function isFailureAlert(alert: Alert): boolean {
  return alert.event === 'run.finished' ? alert.ok === false : true;
}

export class Notifier {
  private readonly queue: Queue;
  private readonly targets: AlertTarget[];
  private readonly on: 'failure' | 'always';
  private readonly log: NotifierLogger;
  private readonly attempts: number;
  private readonly adding = new Set<Promise<void>>();

  constructor(o: NotifierOptions) {
    this.queue = o.queue;
    this.targets = o.urls.map((url, index) => ({ index, origin: origin(url) }));
    this.on = o.on;
    this.log = o.logger;
    this.attempts = Math.max(1, Math.floor(o.attempts ?? 20));
  }

  /** Whether any URL is configured. */
  get enabled(): boolean {
    return this.targets.length > 0;
  }

  /** Queues the alert for every URL. Never throws, never waits. */
  notify(alert: Alert): void {
    try {
      if (this.targets.length === 0) return;
      if (this.on === 'failure' && !isFailureAlert(alert)) return;
      JSON.stringify(alert); // fails here, not in BullMQ, for details JSON cannot encode (a bigint, a cycle)
      for (const target of this.targets) {
        const data: AlertJobData = { alert, target };
        const added = this.queue
          .add('alert', data, { ...KEEP_HISTORY, attempts: this.attempts, backoff: { type: ALERT_BACKOFF } })
          .then(
            (job) => this.log.debug({ event: alert.event, target: target.origin, jobId: job.id }, 'alert queued'),
            (err: Error) => this.log.error({ event: alert.event, target: target.origin, err: err.message }, 'alert not queued (Redis?); it is lost'),
          );
        this.adding.add(added);
        void added.finally(() => this.adding.delete(added));
      }
    } catch (err) {
      try {
        this.log.error({ event: alert?.event, err: (err as Error)?.message }, 'alert not sent');
      } catch {
        /* a logger that throws must not reach the caller either */
      }
    }
  }

  /**
   * Resolves when every alert handed to notify() is in Redis, or after timeoutMs. Called at
   * shutdown: what is queued is delivered by the next worker that runs.
   */
  async flush(timeoutMs?: number): Promise<void> {
    if (this.adding.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([Promise.allSettled([...this.adding]).then(() => undefined), limit]);
    } finally {
      clearTimeout(timer);
    }
  }
}
