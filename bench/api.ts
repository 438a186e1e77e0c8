/**
 * Latency benchmark of the running service (issue #6), against the real local Redis:
 *
 *   1. cron tick → first byte archived: a schedule that fires at the next minute; the time from the
 *      scheduled minute to the first byte in an archive's `.partial` file (polled every 2 ms).
 *   2. "run now" → first byte: the same from `POST /api/backups`.
 *   3. The API under load while that run archives the data set: `--clients` concurrent clients
 *      (default 50) repeat what the OOB main screen asks — `GET /api/backups`, `GET /api/schedule`,
 *      `GET /api/jobs`, `GET /api/volumes`, `POST /api/backups` — each pausing `--think` ms (default 1000, jittered
 *      ±50 %) between requests, until that run's archives are all written (at most `--seconds`,
 *      default 30); latency percentiles per request. `--think=0` is a stress test instead: every
 *      client asks again as soon as it has its answer, so latency is queueing behind the others.
 *
 *   npm run bench:api                  1000 MiB data set (the one `npm run bench` generates)
 *   npm run bench:api -- 200 --clients=50 --seconds=20 --think=0
 *
 * Measured twice (`--topology=split|all-in-one` for one of them): with an API process and a worker
 * process, as docker-compose runs them, and with `npm start`'s all-in-one process (API, scheduler
 * and worker in one event loop: there every await of a request also waits for the archive's share
 * of the loop). The processes are started through tsx exactly like the integration tests start
 * them, with their own queue prefix and backup directory. Writes bench/results/api-latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Service } from '../test/helpers/service.js';
import { ensureDataSet } from './gen-data.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const sizeMiB = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1000);
const clients = Number(flag('clients') ?? 50);
const maxSeconds = Number(flag('seconds') ?? 30);
/** Pause of each client between its requests: a main screen polls (0 = as fast as answered). */
const thinkMs = Number(flag('think') ?? 1000);
const TOKEN = 'bench-api-token-0123456789abcdef';

