/**
 * Incremental archives (issue 16), side by side with GNU tar in the same run:
 *
 *   npm run bench:incremental                 1000 MiB data set, tree walk at 100,000 files
 *   npm run bench:incremental -- 200 --walk-files=100000,1000000 --reps=3
 *   npm run bench:incremental -- --walk-only --walk-files=1000000       the tree walk part alone
 *
 * On a copy of the generated data set (bench/gen-data.ts, all its volumes as one tree): a full run
 * (our full-mode writer), a level 0 in incremental mode, then six nights of change (new PACS images
 * and documents ≈ 1 % of the bytes, a few documents modified, a few deleted), each followed by an
 * incremental run of ours and GNU tar's own `tar -czg` of the same state (a chain; its output and
 * snapshot fsynced inside the timing, as ours are), plus our level 1 against the full (to compare
 * chain and level 1). Then restores: our restore of full + 6
 * incrementals (checked against the tree), GNU tar's by hand, level 1 (full + newest), and our
 * restore of one full archive of the same tree. Then the cost of the tree walk alone: an
 * incremental run with nothing changed over --walk-files empty files.
 *
 * Our code runs in a fresh child process per step (bench/child.ts through tsx), so its peak RSS is
 * its own. Prints markdown tables and writes bench/results/incremental.md.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSameTree, snapshotTree } from '../test/helpers/tree.js';
import { ensureDataSet } from './gen-data.js';

const MiB = 1024 * 1024;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const dataRoot = path.join(benchDir, 'data');
const argv = process.argv.slice(2);
const sizeMiB = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1000);
const walkFiles = (argv.find((a) => a.startsWith('--walk-files='))?.slice(13) ?? '100000').split(',').filter(Boolean).map(Number);
const NIGHTS = 6;
const REPS = Number(argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 3);
const GZIP_LEVEL = 5;

interface Step {
  seconds: number;
  bytes?: number;
  maxRssKiB?: number;
}

function child(args: string[]): Step {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(benchDir, 'child.ts'), ...args], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`child ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Step;
}

/**
 * A command's wall time (and its file's size when `out` is given). `durable`: the files are
 * fsynced (coreutils `sync FILE…`) inside the timing, as our archive job fsyncs its archive and
 * snapshot before it reports success; a GNU tar run without it would be timed before its data is
 * on disk.
 */
function timed(cmd: string, args: string[], out?: string, durable: string[] = []): Step {
  spawnSync('sync');
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, TAR_OPTIONS: '' } });
  if (durable.length) spawnSync('sync', durable);
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 && !(cmd === 'tar' && r.status === 1)) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { seconds, ...(out ? { bytes: fs.statSync(out).size } : {}) };
}

function ours(args: string[]): Step {
  spawnSync('sync');
  return child(args);
}

/** One night: new PACS images (~0.8 % of the bytes), 40 new documents, 10 modified, 10 deleted. */
function nightlyChange(tree: string, night: number, totalBytes: number): number {
  let added = 0;
  const pacs = path.join(tree, 'pacsdata', 'ff', `night-${night}`);
  fs.mkdirSync(pacs, { recursive: true });
  const target = Math.round(totalBytes * 0.008);
  for (let i = 0; added < target; i++) {
    const data = randomBytes(Math.min(512 * 1024, target - added));
    fs.writeFileSync(path.join(pacs, `image-${i}.dcm`), data);
    added += data.length;
  }
  const docsRoot = path.join(tree, 'lucinda', 'docs');
  const newDocs = path.join(docsRoot, '2026', `night-${night}`);
  fs.mkdirSync(newDocs, { recursive: true });
  for (let i = 0; i < 40; i++) {
    const text = Buffer.from(`Bericht ${night}/${i}\n${'Verlauf unauffällig. '.repeat(400)}`);
    fs.writeFileSync(path.join(newDocs, `doc-${i}.txt`), text);
    added += text.length;
  }
  const year = path.join(docsRoot, String(2012 + night));
  const docs = fs.readdirSync(year).flatMap((d) => fs.readdirSync(path.join(year, d)).map((f) => path.join(year, d, f))).sort();
  for (const f of docs.slice(0, 10)) fs.appendFileSync(f, `\nNachtrag ${night}\n`);
  for (const f of docs.slice(10, 20)) fs.rmSync(f);
  return added;
}

