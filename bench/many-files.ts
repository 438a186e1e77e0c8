/**
 * Memory with many files: archive, verify and restore a volume of N small files (default
 * 1,000,000 in 1,000 directories, as a PACS store holds them) and report each one's peak RSS and
 * time. A PACS store has millions of files; none of the three may keep a path per file in memory.
 *
 *   npm run bench:files                 1,000,000 files
 *   npm run bench:files -- 200000       fewer
 *
 * The data set is made once under bench/data/files-<N> (empty files: the count matters here, not
 * the bytes) and kept for the next run. Our code runs through tsx; its loader's share is the idle
 * child's RSS, printed beside.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKER_PROCESS_ENV, workerExecArgv } from '../src/runtime/worker-process.js';
import { ensureManyFiles, FILES_PER_DIR } from './many-files-data.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const count = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const perDir = FILES_PER_DIR;
const dataRoot = path.join(benchDir, 'data');

function child(args: string[]): { seconds: number; maxRssKiB: number; entries?: number } {
  // Started as the worker runs in production (src/runtime/worker-process.ts).
  const r = spawnSync(process.execPath, [...workerExecArgv(['--import', 'tsx']), path.join(benchDir, 'child.ts'), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...WORKER_PROCESS_ENV, ...process.env },
  });
  if (r.status !== 0) throw new Error(`child ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const vol = ensureManyFiles(dataRoot, count, (m) => console.error(`bench: ${m}`)).volumes[0]!.dir;
const root = path.dirname(vol);

const out = path.join(root, 'out');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out);
const idle = child(['idle']);
const archive = child(['create', vol, out, 'files.tar.gz', '4', '1']);
const verify = child(['verify', path.join(out, 'files.tar.gz')]);
const restore = child(['extract', path.join(out, 'files.tar.gz'), path.join(out, 'staging')]);
fs.rmSync(out, { recursive: true, force: true });

const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
const rows = [
  ['archive', archive],
  ['verify (our reader + GNU tar listing)', verify],
  ['restore', restore],
] as const;
console.log(`\n${count} files in ${Math.ceil(count / perDir)} directories; idle child (node + tsx + our modules): ${mib(idle.maxRssKiB)}\n`);
console.log('| step | seconds | peak RSS |\n|---|---|---|');
for (const [name, r] of rows) console.log(`| ${name} | ${r.seconds.toFixed(1)} | ${mib(r.maxRssKiB)} |`);