const log = (msg: string) => console.log(`bench:api: ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Milliseconds from `since` (epoch ms) until some `.partial` in `dir` holds a byte. */
async function firstByteAfter(dir: string, since: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const name of fs.readdirSync(dir)) {
      if (!name.endsWith('.partial')) continue;
      const st = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
      if (st && st.size > 0) return Date.now() - since;
    }
    await sleep(2);
  }
  throw new Error(`no archive byte within ${timeoutMs} ms`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Sample {
  kind: string;
  status: number;
  ms: number;
}

const REQUESTS: { kind: string; method: string; url: string; body?: unknown }[] = [
  { kind: 'GET /api/backups', method: 'GET', url: '/api/backups' },
  { kind: 'GET /api/schedule', method: 'GET', url: '/api/schedule' },
  { kind: 'GET /api/jobs', method: 'GET', url: '/api/jobs?limit=50' },
  // The main screen's volume list (ui/overview.tsx polls it every 5 s while a job runs).
  { kind: 'GET /api/volumes', method: 'GET', url: '/api/volumes' },
  { kind: 'POST /api/backups', method: 'POST', url: '/api/backups', body: {} },
];

async function load(svc: Service, until: () => boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  const client = async (n: number) => {
    for (let i = n; !until(); i++) {
      const r = REQUESTS[i % REQUESTS.length]!;
      const t = performance.now();
      const res = await http(svc.url, r.method, r.url, r.body, TOKEN);
      samples.push({ kind: r.kind, status: res.status, ms: performance.now() - t });
      // Jittered, so that the clients do not march in step.
      if (thinkMs > 0) await sleep(thinkMs * (0.5 + Math.random()));
    }
  };
  await Promise.all(Array.from({ length: clients }, async (_, n) => {
    await sleep(Math.random() * thinkMs); // clients arrive spread over one pause
    await client(n);
  }));
  return samples;
}

/** The run's archives are not all written yet. */
function archiving(dir: string, files: string[]): boolean {
  return files.some((f) => !fs.existsSync(path.join(dir, f)));
}

type Topology = 'split' | 'all-in-one';

/** The processes of one topology: an API and a worker (as in docker-compose), or `npm start`'s one. */
async function startTopology(topology: Topology, env: Record<string, string>): Promise<{ api: Service; stop: () => Promise<void> }> {
  if (topology === 'all-in-one') {
    const one = await startService('start', env);
    return { api: one, stop: async () => void (await one.stop()) };
  }
  const worker = await startService('worker', env);
  const api = await startService('api', env).catch(async (err: unknown) => {
    await worker.stop();
    throw err;
  });
  return { api, stop: async () => void (await Promise.all([api.stop(), worker.stop()])) };
}

async function measure(topology: Topology, dataDir: string): Promise<Record<string, unknown>> {
  const fx = await makeFixture({ VOLUMES_DIR: dataDir /* its subdirectories are the volumes */, API_TOKEN: TOKEN, HOST: '127.0.0.1' });
  const { api: svc, stop } = await startTopology(topology, fx.env);
  log(`${topology}: API and worker up`);
  try {
    // 1. Tick → first byte. The schedule fires at the next full minute (in any time zone).
    if (60 - new Date().getSeconds() < 5) await sleep(6000);
    const next = new Date();
    next.setSeconds(0, 0);
    next.setMinutes(next.getMinutes() + 1);
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: String(next.getMinutes()), hour: '*', day: '*', month: '*', weekday: '*', keep: 10 }, TOKEN);
    if (put.status !== 200) throw new Error(`PUT /api/schedule answered ${put.status}: ${JSON.stringify(put.body)}`);
    log(`waiting for the scheduled tick at ${next.toISOString()}`);
    await waitFor(() => Date.now() >= next.getTime() - 500 || undefined, 70_000, 'the minute');
    const tickToFirstByte = await firstByteAfter(fx.backupDir, next.getTime());
    log(`cron tick → first byte archived: ${tickToFirstByte} ms`);
    await http(svc.url, 'DELETE', '/api/schedule', undefined, TOKEN);
    await waitForJobsSettled(svc.url, TOKEN, 600_000);

    // A service that has been up for a while has its request paths compiled: warm them up.
    for (let i = 0; i < 20; i++) for (const r of REQUESTS.filter((q) => q.method === 'GET')) await http(svc.url, r.method, r.url, r.body, TOKEN);

    // 2. and 3. "Run now" in a minute of its own (the tick's set holds its minute), not near the
    // minute's end, then the load.
    const left = 60 - new Date().getSeconds();
    if (left < 20 || Date.now() < next.getTime() + 60_000) await sleep(left * 1000 + 500);
    const t0 = Date.now();
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    const postMs = Date.now() - t0;
    if (run.status !== 202) throw new Error(`POST /api/backups answered ${run.status}: ${JSON.stringify(run.body)}`);
    const runToFirstByte = await firstByteAfter(fx.backupDir, t0);
    log(`POST /api/backups → 202 in ${postMs} ms, first byte after ${runToFirstByte} ms; ${clients} clients now`);
    const loadStart = Date.now();
    const files = (run.body.jobs as { file: string }[]).map((j) => j.file);
    const samples = await load(svc, () => Date.now() - loadStart > maxSeconds * 1000 || !archiving(fx.backupDir, files));
    const loadSeconds = (Date.now() - loadStart) / 1000;
    await waitForJobsSettled(svc.url, TOKEN, 600_000);

    const rows: Record<string, unknown>[] = [];
    const groups = new Map<string, number[]>();
    for (const s of samples) {
      const key = `${s.kind} ${s.status}`;
      const list = groups.get(key) ?? [];
      list.push(s.ms);
      groups.set(key, list);
    }
    groups.set('all', samples.map((s) => s.ms));
    console.log(`\n${topology}: ${samples.length} requests in ${loadSeconds.toFixed(1)} s while archiving (${clients} clients, pause ${thinkMs} ms)\n`);
    console.log(`${'request'.padEnd(26)} ${'n'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
    for (const [key, list] of groups) {
      list.sort((a, b) => a - b);
      const row = { request: key, n: list.length, p50: percentile(list, 50), p99: percentile(list, 99), max: list[list.length - 1] ?? NaN };
      rows.push(row);
      console.log(`${key.padEnd(26)} ${String(row.n).padStart(6)} ${row.p50.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(8)} ${row.max.toFixed(1).padStart(8)}`);
    }
    console.log(`\ncron tick → first byte archived: ${tickToFirstByte} ms`);
    console.log(`POST /api/backups → 202: ${postMs} ms (idle API), → first byte archived: ${runToFirstByte} ms`);
    return { topology, tickToFirstByteMs: tickToFirstByte, runNowPostMs: postMs, runNowToFirstByteMs: runToFirstByte, loadSeconds, requests: rows };
  } finally {
    await stop();
    await fx.cleanup();
  }
}

async function main(): Promise<void> {
  const ds = ensureDataSet(path.join(benchDir, 'data'), sizeMiB, log);
  const topologies: Topology[] = flag('topology') ? [flag('topology') as Topology] : ['split', 'all-in-one'];
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavgAtStart: os.loadavg() },
    sizeMiB,
    clients,
    thinkMs,
    runs: [] as Record<string, unknown>[],
  };
  for (const t of topologies) result.runs.push(await measure(t, ds.dir));
  fs.mkdirSync(path.join(benchDir, 'results'), { recursive: true });
  fs.writeFileSync(path.join(benchDir, 'results', 'api-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
