/**
 * Archive/restore benchmark: our writer and restore (the functions the workers call) against GNU tar
 * and tar | pigz on the same synthetic data set, in the same run, alternating, several repetitions.
 *
 *   npm run bench                      1000 MiB data set, 3 repetitions, all tools
 *   npm run bench -- 200               quick: 200 MiB
 *   npm run bench -- 4096 --tools=ours --reps=1     peak RSS at 4 GiB (compare with 1000)
 *
 * Options: --reps=N, --tools=ours,seq,gnu,pigz,ours-gnu (default all available), --level=N (our gzip
 * level; default GZIP_LEVEL or the recommended 4), --extra-levels=6,... (more rows of ours at other
 * levels), --no-verify (skip the check that our restore reproduces the volume), --tsx (run our code
 * through tsx instead of compiling it first), --no-api (skip the latency part, bench/api.ts, that
 * otherwise runs at the end), --no-files (skip the peak-RSS run over a volume of --files=N small files,
 * default 1,000,000, bench/many-files.ts, that otherwise runs next), --no-e2e (skip the end-to-end part
 * through the REST API, bench/e2e.ts, that otherwise runs last; --e2e-reps=N its repetitions, default
 * 2), --no-incremental (skip incremental archives against GNU tar's --listed-incremental,
 * bench/incremental.ts, that otherwise runs at the very end; --walk-files=N,... the tree sizes of
 * its walk-cost part, default 100000,1000000), --no-offsite (skip the off-site copy part,
 * bench/offsite.ts), --target=DIR (extract there instead of under bench/data, e.g. on another
 * file system; see BENCHMARKS.md), --restore-threads=auto|on|off (our restore's writer threads: as
 * by default, from the first file, or never).
 *
 * Prints one table (median seconds; MiB/s of volume content; × GNU tar = GNU tar's seconds / the
 * tool's; archive size and its ratio to GNU tar's gzip -6 archive; peak RSS), and writes
 * bench/results/latest.json and bench/results/latest.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECOMMENDED_GZIP_LEVEL } from '../src/engine/gzip/parallel-gzip.js';
import { assertSameTree, snapshotTree } from '../test/helpers/tree.js';
import { ensureDataSet, type VolumeInfo } from './gen-data.js';
import { WORKER_PROCESS_ENV, workerExecArgv } from '../src/runtime/worker-process.js';
import { fileSystemOf } from './file-system.js';

const MiB = 1024 * 1024;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const projectDir = path.dirname(benchDir);
const dataRoot = path.join(benchDir, 'data');
const resultsDir = path.join(benchDir, 'results');

// ---------------------------------------------------------------------------------------------
// Arguments

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const has = (name: string) => argv.includes(`--${name}`);
const sizeMiB = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1000);
const reps = Number(flag('reps') ?? 3);
const level = Number(flag('level') ?? process.env.GZIP_LEVEL ?? RECOMMENDED_GZIP_LEVEL);
const extraLevels = (flag('extra-levels') ?? '').split(',').filter(Boolean).map(Number);
const verify = !has('no-verify');
const target = flag('target');
const restoreThreads = flag('restore-threads') ?? 'auto';
if (!['auto', 'on', 'off'].includes(restoreThreads)) throw new Error('--restore-threads must be auto, on or off');
process.env.BENCH_RESTORE_THREADS = restoreThreads; // read by the child (bench/child.ts)
if (!Number.isInteger(sizeMiB) || sizeMiB < 10) throw new Error(`size must be at least 10 MiB, got ${sizeMiB}`);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer`);

// ---------------------------------------------------------------------------------------------
// Environment

function commandOk(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
const haveTime = fs.existsSync('/usr/bin/time') && commandOk('/usr/bin/time', ['-f', '%M', 'true']);
const havePigz = commandOk('pigz', ['--version']);
const haveTar = commandOk('tar', ['--version']);

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? ((r.stdout || r.stderr).split('\n')[0] ?? '').trim() : 'n/a';
}

function machine(): Record<string, string | number> {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'n/a';
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: model,
    ramGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    disk: `${fileSystemOf(dataRoot)}, bench dir on it`,
    extractTo: target ? `${path.resolve(target)} on ${fileSystemOf(target)}` : 'the bench dir',
    kernel: os.release(),
    node: process.version,
    tar: firstLine('tar', ['--version']),
    pigz: havePigz ? firstLine('pigz', ['--version']) : 'not installed',
    loadavgAtStart: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

// ---------------------------------------------------------------------------------------------
// Running things

interface Run {
  seconds: number;
  bytes?: number;
  maxRssKiB?: number;
  /** Our restore: files its writer threads created. */
  threadedFiles?: number;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const env = opts.env ? { ...process.env, ...opts.env } : process.env;
    const child = spawn(cmd, args, { cwd: opts.cwd ?? projectDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`));
      else resolve({ stdout, seconds });
    });
  });
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A shell pipeline, each command under /usr/bin/time when available: wall seconds and summed peak RSS. */
async function shell(commands: string[], redirectOut?: string): Promise<Run> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-bench-'));
  try {
    const parts = commands.map((c, i) => (haveTime ? `/usr/bin/time -f %M -o ${q(path.join(tmp, `rss${i}`))} ${c}` : c));
    const script = `set -o pipefail; ${parts.join(' | ')}${redirectOut ? ` > ${q(redirectOut)}` : ''}`;
    const r = await run('bash', ['-c', script]);
    let maxRssKiB: number | undefined;
    if (haveTime) {
      maxRssKiB = 0;
      for (let i = 0; i < commands.length; i++) {
        const lines = fs.readFileSync(path.join(tmp, `rss${i}`), 'utf8').trim().split('\n');
        maxRssKiB += Number(lines.at(-1));
      }
    }
    return { seconds: r.seconds, maxRssKiB };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// Node flags and environment as the worker runs in production (src/runtime/worker-process.ts).
let childCmd: { cmd: string; args: string[]; runtime: string } = { cmd: 'node', args: [...workerExecArgv(['--import', 'tsx']), path.join(benchDir, 'child.ts')], runtime: 'tsx' };

/** Compile src + bench/child.ts like the Docker build does, so the child runs as production does. */
function compileChild(): void {
  if (has('tsx')) return;
  const buildDir = path.join(dataRoot, '.build');
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.mkdirSync(buildDir, { recursive: true });
  const tsconfig = path.join(dataRoot, 'tsconfig.bench.json');
  fs.writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: '../../tsconfig.json',
      compilerOptions: { rootDir: '../..', outDir: '.build', noEmit: false, sourceMap: false, declaration: false },
      include: ['../../src', '../child.ts'],
    }),
  );
  const tsc = path.join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc');
  spawnSync(process.execPath, [tsc, '-p', tsconfig], { cwd: projectDir, stdio: 'ignore' });
  const js = path.join(buildDir, 'bench', 'child.js');
  if (fs.existsSync(js) && commandOk(process.execPath, [js, 'idle'])) {
    childCmd = { cmd: process.execPath, args: [...workerExecArgv([]), js], runtime: 'compiled (tsc, like the Docker image)' };
  } else {
    console.error('bench: compiling the child failed; running our code through tsx (its loader adds ~35 MiB RSS)');
  }
}

async function child(args: string[]): Promise<Run> {
  const r = await run(childCmd.cmd, [...childCmd.args, ...args], { env: { ...WORKER_PROCESS_ENV, ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}) } });
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Run;
  return j;
}

function syncDisk(): void {
  spawnSync('sync');
}

// ---------------------------------------------------------------------------------------------
// Tools

interface Tool {
  name: string;
  describe: string;
  create?: (vol: VolumeInfo, out: string) => Promise<Run>;
  extract?: (archive: string, dest: string) => Promise<Run>;
  /** Whose archive `extract` restores (default: its own). */
  archiveOf?: string;
}

function oursTool(name: string, lvl: number, parallel: boolean, describe: string): Tool {
  return {
    name,
    describe,
    create: async (vol, out) => {
      const r = await child(['create', vol.dir, path.dirname(out), path.basename(out), String(lvl), parallel ? '1' : '0']);
      for (const ext of ['.sha256', '.manifest.json']) fs.rmSync(out + ext, { force: true });
      return r;
    },
    extract: (archive, dest) => child(['extract', archive, dest]),
  };
}

const allTools: Tool[] = [
  oursTool('ours', level, true, `archiveVolume/extractArchive, parallel gzip level ${level}`),
  ...extraLevels.map((l) => oursTool(`ours-L${l}`, l, true, `the same at gzip level ${l}`)),
  oursTool('seq', level, false, `the same with GZIP_PARALLEL=0 (one sequential gzip stream, level ${level})`),
  {
    name: 'gnu',
    describe: 'GNU tar -czf / -xzf (gzip -6)',
    create: (vol, out) => shell([`tar -C ${q(vol.dir)} -czf ${q(out)} .`]),
    extract: (archive, dest) => shell([`tar -C ${q(dest)} -xzf ${q(archive)}`]),
  },
  {
    name: 'pigz',
    describe: 'tar -cf - | pigz -6 (all cores) / pigz -dc | tar -xf -',
    create: (vol, out) => shell([`tar -C ${q(vol.dir)} -cf - .`, 'pigz -6'], out),
    extract: (archive, dest) => shell([`pigz -dc ${q(archive)}`, `tar -C ${q(dest)} -xf -`]),
  },
  {
    name: 'ours-gnu',
    describe: "extractArchive of GNU tar's archive (restore of an archive not made by us)",
    archiveOf: 'gnu',
    extract: (archive, dest) => child(['extract', archive, dest]),
  },
];

const wanted = (flag('tools') ?? allTools.map((t) => t.name).join(',')).split(',');
const tools = allTools.filter((t) => {
  if (!wanted.includes(t.name) && !(t.name.startsWith('ours-L') && wanted.includes('ours'))) return false;
  if ((t.name === 'gnu' || t.name === 'ours-gnu') && !haveTar) return false;
  if (t.name === 'pigz' && (!havePigz || !haveTar)) return false;
  if (t.archiveOf && !wanted.includes(t.archiveOf)) return false;
  return true;
});

// ---------------------------------------------------------------------------------------------
// The run

interface Sample {
  tool: string;
  op: 'create' | 'extract';
  volume: string;
  rep: number;
  seconds: number;
  bytes?: number;
  maxRssKiB?: number;
  threadedFiles?: number;
}

function rotate<T>(a: T[], n: number): T[] {
  const k = n % Math.max(1, a.length);
  return [...a.slice(k), ...a.slice(0, k)];
}

async function main(): Promise<void> {
  const started = Date.now();
  const info = machine();
  console.error(`bench: ${sizeMiB} MiB, ${reps} repetition(s), tools: ${tools.map((t) => t.name).join(', ')}; pigz ${havePigz ? 'found' : 'not installed'}; /usr/bin/time ${haveTime ? 'found' : 'not found (no RSS for tar/pigz)'}`);
  const ds = ensureDataSet(dataRoot, sizeMiB, (m) => console.error(`bench: ${m}`));
  compileChild();
  console.error(`bench: our code runs ${childCmd.runtime}`);
  const idle = await child(['idle']);

  const work = path.join(dataRoot, `work-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  /** Where extractions go: `x` under the work directory, or under --target. */
  const extractRoot = target ? path.join(path.resolve(target), `oob-bench-x-${process.pid}`) : path.join(work, 'x');
  const samples: Sample[] = [];
  const archivePath = (tool: string, vol: string) => path.join(work, tool, `${vol}.tar.gz`);
  const log = (s: Sample) =>
    console.error(
      `bench: rep ${s.rep} ${s.op.padEnd(7)} ${s.tool.padEnd(9)} ${s.volume.padEnd(10)} ${s.seconds.toFixed(2).padStart(7)} s` +
        (s.bytes !== undefined ? ` ${(s.bytes / MiB).toFixed(1)} MiB` : '') +
        (s.maxRssKiB !== undefined ? ` rss ${(s.maxRssKiB / 1024).toFixed(0)} MiB` : '') +
        (s.threadedFiles ? ` (${s.threadedFiles} files by writer threads)` : ''),
    );
  const warmUpExtract = async (vol: VolumeInfo, dest: string) => {
    const t = tools.find((x) => x.name === 'gnu') ?? tools.find((x) => x.extract && x.create);
    if (!t?.extract) return;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (t.name === 'gnu' || t.name === 'pigz') fs.mkdirSync(dest);
    syncDisk();
    await t.extract(archivePath(t.name, vol.name), dest);
  };
  let verified = false;
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const t of tools) if (t.create) fs.mkdirSync(path.join(work, t.name), { recursive: true });
      // Create: per volume, every tool in turn (the order rotates with the repetition).
      for (const vol of ds.volumes) {
        for (const t of rotate(tools, rep - 1)) {
          if (!t.create) continue;
          const out = archivePath(t.name, vol.name);
          fs.rmSync(out, { force: true });
          syncDisk();
          const r = await t.create(vol, out);
          const s: Sample = { tool: t.name, op: 'create', volume: vol.name, rep, seconds: r.seconds, bytes: fs.statSync(out).size, maxRssKiB: r.maxRssKiB };
          samples.push(s);
          log(s);
        }
      }
      // Extract: each tool its own archive (ours-gnu: GNU tar's), into a fresh directory.
      for (const vol of ds.volumes) {
        // One unmeasured extraction first: whoever comes first after another volume's extractions
        // otherwise pays for their leftovers (writeback, journal), ~1 s for the 20,000 files.
        await warmUpExtract(vol, path.join(extractRoot, `warm-up-${vol.name}`));
        for (const t of rotate(tools, rep - 1)) {
          if (!t.extract) continue;
          const archive = archivePath(t.archiveOf ?? t.name, vol.name);
          const dest = path.join(extractRoot, `${t.name}-${vol.name}`);
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          // GNU tar and pigz extract into an existing directory; extractArchive creates its staging dir.
          if (t.name === 'gnu' || t.name === 'pigz') fs.mkdirSync(dest);
          syncDisk();
          const r = await t.extract(archive, dest);
          const s: Sample = { tool: t.name, op: 'extract', volume: vol.name, rep, seconds: r.seconds, maxRssKiB: r.maxRssKiB, threadedFiles: r.threadedFiles };
          samples.push(s);
          log(s);
          if (verify && rep === 1 && t.name === 'ours') {
            // Outside the timing: the restore reproduces the volume (content, modes, owners, mtimes).
            const ignore = (p: string) => (p === '.' ? (['mode', 'uid', 'gid', 'mtime'] as const) : []);
            assertSameTree(await snapshotTree(vol.dir), await snapshotTree(dest), { ignore });
            verified = true;
          }
        }
      }
      // Deleting 20,000 files makes the file system slow for a while (journal, discard): do it once
      // per repetition, outside any measurement, and let the disk settle before the next one.
      fs.rmSync(work, { recursive: true, force: true });
      fs.rmSync(extractRoot, { recursive: true, force: true });
      syncDisk();
      await new Promise((r) => setTimeout(r, 5000));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(extractRoot, { recursive: true, force: true });
  }

  const rows = summarize(ds.volumes, samples);
  const table = formatTable(rows);
  console.log(table);
  const minutes = (Date.now() - started) / 60000;
  console.error(`bench: done in ${minutes.toFixed(1)} min`);
  fs.mkdirSync(resultsDir, { recursive: true });
  const result = {
    machine: { ...info, loadavgAtEnd: os.loadavg().map((l) => l.toFixed(2)).join(' ') },
    sizeMiB,
    reps,
    level,
    runtime: childCmd.runtime,
    idleChildRssKiB: idle.maxRssKiB,
    restoreVerified: verified,
    minutes: Math.round(minutes * 10) / 10,
    dataSet: ds.volumes.map((v) => ({ name: v.name, MiB: Math.round((v.bytes / MiB) * 10) / 10, files: v.files })),
    tools: tools.map((t) => ({ name: t.name, describe: t.describe })),
    rows,
    samples,
  };
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `${sizeMiB} MiB data set, ${reps} repetition(s), medians; our code ${childCmd.runtime}, gzip level ${level}.`,
    `Machine: ${info.nproc} cores, ${info.cpu}, ${info.ramGiB} GiB RAM, ${info.disk}; extractions to ${info.extractTo}; ${info.date}; load ${info.loadavgAtStart} → ${result.machine.loadavgAtEnd}.`,
    `Idle child process (node + our modules): ${((idle.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB RSS.`,
    '',
    '```',
    table,
    '```',
    '',
    ...tools.map((t) => `- \`${t.name}\`: ${t.describe}`),
  ].join('\n');
  fs.writeFileSync(path.join(resultsDir, 'latest.md'), `${md}\n`);

  // The latency targets (cron tick → first byte, the API under load while archiving): bench/api.ts.
  if (!has('no-api')) {
    const api = spawnSync(process.execPath, ['--import', 'tsx', path.join(benchDir, 'api.ts'), String(sizeMiB)], { cwd: projectDir, stdio: 'inherit' });
    if (api.status !== 0) throw new Error(`bench/api.ts failed (exit ${api.status})`);
  }
  // Memory with a million files (archive, verify, restore): bench/many-files.ts.
  if (!has('no-files')) {
    const files = spawnSync(process.execPath, ['--import', 'tsx', path.join(benchDir, 'many-files.ts'), flag('files') ?? '1000000'], { cwd: projectDir, stdio: 'inherit' });
    if (files.status !== 0) throw new Error(`bench/many-files.ts failed (exit ${files.status})`);
  }
  // The service as a user runs it, through the REST API, against GNU tar: bench/e2e.ts.
  if (!has('no-e2e')) {
    const e2eArgs = [path.join(benchDir, 'e2e.ts'), String(sizeMiB), `--reps=${flag('e2e-reps') ?? 2}`];
    const e2e = spawnSync(process.execPath, ['--import', 'tsx', ...e2eArgs], { cwd: projectDir, stdio: 'inherit' });
    if (e2e.status !== 0) throw new Error(`bench/e2e.ts failed (exit ${e2e.status})`);
  }
  // Incremental archives against GNU tar's --listed-incremental (issue 16): bench/incremental.ts.
  if (!has('no-incremental')) {
    const incArgs = [path.join(benchDir, 'incremental.ts'), String(sizeMiB), `--walk-files=${flag('walk-files') ?? '100000,1000000'}`];
    const inc = spawnSync(process.execPath, ['--import', 'tsx', ...incArgs], { cwd: projectDir, stdio: 'inherit' });
    if (inc.status !== 0) throw new Error(`bench/incremental.ts failed (exit ${inc.status})`);
  }
  // Off-site copies against rclone copy, to a local SFTP target: bench/offsite.ts.
  if (!has('no-offsite')) {
    const offsite = spawnSync(process.execPath, ['--import', 'tsx', path.join(benchDir, 'offsite.ts'), String(Math.min(sizeMiB, 1000))], { cwd: projectDir, stdio: 'inherit' });
    if (offsite.status !== 0) throw new Error(`bench/offsite.ts failed (exit ${offsite.status})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Summary

interface Row {
  tool: string;
  op: 'create' | 'extract';
  volume: string;
  MiB: number;
  seconds: number;
  secondsMin: number;
  secondsMax: number;
  MiBps: number;
  vsGnu: number | null;
  outputMiB: number | null;
  sizeVsGnu: number | null;
  peakRssMiB: number | null;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarize(volumes: VolumeInfo[], samples: Sample[]): Row[] {
  const rows: Row[] = [];
  const names = [...volumes.map((v) => v.name), 'total'];
  const totalBytes = volumes.reduce((a, v) => a + v.bytes, 0);
  const pick = (tool: string, op: string, volume: string) => {
    if (volume !== 'total') return samples.filter((s) => s.tool === tool && s.op === op && s.volume === volume);
    // Per repetition: the sum over the volumes.
    const byRep = new Map<number, Sample>();
    for (const s of samples.filter((x) => x.tool === tool && x.op === op)) {
      const t = byRep.get(s.rep) ?? { ...s, volume: 'total', seconds: 0, bytes: s.bytes === undefined ? undefined : 0, maxRssKiB: s.maxRssKiB === undefined ? undefined : 0 };
      t.seconds += s.seconds;
      if (s.bytes !== undefined) t.bytes = (t.bytes ?? 0) + s.bytes;
      if (s.maxRssKiB !== undefined) t.maxRssKiB = Math.max(t.maxRssKiB ?? 0, s.maxRssKiB);
      byRep.set(s.rep, t);
    }
    return [...byRep.values()];
  };
  for (const op of ['create', 'extract'] as const) {
    for (const volume of names) {
      const bytes = volume === 'total' ? totalBytes : volumes.find((v) => v.name === volume)!.bytes;
      const gnu = pick('gnu', op, volume);
      const gnuSec = gnu.length ? median(gnu.map((s) => s.seconds)) : null;
      const gnuOut = gnu.length && gnu[0]!.bytes !== undefined ? median(gnu.map((s) => s.bytes!)) : null;
      for (const t of tools) {
        const ss = pick(t.name, op, volume);
        if (!ss.length) continue;
        const sec = median(ss.map((s) => s.seconds));
        const out = ss[0]!.bytes !== undefined ? median(ss.map((s) => s.bytes!)) : null;
        const rss = ss.some((s) => s.maxRssKiB !== undefined) ? Math.max(...ss.map((s) => s.maxRssKiB ?? 0)) / 1024 : null;
        rows.push({
          tool: t.name,
          op,
          volume,
          MiB: Math.round((bytes / MiB) * 10) / 10,
          seconds: round(sec, 3),
          secondsMin: round(Math.min(...ss.map((s) => s.seconds)), 3),
          secondsMax: round(Math.max(...ss.map((s) => s.seconds)), 3),
          MiBps: round(bytes / MiB / sec, 1),
          vsGnu: gnuSec === null ? null : round(gnuSec / sec, 2),
          outputMiB: out === null ? null : round(out / MiB, 1),
          sizeVsGnu: out === null || gnuOut === null ? null : round(out / gnuOut, 4),
          peakRssMiB: rss === null ? null : round(rss, 0),
        });
      }
    }
  }
  return rows;
}

function round(n: number, d: number): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

function formatTable(rows: Row[]): string {
  const head = ['tool', 'op', 'volume', 'MiB', 'seconds', 'min-max', 'MiB/s', 'x GNU tar', 'output MiB', 'size vs gzip -6', 'peak RSS MiB'];
  const body = rows.map((r) => [
    r.tool,
    r.op,
    r.volume,
    r.MiB.toFixed(1),
    r.seconds.toFixed(2),
    `${r.secondsMin.toFixed(2)}-${r.secondsMax.toFixed(2)}`,
    r.MiBps.toFixed(1),
    r.vsGnu === null ? '' : `${r.vsGnu.toFixed(2)}x`,
    r.outputMiB === null ? '' : r.outputMiB.toFixed(1),
    r.sizeVsGnu === null ? '' : `${((r.sizeVsGnu - 1) * 100).toFixed(2).replace(/^(?!-)/, '+')} %`,
    r.peakRssMiB === null ? 'n/a' : String(r.peakRssMiB),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), line(widths.map((w) => '-'.repeat(w)))];
  // A blank line between the groups of one operation and volume (when there are several tools).
  let prev = '';
  for (const b of body) {
    const key = `${b[1]}/${b[2]}`;
    if (prev && key !== prev && tools.length > 1) out.push('');
    prev = key;
    out.push(line(b));
  }
  return out.join('\n');
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
