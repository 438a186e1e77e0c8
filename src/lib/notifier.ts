/**
 * Webhook alerts (NOTIFY_WEBHOOK_URL, NOTIFY_ON). An alert is POSTed as JSON to every URL,
 * independently: one dead receiver neither delays nor stops the others.
 *
 * `notify` is fire-and-forget: it never throws and never waits, because it is called from job
 * event handlers and a backup must not fail or stall because a chat server is down. Delivery:
 * a 2xx is delivered; 408, 429, 5xx, network errors and timeouts are retried with exponential
 * backoff and jitter (Retry-After is honoured up to the cap); any other status is final. Every
 * give-up is logged with logger.error. Log lines name only the URL's origin: webhook URLs often
 * carry their secret in the path or query.
 *
 * Backoff timers do not keep the process alive, so a shutdown is not held up for minutes by a dead
 * receiver; call `flush(timeoutMs)` during shutdown to give in-flight deliveries a bounded chance.
 */
import os from 'node:os';

export type AlertEvent = 'job.failed' | 'run.finished' | 'backup.overdue' | 'archive.size_drop';

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

/** What the notifier needs of a logger (a pino Logger fits). */
export interface NotifierLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface NotifierOptions {
  urls: string[];
  on: 'failure' | 'always';
  logger: NotifierLogger;
  /** Retries after the first attempt (so at most retries + 1 requests per URL). Default 5. */
  retries?: number;
  /** First backoff; doubles per retry, capped at maxDelayMs. Default 1000. */
  baseDelayMs?: number;
  /** Default 60 s. */
  maxDelayMs?: number;
  /** Per attempt, including reading the response. Default 10 s. */
  timeoutMs?: number;
  /** Deliveries in flight beyond this are dropped (and logged): bounds memory when all receivers are dead. Default 200. */
  maxInFlight?: number;
  fetchImpl?: typeof fetch;
}

/** Fills `at` (now) and `host` (this machine's name). */
export function makeAlert(fields: Omit<Alert, 'at' | 'host'> & Partial<Pick<Alert, 'at' | 'host'>>): Alert {
  return { ...fields, at: fields.at ?? new Date().toISOString(), host: fields.host ?? os.hostname() };
}

/** True for what NOTIFY_ON=failure sends. */
export function isFailureAlert(alert: Alert): boolean {
  return alert.event === 'run.finished' ? alert.ok === false : true;
}

type Attempt = { ok: true } | { ok: false; retry: boolean; problem: string; retryAfterMs?: number };

export class Notifier {
  private readonly urls: string[];
  private readonly on: 'failure' | 'always';
  private readonly log: NotifierLogger;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly fetchImpl: typeof fetch;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(o: NotifierOptions) {
    this.urls = [...o.urls];
    this.on = o.on;
    this.log = o.logger;
    this.retries = Math.max(0, Math.floor(o.retries ?? 5));
    this.baseDelayMs = Math.max(0, o.baseDelayMs ?? 1000);
    this.maxDelayMs = Math.max(0, o.maxDelayMs ?? 60_000);
    this.timeoutMs = Math.max(1, o.timeoutMs ?? 10_000);
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 200);
    this.fetchImpl = o.fetchImpl ?? fetch;
  }

  /** Whether any URL is configured. */
  get enabled(): boolean {
    return this.urls.length > 0;
  }

  /** Sends the alert to every URL in the background. Never throws, never waits. */
  notify(alert: Alert): void {
    try {
      if (this.urls.length === 0) return;
      if (this.on === 'failure' && !isFailureAlert(alert)) return;
      const body = JSON.stringify(alert);
      for (const url of this.urls) {
        if (this.inFlight.size >= this.maxInFlight) {
          this.log.error({ module: 'notifier', event: alert.event, target: origin(url), inFlight: this.inFlight.size }, 'alert dropped: too many deliveries in flight');
          continue;
        }
        const delivery = this.deliver(url, body, alert.event).catch((err: unknown) => {
          this.log.error({ module: 'notifier', event: alert.event, target: origin(url), err: errorText(err) }, 'alert delivery crashed');
        });
        this.inFlight.add(delivery);
        void delivery.finally(() => this.inFlight.delete(delivery));
      }
    } catch (err) {
      // e.g. details that JSON cannot encode (a bigint, a cycle)
      try {
        this.log.error({ module: 'notifier', event: alert?.event, err: errorText(err) }, 'alert not sent');
      } catch {
        /* a logger that throws must not reach the caller either */
      }
    }
  }

  /** Resolves when every delivery in flight has finished, or after timeoutMs (then they go on). */
  async flush(timeoutMs?: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    // A ref'd timer keeps the process alive while we wait (the backoff timers are unref'd).
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = timeoutMs === undefined ? setInterval(() => undefined, 1 << 30) : setTimeout(resolve, timeoutMs);
    });
    const drain = async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    };
    try {
      await Promise.race([drain(), limit]);
    } finally {
      clearTimeout(timer); // clears an interval too
    }
  }

  private async deliver(url: string, body: string, event: string): Promise<void> {
    const target = origin(url);
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(url, body);
      if (!result.ok) result.problem = result.problem.split(url).join(target);
      if (result.ok) {
        this.log.debug({ module: 'notifier', event, target, attempt }, 'alert delivered');
        return;
      }
      if (!result.retry || attempt > this.retries) {
        const why = result.retry ? `giving up after ${attempt} attempts` : 'not retried';
        this.log.error({ module: 'notifier', event, target, attempt, problem: result.problem }, `alert delivery failed, ${why}`);
        return;
      }
      const delay = this.backoff(attempt, result.retryAfterMs);
      this.log.warn({ module: 'notifier', event, target, attempt, problem: result.problem, retryInMs: delay }, 'alert delivery failed, will retry');
      await sleep(delay);
    }
  }

  private async attempt(url: string, body: string): Promise<Attempt> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'oob-backup' },
        body,
        signal,
      });
      // Read (and bound) the body so the connection is released; its text helps with a 4xx.
      const text = (await res.text().catch(() => '')).slice(0, 200);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      return { ok: false, retry, problem: `HTTP ${res.status}${text ? `: ${text}` : ''}`, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
    } catch (err) {
      const problem = signal.aborted ? `no answer within ${this.timeoutMs} ms` : errorText(err);
      return { ok: false, retry: true, problem };
    }
  }

  /** Exponential from baseDelayMs, capped, with jitter in [50 %, 100 %]; at least Retry-After (capped too). */
  private backoff(attempt: number, retryAfter: number | undefined): number {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exp / 2 + Math.random() * (exp / 2);
    return Math.round(Math.min(this.maxDelayMs, Math.max(jittered, retryAfter ?? 0)));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    // fetch reports "fetch failed" and puts the useful part (ECONNREFUSED ...) in the cause.
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
