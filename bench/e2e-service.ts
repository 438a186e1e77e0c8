/**
 * The service as the end-to-end benchmark (bench/e2e.ts) runs it: an API process and one worker
 * process, as docker-compose runs them, against the real local Redis with a queue prefix of its own,
 * a backup directory of its own and VOLUMES pointing at the bench data set.
 *
 * Our code is compiled once with tsc into bench/data/.build-e2e-<pid> and started as `node
 * <out>/api/main.js` and `node <out>/jobs/main.js`, which is what the Docker image runs (`--tsx`
 * starts `node --import tsx src/...` instead, as the integration tests do; its loader adds RSS).
 *
 * The service's time is a test clock (NODE_ENV=test, OOB_TEST_CLOCK=file:<path>, see
 * src/runtime/clock.ts) holding an offset: the real time, moved ahead one minute whenever the bench
 * needs a fresh stamp ("run now" twice in one minute answers 409; a safety backup waits for a free
 * minute). Jobs, locks and BullMQ keep the real time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { deleteRedisPrefix, REDIS_URL, waitFor } from '../test/helpers/service.js';
import { WORKER_PROCESS_ENV, workerExecArgv } from '../src/runtime/worker-process.js';

export const API_TOKEN = 'bench-e2e-token-0123456789abcdef';

export interface ServiceProcess {
  proc: ChildProcess;
  pid: number;
  /** Base URL of the API; empty for the worker. */
  url: string;
  /** Everything it logged so far (pino JSON lines). */
  logs(): string;
  stop(): Promise<void>;
}

export interface BenchService {
  url: string;
  worker: ServiceProcess;
  backupDir: string;
  /** Moves the service's time one minute ahead: the next stamp is a fresh one. */
  nextMinute(): void;
  /** How the code runs, for the report (serviceRuntime). */
  runtime: string;
  /** Stops both processes, removes the backup directory, the build and the Redis keys of the prefix. */
  close(): Promise<void>;
}

/** How the service's code runs, in words. */
export function serviceRuntime(tsx: boolean): string {
  return tsx ? 'run through tsx (node --import tsx src/…, as the integration tests)' : 'compiled with tsc (node <out>/api/main.js, node <out>/jobs/main.js, as the Docker image)';
}

type Entry = { api: string[]; worker: string[] };

/** Compiles src/ into `outDir` (inside the project, so that node_modules resolve); the node arguments of each role. */
function compile(projectDir: string, outDir: string): Entry {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const tsconfig = path.join(outDir, 'tsconfig.json');
  const rel = (p: string) => path.relative(outDir, p);
  fs.writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: rel(path.join(projectDir, 'tsconfig.json')),
      compilerOptions: { rootDir: rel(path.join(projectDir, 'src')), outDir: '.', noEmit: false, sourceMap: false, declaration: false },
      include: [rel(path.join(projectDir, 'src'))],
    }),
  );
  const tsc = path.join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', tsconfig], { cwd: projectDir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling src/ failed:\n${r.stdout}${r.stderr}`);
  return { api: [path.join(outDir, 'api', 'main.js')], worker: [path.join(outDir, 'jobs', 'main.js')] };
}

const READY = {
  worker: /"msg":"workers started"/,
  api: /"msg":"API listening".*?"port":(\d+)|"port":(\d+)[^\n]*"msg":"API listening"/,
};

async function startProcess(role: 'api' | 'worker', args: string[], env: Record<string, string>, cwd: string): Promise<ServiceProcess> {
  const proc = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    // BENCH_LOG_DIR=<dir>: the process's whole log (pino JSON lines) kept for a closer look.
    const logDir = process.env.BENCH_LOG_DIR;
    if (logDir) {
      fs.mkdirSync(logDir, { recursive: true });
      fs.writeFileSync(path.join(logDir, `e2e-${role}-${proc.pid}.log`), out);
    }
  };
  try {
    const m = await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`service exited early (${role}):\n${out}`);
        return READY[role].exec(out) ?? undefined;
      },
      60_000,
      `the ${role} to start`,
    );
    const port = m[1] ?? m[2];
    return { proc, pid: proc.pid!, url: port ? `http://127.0.0.1:${port}` : '', logs: () => out, stop };
  } catch (err) {
    proc.kill('SIGKILL');
    await exited;
    throw err;
  }
}

