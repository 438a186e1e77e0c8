/**
 * Webhook alerts through the durable `alerts` queue: the Notifier queues them in the real Redis, a
 * real BullMQ worker runs the alert processor, and a real local HTTP receiver (node:http on
 * 127.0.0.1, random port) answers as scripted. Each test has its own queue prefix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { makeAlert, Notifier, type Alert, type AlertJobData, type NotifierLogger } from '../../src/stores/notifier.js';
import { alertBackoff, makeAlertProcessor } from '../../src/jobs/alert-job.js';
import { deleteRedisPrefix, http as call, makeFixture, REDIS_URL, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';

interface Received {
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  time: number;
}

/** Per path: the statuses to answer in turn (the last one repeats); 'hang' never answers. */
type Script = (number | 'hang')[];

class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Script>();
  private readonly calls = new Map<string, number>();
  private readonly server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const path = req.url ?? '/';
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        /* keep the text */
      }
      this.received.push({ path, method: req.method ?? '', headers: req.headers, body, time: Date.now() });
      const n = this.calls.get(path) ?? 0;
      this.calls.set(path, n + 1);
      const script = this.scripts.get(path) ?? [200];
      const status = script[Math.min(n, script.length - 1)]!;
      if (status === 'hang') return; // the client's timeout has to end it
      res.writeHead(status, { 'content-type': 'text/plain', ...(status === 429 ? { 'retry-after': '1' } : {}) }).end(status >= 400 ? `status ${status}` : 'ok');
    });
  });
  base = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A fresh path (so tests do not see each other's requests) answering with `script`. */
  url(name: string, script: Script = [200]): string {
    const path = `/${name}-${Math.random().toString(36).slice(2, 8)}`;
    this.scripts.set(path, script);
    return this.base + path;
  }

  at(url: string): Received[] {
    const path = new URL(url).pathname;
    return this.received.filter((r) => r.path === path);
  }
}

interface LogLine {
  level: 'error' | 'warn' | 'debug';
  obj: Record<string, unknown>;
  msg: string;
}

function captureLogger(): NotifierLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, error: at('error'), warn: at('warn'), debug: at('debug') };
}

/** A port nothing listens on: bound once, then closed. */
async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}

const failure = (over: Partial<Alert> = {}): Alert =>
  makeAlert({ event: 'job.failed', kind: 'archive', volume: 'elexisdb', stamp: '2026-01-12-0315', reason: 'disk full', attempt: 3, attemptsMax: 3, ...over });

const runFinished = (ok: boolean): Alert => makeAlert({ event: 'run.finished', stamp: '2026-01-12-0315', ok, details: { volumes: 3, failed: ok ? 0 : 1 } });

interface Setup {
  urls: string[];
  on?: 'failure' | 'always';
  /** Delivery attempts per URL. Default 4. */
  attempts?: number;
  /** First backoff. Default 10 ms. */
  baseDelayMs?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  /** Start a worker at once. Default true. */
  worker?: boolean;
}

/** Every value stored under a prefix, as text: to show what Redis holds. */
async function redisText(redis: Redis, prefix: string): Promise<string> {
  const keys = await redis.keys(`${prefix}:*`);
  const parts: string[] = [...keys];
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'string') parts.push(String(await redis.get(key)));
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return parts.join('\n');
}

