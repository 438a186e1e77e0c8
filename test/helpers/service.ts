/**
 * Starts the real service as a child process (exactly what `npm start` / `start:api` /
 * `start:worker` run) against the real local Redis, with its own queue prefix and temp dirs, and
 * removes all of it afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { TestClock } from './clock.js';
import { buildIsStale } from './fresh-build.js';
import { WORKER_PROCESS_ENV, workerExecArgv } from '../../src/runtime/worker-process.js';

/**
 * Where the tests find Redis and MariaDB: the machine's own on the standard ports, or what
 * test/run.ts found or started (throwaway servers when nothing answered there).
 */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The tests' MariaDB: root without password. */
export const MARIADB = { host: process.env.TEST_MARIADB_HOST ?? '127.0.0.1', port: Number(process.env.TEST_MARIADB_PORT ?? 3306) };
/** The service's DB_* variables for that MariaDB (add the test's DB_NAME). */
export const DB_ENV = { DB_HOST: MARIADB.host, DB_PORT: String(MARIADB.port), DB_USER: 'root' };
/** Connection arguments of `mariadb` and `mariadb-dump` for that MariaDB, as root. */
export const MARIADB_ARGS = ['-h', MARIADB.host, '-P', String(MARIADB.port), '-u', 'root'];
const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * The compiled entry points, as the Docker image and `npm start` run them (test/run.ts builds dist/
 * from src/ first, helpers/fresh-build.ts): tsx would cost each process ~1.5 CPU-seconds more.
 */
export const ENTRY = { start: 'dist/start.js', api: 'dist/api/main.js', worker: 'dist/jobs/main.js' } as const;

export interface Fixture {
  root: string;
  prefix: string;
  volumesDir: string;
  backupDir: string;
  env: Record<string, string>;
  /** The service's time, when the fixture was made with `{ clock }`; otherwise it runs on the real time. */
  clock: TestClock;
  cleanup(): Promise<void>;
}

/**
 * Temp dirs and a fresh queue prefix; `env` is what a service process for them needs. `clock`: the
 * service's time starts there (e.g. TEST_START) and moves only when the test moves it.
 */
export async function makeFixture(extraEnv: Record<string, string> = {}, opts: { clock?: string } = {}): Promise<Fixture> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-test-'));
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const volumesDir = path.join(root, 'volumes');
  const backupDir = path.join(root, 'backup');
  await fs.mkdir(volumesDir);
  await fs.mkdir(backupDir);
  const clock = opts.clock === undefined ? realTime : await TestClock.create(path.join(root, 'clock'), opts.clock);
  const env = {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    VOLUMES_DIR: volumesDir,
    BACKUP_DIR: backupDir,
    DATA_DIR: path.join(root, 'data'),
    TZ: 'Europe/Zurich',
    PORT: '0',
    LOG_LEVEL: 'info',
    ARCHIVE_ATTEMPTS: '1',
    // The default schedule's last tick has no set in a fresh fixture: tests opt in to catch-up.
    CATCH_UP: '0',
    ...(opts.clock === undefined ? {} : clock.env),
    ...extraEnv,
  };
  return {
    root,
    prefix,
    volumesDir,
    backupDir,
    env,
    clock,
    async cleanup() {
      await deleteRedisPrefix(prefix);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/** The clock of a fixture without a test clock: using it is a mistake in the test. */
const realTime = new Proxy({} as TestClock, {
  get() {
    throw new Error('this fixture runs on the real time: make it with makeFixture(env, { clock: TEST_START })');
  },
});

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface Service {
  proc: ChildProcess;
  /** Base URL; empty for a worker (it serves no HTTP). */
  url: string;
  logs: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `opts.cwd`: run from another copy of the project (default: this one). */
export async function startService(role: keyof typeof ENTRY, env: Record<string, string>, opts: { cwd?: string } = {}): Promise<Service> {
  // Started as in production: a worker as compose and `npm run start:worker` start it
  // (src/runtime/worker-process.ts); `start` as `npm start` (its worker child adds the rest).
  const worker = role === 'worker';
  // Run without test/run.ts (plain `node --test`), nothing may have built dist/: say so, not "exited early".
  if (!(await fs.stat(path.join(opts.cwd ?? ROOT, ENTRY[role])).catch(() => undefined))) {
    throw new Error(`${ENTRY[role]} is missing: run the tests through test/run.ts (it builds dist/), or npm run build`);
  }
  // A dist/ older than src/ runs the code from before a change: a test could pass against it.
  const cwd = opts.cwd ?? ROOT;
  if ((await fs.stat(path.join(cwd, 'src')).catch(() => undefined)) && buildIsStale(cwd)) {
    throw new Error(`${path.join(cwd, 'dist')} is older than src/, ui/ or the build's configuration: run the tests through test/run.ts (it builds dist/ first)`);
  }
  const proc = spawn(process.execPath, [...(worker ? workerExecArgv([]) : ['--expose-gc']), ENTRY[role]], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...(worker ? WORKER_PROCESS_ENV : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return boundedExit(proc, exited, `the ${role} process`, signal, () => out);
  };
  const ready = role === 'worker' ? /"msg":"workers started"/ : /"msg":"API listening".*?"port":(\d+)|"port":(\d+)[^\n]*"msg":"API listening"/;
  try {
    const m = await waitFor(async () => ready.exec(out) ?? (proc.exitCode !== null ? fatal(out) : undefined), 30_000, `${role} to start`);
    // `npm start` runs its worker as a child process: ready once that one has started too.
    if (role === 'start') await waitFor(async () => /"msg":"workers started"/.test(out) || (proc.exitCode !== null ? fatal(out) : false), 30_000, 'the worker process to start');
    const port = m[1] ?? m[2];
    return { proc, url: port ? `http://127.0.0.1:${port}` : '', logs: () => out, stop };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

/**
 * Several services started side by side. If one fails to start, the others are killed before the
 * error is thrown: a service nobody holds any more would keep the test file's process alive.
 */
export async function startServices<T extends [keyof typeof ENTRY, Record<string, string>][]>(...specs: T): Promise<{ [K in keyof T]: Service }> {
  const started = await Promise.allSettled(specs.map(([role, env]) => startService(role, env)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop('SIGKILL')] : [])));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<Service>).value) as { [K in keyof T]: Service };
}

/**
 * The service ends on its own after a signal (SIGTERM: within SHUTDOWN_TIMEOUT plus its grace).
 * One that does not is a failure of the test that says so, not a test run that hangs until CI
 * gives up: killed, and the end of its log shown.
 */
export const STOP_LIMIT_MS = 90_000;

async function boundedExit<T>(proc: ChildProcess, exited: Promise<T>, what: string, signal: string, logs: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_LIMIT_MS)));
  const first = await Promise.race([exited, late]).finally(() => clearTimeout(timer));
  if (first !== 'late') return first;
  proc.kill('SIGKILL');
  await exited;
  throw new Error(`${what} did not exit within ${STOP_LIMIT_MS / 1000} s of ${signal}; killed. Its log ends:\n${logs().slice(-4000)}`);
}

