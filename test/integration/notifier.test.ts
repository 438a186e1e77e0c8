/**
 * Webhook delivery against a real local HTTP receiver (node:http on 127.0.0.1, random port).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeAlert, Notifier, type Alert, type NotifierLogger, type NotifierOptions } from '../../src/lib/notifier.js';

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

describe('Notifier', () => {
  const rx = new Receiver();
  before(() => rx.start());
  after(() => rx.stop());

  const make = (urls: string[], extra: Partial<NotifierOptions> = {}) => {
    const logger = captureLogger();
    const notifier = new Notifier({ urls, on: 'failure', logger, baseDelayMs: 10, ...extra });
    return { notifier, logger };
  };

  test('delivers a failure alert as JSON with our headers', async () => {
    const url = rx.url('deliver');
    const { notifier, logger } = make([url]);
    const alert = failure({ at: '2026-01-12T02:20:00.000Z', host: 'praxis-server' });
    notifier.notify(alert);
    await notifier.flush();
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
    assert.deepEqual(logger.lines.filter((l) => l.level !== 'debug'), []);
  });

  test('makeAlert fills at and host', () => {
    const a = makeAlert({ event: 'backup.overdue', volume: 'pacsdata' });
    assert.ok(!Number.isNaN(Date.parse(a.at)));
    assert.ok(a.host.length > 0);
  });

  test("on 'failure' drops a successful run.finished and sends a failed one", async () => {
    const url = rx.url('on-failure');
    const { notifier } = make([url], { on: 'failure' });
    notifier.notify(runFinished(true));
    notifier.notify(runFinished(false));
    notifier.notify(makeAlert({ event: 'backup.overdue', volume: 'pacsdata' }));
    notifier.notify(makeAlert({ event: 'archive.size_drop', volume: 'elexisdb', details: { previous: 1000, current: 10 } }));
    await notifier.flush();
    const events = rx.at(url).map((r) => [(r.body as Alert).event, (r.body as Alert).ok]);
    assert.deepEqual(events.sort(), [
      ['archive.size_drop', undefined],
      ['backup.overdue', undefined],
      ['run.finished', false],
    ]);
  });

  test("on 'always' sends a successful run.finished too", async () => {
    const url = rx.url('on-always');
    const { notifier } = make([url], { on: 'always' });
    notifier.notify(runFinished(true));
    await notifier.flush();
    assert.deepEqual(
      rx.at(url).map((r) => (r.body as Alert).ok),
      [true],
    );
  });

  test('500 twice then 200: three attempts, delivered, no error logged', async () => {
    const url = rx.url('flaky', [500, 500, 200]);
    const { notifier, logger } = make([url]);
    notifier.notify(failure());
    await notifier.flush();
    assert.equal(rx.at(url).length, 3);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 2);
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
    assert.ok(logger.lines.some((l) => l.level === 'debug' && l.msg === 'alert delivered' && l.obj.attempt === 3));
  });

  test('408 and 429 are retried (Retry-After honoured)', async () => {
    const url = rx.url('busy', [408, 429, 204]);
    const { notifier, logger } = make([url]);
    notifier.notify(failure());
    await notifier.flush();
    const got = rx.at(url);
    assert.equal(got.length, 3);
    assert.ok(got[2]!.time - got[1]!.time >= 950, `Retry-After: 1 not honoured (${got[2]!.time - got[1]!.time} ms)`);
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
  });

  test('a 400 is not retried, and logged as an error', async () => {
    const url = rx.url('bad', [400, 200]);
    const { notifier, logger } = make([url]);
    notifier.notify(failure());
    await notifier.flush();
    assert.equal(rx.at(url).length, 1);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.msg, /not retried/);
    assert.match(String(errors[0]!.obj.problem), /HTTP 400: status 400/);
  });

  test('an unreachable URL: notify returns at once, gives up after `retries`, never throws', async () => {
    const url = await closedPortUrl();
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts++;
      return fetch(input, init);
    };
    const { notifier, logger } = make([url], { retries: 3, baseDelayMs: 20, fetchImpl: counting });
    const started = performance.now();
    for (let i = 0; i < 5; i++) notifier.notify(failure({ volume: `v${i}` }));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 50, `notify blocked for ${elapsed} ms`);
    await notifier.flush();
    assert.equal(attempts, 5 * (3 + 1));
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 5);
    for (const e of errors) {
      assert.match(e.msg, /giving up after 4 attempts/);
      assert.match(String(e.obj.problem), /ECONNREFUSED/);
    }
  });

  test('a receiver that never answers is cut off by the per-attempt timeout', async () => {
    const url = rx.url('hang', ['hang']);
    const { notifier, logger } = make([url], { retries: 1, timeoutMs: 150 });
    const started = Date.now();
    notifier.notify(failure());
    await notifier.flush();
    assert.ok(Date.now() - started < 2000);
    assert.equal(rx.at(url).length, 2);
    const [error] = logger.lines.filter((l) => l.level === 'error');
    assert.match(String(error?.obj.problem), /no answer within 150 ms/);
  });

  test('two URLs both receive, each independently of the other', async () => {
    const good = rx.url('both-a');
    const slow = rx.url('both-b', [503, 503, 200]);
    const { notifier } = make([good, slow], { baseDelayMs: 200 });
    notifier.notify(failure());
    // The good one is delivered long before the other's retries are over.
    await notifier.flush(150);
    assert.equal(rx.at(good).length, 1);
    assert.ok(rx.at(slow).length < 3);
    await notifier.flush();
    assert.equal(rx.at(good).length, 1);
    assert.equal(rx.at(slow).length, 3);
    assert.deepEqual(rx.at(good)[0]?.body, rx.at(slow)[2]?.body);
  });

  test('flush(timeout) returns when the time is up; the delivery goes on', async () => {
    const url = rx.url('late', [500, 200]);
    const { notifier } = make([url], { baseDelayMs: 300 });
    notifier.notify(failure());
    const started = Date.now();
    await notifier.flush(50);
    assert.ok(Date.now() - started < 250);
    await notifier.flush();
    assert.equal(rx.at(url).length, 2);
  });

  test('the log names only the origin of a URL (its path may hold the secret)', async () => {
    const url = (await closedPortUrl()).replace('/hook', '/services/T000/B000/s3cr3t?token=abc');
    const { notifier, logger } = make([url], { retries: 1 });
    notifier.notify(failure());
    await notifier.flush();
    const text = JSON.stringify(logger.lines);
    assert.ok(logger.lines.length > 0);
    assert.ok(!text.includes('s3cr3t') && !text.includes('token=abc'), text);
    assert.ok(text.includes(new URL(url).origin));
  });

  test('an alert JSON cannot encode is logged, not thrown; no URLs is a no-op', async () => {
    const url = rx.url('bigint');
    const { notifier, logger } = make([url]);
    assert.doesNotThrow(() => notifier.notify(failure({ details: { n: 10n } })));
    await notifier.flush();
    assert.equal(rx.at(url).length, 0);
    assert.match(logger.lines.find((l) => l.level === 'error')?.msg ?? '', /not sent/);

    const none = make([]);
    assert.equal(none.notifier.enabled, false);
    none.notifier.notify(failure());
    await none.notifier.flush();
    assert.deepEqual(none.logger.lines, []);
  });
});