function emptyFiles(count: number): string {
  const root = path.join(dataRoot, `files-${count}`);
  const vol = path.join(root, 'vol');
  if (!fs.existsSync(path.join(root, '.complete'))) {
    console.error(`bench: making ${count} files in ${vol} (once)`);
    fs.rmSync(root, { recursive: true, force: true });
    const py = `
import os, sys
vol, count, per = sys.argv[1], int(sys.argv[2]), 1000
for d in range((count + per - 1) // per):
    dp = os.path.join(vol, 'study-%05d' % d)
    os.makedirs(dp)
    for i in range(min(per, count - d * per)):
        os.close(os.open(os.path.join(dp, 'IM%06d.dcm' % i), os.O_CREAT | os.O_WRONLY, 0o644))
`;
    if (spawnSync('python3', ['-c', py, vol, String(count)], { stdio: 'inherit' }).status !== 0) throw new Error('making the files failed');
    fs.writeFileSync(path.join(root, '.complete'), '');
  }
  return vol;
}

const s = (x: Step) => x.seconds.toFixed(2);
const mb = (n: number | undefined) => (n === undefined ? '–' : (n / MiB).toFixed(1));
const rss = (x: Step) => (x.maxRssKiB === undefined ? '–' : (x.maxRssKiB / 1024).toFixed(0));
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)} %`;

interface WalkCost {
  count: number;
  l0: Step;
  l1: Step;
  g1: Step;
  full1: Step;
}

/** The tree walk alone: level 0, then an incremental with nothing changed, ours and GNU tar's, and our full run, per file count. */
function walkCosts(work: string): WalkCost[] {
  return walkFiles.map((count) => {
    const vol = emptyFiles(count);
    const dir = path.join(work, `walk-${count}`);
    fs.mkdirSync(dir, { recursive: true });
    const l0 = ours(['create-inc', vol, dir, 'w_2026-12-00-0300.tar.gz', String(GZIP_LEVEL)]);
    const l1 = ours(['create-inc', vol, dir, 'w_2026-12-01-0300.inc.tar.gz', String(GZIP_LEVEL), 'w_2026-12-00-0300.tar.gz']);
    const snar = path.join(dir, 'gnu.snar');
    timed('tar', ['-C', vol, '-czf', path.join(dir, 'g0.tar.gz'), '-g', snar, '.']);
    const g1 = timed('tar', ['-C', vol, '-czf', path.join(dir, 'g1.tar.gz'), '-g', snar, '.'], path.join(dir, 'g1.tar.gz'), [path.join(dir, 'g1.tar.gz'), snar]);
    const full1 = ours(['create', vol, dir, 'full.tar.gz', String(GZIP_LEVEL), '1']);
    fs.rmSync(dir, { recursive: true });
    console.error(`bench: walk ${count} files: level 0 ${s(l0)} s, unchanged ${s(l1)} s (GNU tar ${s(g1)} s), full ${s(full1)} s`);
    return { count, l0, l1, g1, full1 };
  });
}

function sayWalks(say: (l?: string) => void, walks: WalkCost[]): void {
  say('Tree walk: an incremental run with nothing changed (empty files in directories of 1,000)');
  say();
  say('| files | level 0, ours | nothing changed, ours | nothing changed, GNU tar `-czg` | full run, ours | peak RSS MiB (ours, unchanged) |');
  say('|---|---|---|---|---|---|');
  for (const w of walks) say(`| ${w.count.toLocaleString('en')} | ${s(w.l0)} | ${s(w.l1)} | ${s(w.g1)} | ${s(w.full1)} | ${rss(w.l1)} |`);
}

async function main(): Promise<void> {
  if (argv.includes('--walk-only')) {
    const work = path.join(dataRoot, `incremental-${process.pid}`);
    try {
      console.log(`## Tree walk (${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0]!.toFixed(1)})\n`);
      sayWalks((l = '') => console.log(l), walkCosts(work));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    return;
  }
  const loadAtStart = os.loadavg()[0]!.toFixed(1);
  const ds = ensureDataSet(dataRoot, sizeMiB, (m) => console.error(`bench: ${m}`));
  const work = path.join(dataRoot, `incremental-${process.pid}`);
  const tree = path.join(work, 'tree');
  const out = path.join(work, 'ours');
  const gnu = path.join(work, 'gnu');
  fs.mkdirSync(out, { recursive: true });
  fs.mkdirSync(gnu, { recursive: true });
  const lines: string[] = [];
  const say = (l = '') => {
    lines.push(l);
    console.log(l);
  };
  try {
    console.error(`bench: copying the ${sizeMiB} MiB data set`);
    if (spawnSync('cp', ['-a', ds.dir, tree]).status !== 0) throw new Error('cp failed');
    fs.rmSync(path.join(tree, '.complete'), { force: true });
    const total = ds.volumes.reduce((n, v) => n + v.bytes, 0);

    const full = ours(['create', tree, out, 'full.tar.gz', String(GZIP_LEVEL), '1']);
    const level0 = ours(['create-inc', tree, out, 't_2026-12-00-0300.tar.gz', String(GZIP_LEVEL)]);
    const gnuSnar = path.join(gnu, 'chain.snar');
    const gnu0 = timed('tar', ['-C', tree, '-czf', path.join(gnu, 'l0.tar.gz'), '-g', gnuSnar, '.'], path.join(gnu, 'l0.tar.gz'), [path.join(gnu, 'l0.tar.gz'), gnuSnar]);
    console.error(`bench: full ${s(full)} s, level 0 ${s(level0)} s, GNU tar level 0 ${s(gnu0)} s`);

    const nights: { change: number; inc: Step; gnuInc: Step; level1: Step }[] = [];
    const chain = ['t_2026-12-00-0300.tar.gz'];
    for (let n = 1; n <= NIGHTS; n++) {
      const change = nightlyChange(tree, n, total);
      const file = `t_2026-12-0${n}-0300.inc.tar.gz`;
      const inc = ours(['create-inc', tree, out, file, String(GZIP_LEVEL), chain.at(-1)!]);
      chain.push(file);
      const cn = path.join(gnu, `c${n}.tar.gz`);
      const gnuInc = timed('tar', ['-C', tree, '-czf', cn, '-g', gnuSnar, '.'], cn, [cn, gnuSnar]);
      // Level 1 instead of a chain: ours again, against the full.
      const level1 = ours(['create-inc', tree, out, `l1_2026-12-0${n}-0300.inc.tar.gz`, String(GZIP_LEVEL), chain[0]!]);
      if (n < NIGHTS) for (const sfx of ['', '.sha256', '.manifest.json', '.snar']) fs.rmSync(path.join(out, `l1_2026-12-0${n}-0300.inc.tar.gz${sfx}`));
      nights.push({ change, inc, gnuInc, level1 });
      console.error(`bench: night ${n}: change ${mb(change)} MiB, ours ${s(inc)} s ${mb(inc.bytes)} MiB, GNU tar ${s(gnuInc)} s ${mb(gnuInc.bytes)} MiB, level 1 ${s(level1)} s ${mb(level1.bytes)} MiB`);
    }

    const expected = await snapshotTree(tree);
    const x = path.join(work, 'x');
    fs.mkdirSync(x);
    const lastFull = ours(['create', tree, out, 'last-full.tar.gz', String(GZIP_LEVEL), '1']);
    // The restores alternate, REPS times each, on a machine whose load changes: medians.
    const samples: Record<'chain' | 'gnu' | 'level1' | 'full', Step[]> = { chain: [], gnu: [], level1: [], full: [] };
    for (let rep = 0; rep < REPS; rep++) {
      const into = path.join(x, 'chain');
      samples.chain.push(ours(['restore-chain', into, ...chain.map((f) => path.join(out, f))]));
      if (rep === 0) assertSameTree(expected, await snapshotTree(into), { ignore: (p) => (p === '.' ? ['mode', 'uid', 'gid', 'mtime'] : []) });
      fs.rmSync(into, { recursive: true });
      samples.full.push(ours(['extract', path.join(out, 'last-full.tar.gz'), path.join(x, 'full')]));
      fs.rmSync(path.join(x, 'full'), { recursive: true });
      samples.level1.push(ours(['restore-chain', path.join(x, 'l1'), path.join(out, chain[0]!), path.join(out, `l1_2026-12-0${NIGHTS}-0300.inc.tar.gz`)]));
      fs.rmSync(path.join(x, 'l1'), { recursive: true });
      fs.mkdirSync(path.join(x, 'gnu'));
      spawnSync('sync');
      const tGnu = process.hrtime.bigint();
      for (const f of ['l0.tar.gz', ...Array.from({ length: NIGHTS }, (_, i) => `c${i + 1}.tar.gz`)]) {
        const r = spawnSync('tar', ['-C', path.join(x, 'gnu'), '-xzf', path.join(gnu, f), '-g', '/dev/null']);
        if (r.status !== 0) throw new Error(`GNU tar restore of ${f} failed`);
      }
      spawnSync('sync');
      samples.gnu.push({ seconds: Number(process.hrtime.bigint() - tGnu) / 1e9 });
      fs.rmSync(path.join(x, 'gnu'), { recursive: true });
      console.error(`bench: restores rep ${rep + 1}: chain ${s(samples.chain.at(-1)!)} s, full ${s(samples.full.at(-1)!)} s, level 1 ${s(samples.level1.at(-1)!)} s, GNU tar chain ${s(samples.gnu.at(-1)!)} s`);
    }
    const median = (a: Step[]): Step => [...a].sort((p, q) => p.seconds - q.seconds)[Math.floor(a.length / 2)]!;
    const chainRestore = median(samples.chain);
    const gnuChainRestore = median(samples.gnu);
    const level1Restore = median(samples.level1);
    const fullRestore = median(samples.full);

    const walks = walkCosts(work);

    const last = nights.at(-1)!;
    const avgInc = nights.reduce((n, x) => n + x.inc.seconds, 0) / NIGHTS;
    const avgGnu = nights.reduce((n, x) => n + x.gnuInc.seconds, 0) / NIGHTS;
    const avgIncBytes = nights.reduce((n, x) => n + x.inc.bytes!, 0) / NIGHTS;
    const l1Total = nights.reduce((n, x) => n + x.level1.bytes!, 0);
    const l1Time = nights.reduce((n, x) => n + x.level1.seconds, 0);
    const chainTime = nights.reduce((n, x) => n + x.inc.seconds, 0);
    const chainTotal = nights.reduce((n, x) => n + x.inc.bytes!, 0);
    say(`## Incremental archives, ${sizeMiB} MiB data set (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, load average ${loadAtStart} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end)`);
    say();
    say('| step | seconds | archive MiB | peak RSS MiB |');
    say('|---|---|---|---|');
    say(`| full run, our full-mode writer | ${s(full)} | ${mb(full.bytes)} | ${rss(full)} |`);
    say(`| level 0, incremental mode (GNU tar → our gzip) | ${s(level0)} | ${mb(level0.bytes)} | ${rss(level0)} |`);
    say(`| level 0, GNU tar \`-czg\` | ${s(gnu0)} | ${mb(gnu0.bytes)} | – |`);
    for (const [i, n] of nights.entries()) {
      say(`| night ${i + 1} (change ${mb(n.change)} MiB): ours / GNU tar \`-czg\` | ${s(n.inc)} / ${s(n.gnuInc)} | ${mb(n.inc.bytes)} / ${mb(n.gnuInc.bytes)} | ${rss(n.inc)} / – |`);
    }
    say(`| restores below: median of ${REPS}, alternating | | | |`);
    say(`| restore full + ${NIGHTS} incrementals, ours | ${s(chainRestore)} | | ${rss(chainRestore)} |`);
    say(`| restore full + ${NIGHTS} incrementals, GNU tar by hand | ${s(gnuChainRestore)} | | – |`);
    say(`| restore full + level 1 of night ${NIGHTS}, ours | ${s(level1Restore)} | | ${rss(level1Restore)} |`);
    say(`| restore one full of the same tree, ours | ${s(fullRestore)} | ${mb(lastFull.bytes)} | ${rss(fullRestore)} |`);
    say();
    say(`- incremental run vs full run: time ${pct(avgInc, full.seconds)} (mean of ${NIGHTS} nights), bytes ${pct(avgIncBytes, full.bytes!)} (goal ≤ 5 % each)`);
    say(`- incremental run vs GNU tar's own: ${(avgInc / avgGnu).toFixed(2)}× its time (goal ≤ 1), ${(avgIncBytes / (nights.reduce((n, x) => n + x.gnuInc.bytes!, 0) / NIGHTS)).toFixed(2)}× its bytes`);
    say(`- restore full + ${NIGHTS} incrementals: ${(chainRestore.seconds / fullRestore.seconds).toFixed(2)}× one full's restore (goal ≤ 1.3)`);
    say(`- chain vs level 1 over ${NIGHTS} nights: incrementals ${mb(chainTotal)} MiB vs ${mb(l1Total)} MiB and ${chainTime.toFixed(1)} s vs ${l1Time.toFixed(1)} s in total; night ${NIGHTS} writes ${mb(last.inc.bytes)} vs ${mb(last.level1.bytes)} MiB; a restore reads ${NIGHTS + 1} vs 2 files and takes ${s(chainRestore)} vs ${s(level1Restore)} s`);
    say(`- peak RSS: incremental run ${rss(last.inc)} MiB vs full run ${rss(full)} MiB (our process; GNU tar's own memory is its process's)`);
    say();
    sayWalks(say, walks);
    fs.mkdirSync(path.join(benchDir, 'results'), { recursive: true });
    fs.writeFileSync(path.join(benchDir, 'results', 'incremental.md'), `${lines.join('\n')}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