function fatal(out: string): never {
  throw new Error(`service exited early:\n${out}`);
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if ((err as Error).message.startsWith('service exited early')) throw err;
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

export interface HttpResult {
  status: number;
  body: any;
}

export async function http(base: string, method: string, url: string, body?: unknown, token?: string): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  // Bounded, so that a service that stops answering fails the test instead of hanging the run.
  const res = await fetch(base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body: parsed };
}

/**
 * Jobs of the API's list once none is waiting, active, delayed or waiting for children; the
 * scheduler's next run, always waiting in the delayed set, does not count. The API reads each
 * state's list one after another (src/api/handlers/jobs.ts), so a job that moves between two of
 * them can be missing from one answer: settled means two answers in a row list the same jobs in
 * the same final states.
 */
export async function waitForJobsSettled(base: string, token: string | undefined, timeoutMs = 60_000): Promise<any[]> {
  let previous = '';
  return waitFor(
    async () => {
      const r = await http(base, 'GET', '/api/jobs?limit=1000', undefined, token);
      const jobs = (r.body.jobs as { id: string; state: string; queue: string }[]).filter((j) => !(j.queue === 'schedule' && j.state === 'delayed'));
      const settled = jobs.length > 0 && jobs.every((j) => j.state === 'completed' || j.state === 'failed');
      const seen = settled ? jobs.map((j) => `${j.queue}/${j.id}/${j.state}`).sort().join(' ') : '';
      const same = settled && seen === previous;
      previous = seen;
      return same ? jobs : undefined;
    },
    timeoutMs,
    'all jobs to finish',
  );
}

/** "Run now", then wait for its jobs; the stamp of the set. (A second set needs a new minute: move the fixture's clock.) */
/** A restore through the API as the screens do it: the request, its confirmation, then its end (completed or failed). */
export async function restoreAndWait(base: string, body: Record<string, unknown>, o: { token?: string; confirm?: Record<string, unknown> } = {}): Promise<any> {
  const req = await http(base, 'POST', '/api/restores', body, o.token);
  if (req.status !== 201) throw new Error(`restore request answered ${req.status}: ${JSON.stringify(req.body)}`);
  const conf = await http(base, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token, ...o.confirm }, o.token);
  if (conf.status !== 202) throw new Error(`confirmation answered ${conf.status}: ${JSON.stringify(conf.body)}`);
  return waitFor(async () => {
    const x = (await http(base, 'GET', `/api/restores/${req.body.id}`, undefined, o.token)).body;
    return x.state === 'completed' || x.state === 'failed' ? x : undefined;
  }, 60_000, 'the restore to end');
}

export async function runNowAndSettle(base: string, token?: string, body: unknown = {}): Promise<string> {
  const r = await http(base, 'POST', '/api/backups', body, token);
  if (r.status !== 202) throw new Error(`run now answered ${r.status}: ${JSON.stringify(r.body)}`);
  await waitForJobsSettled(base, token);
  return r.body.stamp;
}