export interface ServiceOptions {
  projectDir: string;
  /** Where the backup directory and the build go (the bench data set's disk). */
  workDir: string;
  volumes: { name: string; dir: string }[];
  /** WORKER_NICE of the worker (docker-compose's default is 10). */
  workerNice: number;
  tsx: boolean;
}

export async function startBenchService(o: ServiceOptions): Promise<BenchService> {
  const prefix = `bench-e2e-${randomUUID().slice(0, 8)}`;
  const backupDir = path.join(o.workDir, 'backup');
  const buildDir = path.join(o.workDir, 'build');
  const clockFile = path.join(o.workDir, 'clock');
  fs.mkdirSync(backupDir, { recursive: true });
  let offsetMs = 0;
  const writeClock = () => {
    fs.writeFileSync(`${clockFile}.tmp`, `+${offsetMs}\n`);
    fs.renameSync(`${clockFile}.tmp`, clockFile);
  };
  writeClock();
  const env: Record<string, string> = {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    BACKUP_DIR: backupDir,
    DATA_DIR: path.join(o.workDir, 'data'),
    VOLUMES: o.volumes.map((v) => `${v.name}=${v.dir}`).join(','),
    TZ: 'Europe/Zurich',
    HOST: '127.0.0.1',
    PORT: '0',
    API_TOKEN,
    LOG_LEVEL: 'info',
    ARCHIVE_ATTEMPTS: '1',
    CATCH_UP: '0',
    WORKER_NICE: String(o.workerNice),
    NODE_ENV: 'test',
    OOB_TEST_CLOCK: `file:${clockFile}`,
    // libdeflate unless GZIP_INFLATE says otherwise: a worker that cannot load it refuses to start,
    // so a run never measures zlib while saying libdeflate.
    GZIP_INFLATE: process.env.GZIP_INFLATE ?? 'libdeflate',
    // A restore's early flushes (README, Restore), to compare settings on one disk.
    ...(process.env.RESTORE_WRITEBACK_MIB !== undefined ? { RESTORE_WRITEBACK_MIB: process.env.RESTORE_WRITEBACK_MIB } : {}),
  };
  const entry: Entry = o.tsx
    ? { api: ['--import', 'tsx', 'src/api/main.ts'], worker: ['--import', 'tsx', 'src/jobs/main.ts'] }
    : compile(o.projectDir, buildDir);
  const cleanup = async () => {
    await deleteRedisPrefix(prefix);
    fs.rmSync(backupDir, { recursive: true, force: true });
    fs.rmSync(buildDir, { recursive: true, force: true });
    fs.rmSync(path.join(o.workDir, 'data'), { recursive: true, force: true });
    fs.rmSync(clockFile, { force: true });
  };
  let worker: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;
  try {
    // Started as every deployed worker is (npm start, compose; src/runtime/worker-process.ts):
    // otherwise its peak RSS is not the deployed one (without --expose-gc ~100 MB more).
    worker = await startProcess('worker', [...workerExecArgv([]), ...entry.worker], { ...WORKER_PROCESS_ENV, ...env }, o.projectDir);
    api = await startProcess('api', entry.api, env, o.projectDir);
  } catch (err) {
    await worker?.stop();
    await cleanup();
    throw err;
  }
  const [w, a] = [worker, api];
  return {
    url: a.url,
    worker: w,
    backupDir,
    nextMinute() {
      offsetMs += 60_000;
      writeClock();
    },
    runtime: serviceRuntime(o.tsx),
    async close() {
      await Promise.all([a.stop(), w.stop()]);
      await cleanup();
    },
  };
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false where the kernel does not allow it. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** A field of /proc/<pid>/status in MiB (undefined when /proc has no answer). */
function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const kB = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kB === undefined ? undefined : Number(kB) / 1024;
  } catch {
    return undefined;
  }
}

/** The peak RSS (VmHWM) of a process in MiB, since its start or the last resetPeakRss. */
export const peakRssMiB = (pid: number) => statusMiB(pid, 'VmHWM');
/** The current RSS of a process in MiB. */
export const rssMiB = (pid: number) => statusMiB(pid, 'VmRSS');