describe('alerts through the durable alerts queue', () => {
  const rx = new Receiver();
  const cleanups: (() => Promise<void>)[] = [];
  let redis: Redis;
  before(async () => {
    await rx.start();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    for (const c of cleanups) await c();
    redis.disconnect();
    await rx.stop();
  });

  const setup = (o: Setup) => {
    const prefix = `test-alerts-${randomUUID().slice(0, 8)}`;
    const logger = captureLogger();
    const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue<AlertJobData>('alerts', { connection: conn, prefix });
    const notifier = new Notifier({ queue, urls: o.urls, on: o.on ?? 'failure', logger, attempts: o.attempts ?? 4 });
    const workers: { worker: Worker; conn: Redis }[] = [];
    const startWorker = () => {
      const wconn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const worker = new Worker<AlertJobData>('alerts', makeAlertProcessor({ urls: o.urls, logger, timeoutMs: o.timeoutMs, fetchImpl: o.fetchImpl }), {
        connection: wconn,
        prefix,
        concurrency: 4,
        settings: { backoffStrategy: alertBackoff({ baseDelayMs: o.baseDelayMs ?? 10 }) },
      });
      workers.push({ worker, conn: wconn });
      return worker;
    };
    if (o.worker !== false) startWorker();
    const settled = (jobs: number) =>
      waitFor(
        async () => {
          const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
          return c.waiting! + c.active! + c.delayed! + c.prioritized! === 0 && c.completed! + c.failed! === jobs ? c : undefined;
        },
        20_000,
        `${jobs} alert jobs to settle`,
      );
    cleanups.push(async () => {
      for (const w of workers) {
        await w.worker.close();
        w.conn.disconnect();
      }
      await queue.close();
      conn.disconnect();
      await deleteRedisPrefix(prefix);
    });
    return { notifier, logger, queue, prefix, settled, startWorker, workers };
  };

  test('an alert job with data that is not an alert (added by hand) is refused in words, nothing is sent', async () => {
    const url = rx.url('odd-data');
    const { queue, settled } = setup({ urls: [url] });
    await queue.add('alert', { alert: {}, target: {} } as unknown as AlertJobData, { attempts: 3 });
    const counts = await settled(1);
    assert.equal(counts.failed, 1);
    const [job] = await queue.getJobs(['failed']);
    assert.match(job?.failedReason ?? '', /^job data refused, nothing was done: an alert job needs/);
    assert.equal(job?.attemptsMade, 1, 'not retried');
    assert.deepEqual(rx.at(url), []);
  });

  test('delivers a failure alert as JSON with our headers; the job holds the origin, not the URL', async () => {
    const url = rx.url('deliver');
    const { notifier, logger, queue, settled } = setup({ urls: [url] });
    const alert = failure({ at: '2026-01-12T02:20:00.000Z', host: 'praxis-server' });
    notifier.notify(alert);
    await notifier.flush();
    const counts = await settled(1);
    assert.equal(counts.completed, 1);
    const [req, ...more] = rx.at(url);
    assert.equal(more.length, 0);
    assert.equal(req?.method, 'POST');
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['user-agent'], 'oob-backup');
    assert.deepEqual(req?.body, {
      event: 'job.failed',
      kind: 'archive',
      volume: 'elexisdb',
      stamp: '2026-01-12-0315',
      reason: 'disk full',
      attempt: 3,
      attemptsMax: 3,
      at: '2026-01-12T02:20:00.000Z',
      host: 'praxis-server',
    });
    const [job] = await queue.getJobs(['completed']);
    assert.deepEqual(job?.data.target, { index: 0, origin: new URL(url).origin });
    assert.ok(!JSON.stringify(job?.data).includes(new URL(url).pathname), 'job data holds the URL path');
    assert.deepEqual(logger.lines.filter((l) => l.level !== 'debug'), []);
  });

  test('makeAlert fills at and host', () => {
    const a = makeAlert({ event: 'backup.overdue', volume: 'pacsdata' });
    assert.ok(!Number.isNaN(Date.parse(a.at)));
    assert.ok(a.host.length > 0);
  });

  test("on 'failure' drops a successful run.finished and sends a failed one", async () => {
    const url = rx.url('on-failure');
    const { notifier, settled } = setup({ urls: [url], on: 'failure' });
    notifier.notify(runFinished(true));
    notifier.notify(runFinished(false));
    notifier.notify(makeAlert({ event: 'backup.overdue', volume: 'pacsdata' }));
    notifier.notify(makeAlert({ event: 'archive.size_drop', volume: 'elexisdb', details: { previous: 1000, current: 10 } }));
    await notifier.flush();
    await settled(3);
    const events = rx.at(url).map((r) => [(r.body as Alert).event, (r.body as Alert).ok]);
    assert.deepEqual(events.sort(), [
      ['archive.size_drop', undefined],
      ['backup.overdue', undefined],
      ['run.finished', false],
    ]);
  });

  test("on 'always' sends a successful run.finished too", async () => {
    const url = rx.url('on-always');
    const { notifier, settled } = setup({ urls: [url], on: 'always' });
    notifier.notify(runFinished(true));
    await notifier.flush();
    await settled(1);
    assert.deepEqual(
      rx.at(url).map((r) => (r.body as Alert).ok),
      [true],
    );
  });

  test('500 twice then 200: three attempts, delivered, no error logged', async () => {
    const url = rx.url('flaky', [500, 500, 200]);
    const { notifier, logger, settled } = setup({ urls: [url] });
    notifier.notify(failure());
    await notifier.flush();
    assert.equal((await settled(1)).completed, 1);
    assert.equal(rx.at(url).length, 3);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 2);
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
    assert.ok(logger.lines.some((l) => l.level === 'debug' && l.msg === 'alert delivered' && l.obj.attempt === 3));
  });

  test('408 and 429 are retried (Retry-After honoured)', async () => {
    const url = rx.url('busy', [408, 429, 204]);
    const { notifier, logger, settled } = setup({ urls: [url] });
    notifier.notify(failure());
    await notifier.flush();
    await settled(1);
    const got = rx.at(url);
    assert.equal(got.length, 3);
    assert.ok(got[2]!.time - got[1]!.time >= 950, `Retry-After: 1 not honoured (${got[2]!.time - got[1]!.time} ms)`);
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
  });

  test('a 400 is not retried, and logged as an error; the job fails with the reason', async () => {
    const url = rx.url('bad', [400, 200]);
    const { notifier, logger, queue, settled } = setup({ urls: [url] });
    notifier.notify(failure());
    await notifier.flush();
    assert.equal((await settled(1)).failed, 1);
    assert.equal(rx.at(url).length, 1);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.msg, /not retried/);
    assert.match(String(errors[0]!.obj.problem), /HTTP 400: status 400/);
    const [job] = await queue.getJobs(['failed']);
    assert.match(job?.failedReason ?? '', /HTTP 400/);
  });

  test('an unreachable URL: notify returns at once, gives up after NOTIFY_ATTEMPTS, never throws', async () => {
    const url = await closedPortUrl();
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts++;
      return fetch(input, init);
    };
    const { notifier, logger, settled } = setup({ urls: [url], attempts: 3, fetchImpl: counting });
    const started = performance.now();
    for (let i = 0; i < 5; i++) notifier.notify(failure({ volume: `v${i}` }));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 50, `notify blocked for ${elapsed} ms`);
    await notifier.flush();
    assert.equal((await settled(5)).failed, 5);
    assert.equal(attempts, 5 * 3);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 5);
    for (const e of errors) {
      assert.match(e.msg, /giving up after 3 attempts/);
      assert.match(String(e.obj.problem), /ECONNREFUSED/);
    }
  });

  test('a receiver that never answers is cut off by the per-attempt timeout', async () => {
    const url = rx.url('hang', ['hang']);
    const { notifier, logger, settled } = setup({ urls: [url], attempts: 2, timeoutMs: 150 });
    notifier.notify(failure());
    await notifier.flush();
    await settled(1);
    assert.equal(rx.at(url).length, 2);
    const [error] = logger.lines.filter((l) => l.level === 'error');
    assert.match(String(error?.obj.problem), /no answer within 150 ms/);
  });

  test('two URLs both receive, each independently of the other', async () => {
    const good = rx.url('both-a');
    const slow = rx.url('both-b', [503, 503, 200]);
    const { notifier, settled } = setup({ urls: [good, slow], baseDelayMs: 400 });
    notifier.notify(failure());
    await notifier.flush();
    // The good one is delivered long before the other's retries are over.
    await waitFor(() => rx.at(good).length === 1, 5000, 'the good receiver');
    assert.ok(rx.at(slow).length < 3);
    await settled(2);
    assert.equal(rx.at(good).length, 1);
    assert.equal(rx.at(slow).length, 3);
    assert.deepEqual(rx.at(good)[0]?.body, rx.at(slow)[2]?.body);
  });

  test('a URL with user:password is sent as Basic auth', async () => {
    const url = rx.url('basic').replace('http://', 'http://alert%20user:pa%3Ass@');
    const { notifier, settled } = setup({ urls: [url] });
    notifier.notify(failure());
    await notifier.flush();
    assert.equal((await settled(1)).completed, 1);
    const [req] = rx.at(url);
    assert.equal(req?.headers.authorization, `Basic ${Buffer.from('alert user:pa:ss').toString('base64')}`);
  });

  test('neither the log nor Redis holds a secret of a URL (path, query, user:password)', async () => {
    const url = (await closedPortUrl()).replace('/hook', '/services/T000/B000/s3cr3t?token=abc').replace('http://', 'http://alerter:pw-s3cr3t@');
    const { notifier, logger, prefix, settled } = setup({ urls: [url], attempts: 2 });
    notifier.notify(failure());
    await notifier.flush();
    await settled(1);
    const logged = JSON.stringify(logger.lines);
    assert.ok(logger.lines.length > 0);
    const stored = await redisText(redis, prefix);
    assert.match(stored, /ECONNREFUSED/, 'the failure reason is stored');
    for (const secret of ['s3cr3t', 'token=abc', 'alerter']) {
      assert.ok(!logged.includes(secret), `log holds ${secret}: ${logged}`);
      assert.ok(!stored.includes(secret), `Redis holds ${secret}`);
    }
    assert.ok(logged.includes(new URL(url).origin));
  });

  test('an alert JSON cannot encode is logged, not thrown; no URLs is a no-op', async () => {
    const url = rx.url('bigint');
    const { notifier, logger, queue } = setup({ urls: [url] });
    assert.doesNotThrow(() => notifier.notify(failure({ details: { n: 10n } })));
    await notifier.flush();
    assert.equal(await queue.count(), 0);
    assert.equal(rx.at(url).length, 0);
    assert.match(logger.lines.find((l) => l.level === 'error')?.msg ?? '', /not sent/);

    const none = setup({ urls: [] });
    assert.equal(none.notifier.enabled, false);
    none.notifier.notify(failure());
    await none.notifier.flush();
    assert.equal(await none.queue.count(), 0);
    assert.deepEqual(none.logger.lines, []);
  });

  test('survives the processes: queued with no worker running, and mid-retry, a later worker delivers', async () => {
    const waiting = rx.url('later');
    const retrying = rx.url('mid-retry', [503, 200]);
    const { notifier, queue, settled, startWorker, workers } = setup({ urls: [waiting], worker: false });
    notifier.notify(failure({ volume: 'queued-while-down' }));
    await notifier.flush();
    assert.equal(await queue.getWaitingCount(), 1, 'the alert waits in Redis');
    assert.equal(rx.at(waiting).length, 0);

    // A second installation whose worker fails once and stops before the retry is due.
    const second = setup({ urls: [retrying], baseDelayMs: 60_000 });
    second.notifier.notify(failure({ volume: 'mid-retry' }));
    await second.notifier.flush();
    await waitFor(async () => (await second.queue.getDelayedCount()) === 1, 5000, 'the failed attempt to wait for its retry');
    for (const w of second.workers) await w.worker.close();
    assert.equal(rx.at(retrying).length, 1);
    // Its retry is due now (as after a long outage), for whichever worker runs next.
    const [delayed] = await second.queue.getJobs(['delayed']);
    await delayed!.promote();
    second.startWorker();
    await second.settled(1);
    assert.equal(rx.at(retrying).length, 2);
    assert.equal((rx.at(retrying)[1]?.body as Alert).volume, 'mid-retry');

    startWorker();
    assert.equal((await settled(1)).completed, 1);
    assert.equal((rx.at(waiting)[0]?.body as Alert).volume, 'queued-while-down');
    assert.equal(workers.length, 1);
  });
});

describe('an alert survives kill -9 of the service that was delivering it', () => {
  const rx = new Receiver();
  let fx: Fixture;
  let svc: Service | undefined;
  let redis: Redis;
  let queue: Queue<AlertJobData>;
  before(async () => {
    await rx.start();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
    await queue?.close();
    redis.disconnect();
    await rx.stop();
    await fx?.cleanup();
  });

  test('the receiver is down at the failure; after a kill -9 and a restart it gets the alert', async () => {
    // The secret path must never reach Redis; the receiver answers 503 first, then 200.
    const url = rx.url('restart-s3cr3t', [503, 200]);
    fx = await makeFixture({
      // A listed volume whose directory is missing: its archive job fails, once (ARCHIVE_ATTEMPTS=1).
      VOLUMES: `ghost=${fx0Path()}`,
      VOLUMES_DIR: '',
      NOTIFY_WEBHOOK_URL: url,
      NOTIFY_RETRY_DELAY: '5', // room for the two other alerts to be delivered before the kill
      // No overdue alert for the ghost volume in between: only the failure is sent.
      OVERDUE_GRACE: String(7 * 86_400),
    });
    queue = new Queue<AlertJobData>('alerts', { connection: redis, prefix: fx.prefix });
    svc = await startService('start', fx.env);
    const run = await call(svc.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    // The archive fails, and with it its verify and prune parents: one alert (theirs would only
    // say "child … failed"), answered 503 first.
    // Killed once the refused alert waits for its retry: an alert still being sent at the kill
    // would stay active until the stalled check (LOCK_DURATION) gave it to the restarted service.
    await waitFor(
      async () => rx.at(url).length >= 1 && (await queue.getDelayedCount()) === 1,
      20_000,
      'the alert to wait for its retry in Redis',
    );
    await svc.stop('SIGKILL');
    svc = undefined;
    const refused = rx.at(url)[0]!.body as Alert;
    assert.equal(refused.event, 'job.failed');
    const stored = await redisText(redis, fx.prefix);
    assert.match(stored, /HTTP 503/, 'the refused attempt is recorded in Redis');
    assert.ok(!stored.includes('s3cr3t'), 'Redis holds the webhook URL');

    svc = await startService('start', fx.env);
    const same = () => rx.at(url).filter((r) => JSON.stringify(r.body) === JSON.stringify(refused));
    await waitFor(() => same().length === 2, 20_000, 'the retry by the restarted service');
    const events = rx.at(url).map((r) => `${(r.body as Alert).event} ${(r.body as Alert).kind} ${(r.body as Alert).volume}`);
    assert.deepEqual([...new Set(events)].sort(), ['job.failed archive ghost']);
    assert.equal(rx.at(url).length, 2, 'one alert, twice');
    await waitFor(async () => (await queue.getCompletedCount()) === 1, 5000, 'the alert job to complete');
  });
});

/** A path that does not exist (the ghost volume's directory). */
function fx0Path(): string {
  return `/nonexistent-oob-test/${randomUUID()}`;
}
