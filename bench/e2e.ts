/**
 * End-to-end benchmark (issue 13): the service as a user runs it — an API process and one worker
 * process, as docker-compose starts them, on the real local Redis — archiving, restoring and
 * verifying the bench data set (bench/gen-data.ts) through the REST API, against GNU tar and
 * `tar | pigz` on the same data in the same run.
 *
 *   npm run bench:e2e                  1000 MiB data set (the one `npm run bench` uses), 2 repetitions
 *   npm run bench:e2e -- 300 --reps=3
 *   npm run bench:e2e -- --files=1000000 --reps=1     one volume of 1,000,000 empty files (bench:files' data set)
 *
 * Per repetition, ours and the commands alternate (who goes first changes with the repetition, so
 * that neither always finds a warm cache), each step after a `sync`:
 *   1. archive: POST /api/backups → every archive of the stamp listed with its sha256, and → every
 *      archive verified; against `tar -C <vol> -czf` and `tar -cf - . | pigz` per volume;
 *   2. restore onto the volumes themselves (skipSafetyBackup): POST /api/restores, then from the
 *      confirmation → GET /api/restores/:id says completed; against `tar -xzf` of the same archives
 *      into a fresh directory; then the volumes must be what they were (fingerprint.ts);
 *   3. the same restore with the safety backup: its extra cost;
 *   4. verify: POST /api/backups/:stamp/verify → every job completed; against `tar -tzf` plus
 *      `sha256sum` of the same archives.
 * The worker's peak RSS (VmHWM, reset before each step through /proc/<pid>/clear_refs) per step.
 *
 * RESTORE_WRITEBACK_MIB and GZIP_INFLATE in the environment are handed to the worker (the restore's
 * early flushes: `RESTORE_WRITEBACK_MIB=0 npm run bench:e2e` measures the restore without them;
 * `GZIP_INFLATE=zlib` restores and verifies with zlib instead of libdeflate). BENCH_LOG_DIR=<dir>
 * keeps the API's and the worker's logs there.
 *
 * Options: --reps=N (2), --nice=N (WORKER_NICE of the worker and niceness of the commands; 0, so
 * that on a shared machine both get the same share: docker-compose's worker runs at 10), --tsx (run
 * the service through tsx instead of compiling it). Prints the tables (markdown) and writes
 * bench/results/e2e-latest.json and e2e-latest.md. Everything it makes (backup dir, build, Redis keys of
 * its prefix, extractions) is removed at the end.
 *
 * The data set and all it writes live under bench/data, on one file system, which the report names.
 * A practice server's data disk has a journal; a VM's root may not (slow file creation after large
 * deletions, BENCHMARKS.md): mount a journaled ext4 at bench/data to measure there, in a loop
 * device with direct I/O (without it every write also goes through the host file system's page
 * cache, which doubled the kernel's time per written byte), e.g.
 *   truncate -s 12G /work/jfs.img && mkfs.ext4 -q /work/jfs.img &&
 *   mount "$(losetup --direct-io=on -f --show /work/jfs.img)" bench/data
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { archiveViaApi, prepareService, restoreViaApi, verifyViaApi, type RestoreRun } from './e2e-api.js';
import { assertSameFingerprint, fingerprint } from './e2e-fingerprint.js';
import { gnuTools, havePigz, syncDisk } from './e2e-gnu.js';
import { fileSystemOf } from './file-system.js';
import { perVolumeTable, Samples, wholeSetTable, type ReportInput } from './e2e-report.js';
import { rssMiB, serviceRuntime, startBenchService, type BenchService } from './e2e-service.js';
import { ensureDataSet } from './gen-data.js';
import { ensureManyFiles } from './many-files-data.js';

const MiB = 1024 * 1024;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const projectDir = path.dirname(benchDir);
const dataRoot = path.join(benchDir, 'data');
const argv = process.argv.slice(2);
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const sizeMiB = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1000);
/** --files=N: the many-files data set instead (memory with many entries, issue 13). */
const manyFiles = flag('files') === undefined ? undefined : Number(flag('files'));
const reps = Number(flag('reps') ?? 2);
const nice = Number(flag('nice') ?? 0);
const tsx = argv.includes('--tsx');
if (!Number.isInteger(sizeMiB) || sizeMiB < 10) throw new Error(`size must be at least 10 MiB, got ${sizeMiB}`);
if (manyFiles !== undefined && (!Number.isInteger(manyFiles) || manyFiles < 1)) throw new Error('--files must be a positive integer');
if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error('--nice must be 0-19');

const log = (msg: string) => console.error(`bench:e2e: ${msg}`);
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
/** Microseconds some task waited for a CPU since boot (/proc/pressure/cpu), to tell how busy the machine was meanwhile. */
function cpuStallMicros(): number | undefined {
  try {
    return Number(/^some .*total=(\d+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Adds one sample per volume under `key.<volume>` and their sum under `key.total`. */
function addPerVolume(s: Samples, key: string, values: { volume: string; seconds: number }[]): void {
  for (const v of values) s.add(`${key}.${v.volume}`, v.seconds);
  if (values.length) s.add(`${key}.total`, values.reduce((n, v) => n + v.seconds, 0));
}

type Rss = { peakRssMiB: number | undefined; rssAtStartMiB: number | undefined };
/** The worker's peak RSS during a step, and its RSS when the step started. */
function addRss(s: Samples, step: string, r: Rss): void {
  s.add(`rss.${step}`, r.peakRssMiB);
  s.add(`rss-start.${step}`, r.rssAtStartMiB);
}

async function main(): Promise<void> {
  const started = Date.now();
  const stallAtStart = cpuStallMicros();
  const ds = manyFiles === undefined ? ensureDataSet(dataRoot, sizeMiB, log) : ensureManyFiles(dataRoot, manyFiles, log);
  const what = manyFiles === undefined ? `${sizeMiB} MiB` : `${manyFiles} empty files`;
  const volumes = ds.volumes.map((v) => ({ name: v.name, dir: v.dir }));
  const names = volumes.map((v) => v.name);
  const machine = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'n/a',
    node: process.version,
    tar: spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0],
    pigz: havePigz ? 'installed' : 'not installed (its rows are left out)',
    loadavgAtStart: load(),
    // Where the volumes, the backup directory and GNU tar's extractions are (one file system).
    fileSystem: fileSystemOf(dataRoot),
    // What the worker inflates archives with: GZIP_INFLATE as handed to it (e2e-service.ts).
    inflate: process.env.GZIP_INFLATE ?? 'libdeflate',
  };
  log(`${what}, ${reps} repetition(s), nice ${nice}, pigz ${havePigz ? 'found' : 'not installed'}; load average ${machine.loadavgAtStart}; data on ${machine.fileSystem}; RESTORE_WRITEBACK_MIB ${process.env.RESTORE_WRITEBACK_MIB ?? 'default'}; inflated by ${machine.inflate}`);

  const work = path.join(dataRoot, `e2e-${process.pid}`);
  const gnuDir = path.join(work, 'gnu');
  fs.mkdirSync(gnuDir, { recursive: true });
  const gnu = gnuTools(nice);
  const s = new Samples();
  const marker = path.join(ds.dir, '.complete.json');
  let restoring = false;
  let svc: BenchService | undefined;
  // Interrupted (Ctrl-C): the same clean-up as at the end, and a data set a restore may have touched is made afresh next time.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    if (restoring) fs.rmSync(marker, { force: true });
    void (svc?.close() ?? Promise.resolve()).finally(() => {
      fs.rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log('fingerprinting the volumes (to check the restores)');
    const full = new Map<string, string[]>();
    const sampled = new Map<string, string[]>();
    for (const v of volumes) {
      full.set(v.name, await fingerprint(v.dir, 1));
      sampled.set(v.name, await fingerprint(v.dir, 50));
    }
    const checkVolumes = async (sampleEvery: number) => {
      for (const v of volumes) assertSameFingerprint(v.name, (sampleEvery === 1 ? full : sampled).get(v.name)!, await fingerprint(v.dir, sampleEvery));
    };

    log('compiling and starting the API and the worker');
    svc = await startBenchService({ projectDir, workDir: work, volumes, workerNice: nice, tsx });
    const service = svc;
    await prepareService(service);
    s.add('rss.idle', rssMiB(service.worker.pid));
    log(`service up (${service.runtime}), worker pid ${service.worker.pid}`);

    for (let rep = 1; rep <= reps; rep++) {
      const oursFirst = rep % 2 === 1;
      const inTurn = async (ours: () => Promise<void>, theirs: () => Promise<void>) => {
        for (const step of oursFirst ? [ours, theirs] : [theirs, ours]) await step();
      };

      // 1. Archive.
      let stamp = '';
      let files: Record<string, string> = {};
      await inTurn(
        async () => {
          service.nextMinute(); // a fresh stamp: "run now" twice in one minute is refused
          const a = await archiveViaApi(service, names);
          ({ stamp, files } = a);
          s.add('ours.archive.listed', a.listedSeconds);
          s.add('ours.archive.verified', a.verifiedSeconds);
          addPerVolume(s, 'ours.archive-job', a.archiveJobs);
          addPerVolume(s, 'ours.verify-after-archive', a.verifyJobs);
          addRss(s, 'archive', a);
          log(`rep ${rep} archive ${stamp}: listed ${a.listedSeconds.toFixed(2)} s, verified ${a.verifiedSeconds.toFixed(2)} s, worker peak ${a.peakRssMiB?.toFixed(0)} MiB`);
        },
        async () => {
          const tar: { volume: string; seconds: number }[] = [];
          const pigz: { volume: string; seconds: number }[] = [];
          for (const v of volumes) {
            const out = path.join(gnuDir, `${v.name}.tar.gz`);
            tar.push({ volume: v.name, seconds: await gnu.tarCreate(v.dir, out) });
            if (havePigz) pigz.push({ volume: v.name, seconds: await gnu.pigzCreate(v.dir, out) });
            fs.rmSync(out, { force: true });
          }
          addPerVolume(s, 'gnu.create', tar);
          addPerVolume(s, 'pigz.create', pigz);
          log(`rep ${rep} tar -czf ${tar.reduce((n, t) => n + t.seconds, 0).toFixed(2)} s${havePigz ? `, tar | pigz ${pigz.reduce((n, t) => n + t.seconds, 0).toFixed(2)} s` : ''}`);
        },
      );
      const archiveOf = (volume: string) => path.join(service.backupDir, files[volume]!);

      // 2. Restore onto the volumes themselves, without and then with the safety backup.
      const recordRestore = (key: string, r: RestoreRun & Rss) => {
        s.add(key, r.seconds);
        addRss(s, key.slice('ours.'.length), r);
      };
      await inTurn(
        async () => {
          restoring = true;
          const r = await restoreViaApi(service, stamp, names, false);
          recordRestore('ours.restore', r);
          addPerVolume(s, 'ours.restore', r.volumes.map((v) => ({ volume: v.volume, seconds: v.extract + v.swap })));
          addPerVolume(s, 'ours.extract', r.volumes.map((v) => ({ volume: v.volume, seconds: v.extract })));
          addPerVolume(s, 'ours.swap', r.volumes.map((v) => ({ volume: v.volume, seconds: v.swap })));
          log(`rep ${rep} restore: ${r.seconds.toFixed(2)} s, worker peak ${r.peakRssMiB?.toFixed(0)} MiB`);
          await checkVolumes(50);
        },
        async () => {
          const x: { volume: string; seconds: number }[] = [];
          const sync: { volume: string; seconds: number }[] = [];
          const replace: { volume: string; seconds: number }[] = [];
          for (const v of volumes) {
            const r = await gnu.tarExtract(archiveOf(v.name), path.join(work, 'x', v.name));
            x.push({ volume: v.name, seconds: r.extract });
            sync.push({ volume: v.name, seconds: r.extract + r.sync });
            replace.push({ volume: v.name, seconds: r.remove + r.extract + r.sync });
          }
          addPerVolume(s, 'gnu.extract', x);
          addPerVolume(s, 'gnu.extract-sync', sync);
          addPerVolume(s, 'gnu.replace', replace);
          log(`rep ${rep} tar -xzf ${x.reduce((n, t) => n + t.seconds, 0).toFixed(2)} s`);
        },
      );
      service.nextMinute(); // the safety backup takes the current minute: not the set's
      const rs = await restoreViaApi(service, stamp, names, true);
      recordRestore('ours.restore-safety', rs);
      addPerVolume(s, 'ours.safety', rs.volumes.map((v) => ({ volume: v.volume, seconds: v.safetyBackup })));
      log(`rep ${rep} restore with safety backup ${rs.safetyBackupStamp}: ${rs.seconds.toFixed(2)} s, worker peak ${rs.peakRssMiB?.toFixed(0)} MiB`);
      await checkVolumes(50);
      restoring = false;

      // 3. Verify the set again.
      await inTurn(
        async () => {
          const r = await verifyViaApi(service, stamp);
          s.add('ours.verify', r.seconds);
          addPerVolume(s, 'ours.verify-job', r.jobs);
          addRss(s, 'verify', r);
          log(`rep ${rep} verify: ${r.seconds.toFixed(2)} s, worker peak ${r.peakRssMiB?.toFixed(0)} MiB`);
        },
        async () => {
          const t: { volume: string; seconds: number }[] = [];
          for (const v of volumes) {
            const r = await gnu.tarVerify(archiveOf(v.name));
            t.push({ volume: v.name, seconds: r.list + r.sha256 });
            s.add(`gnu.list.${v.name}`, r.list);
            s.add(`gnu.sha256.${v.name}`, r.sha256);
          }
          addPerVolume(s, 'gnu.verify', t);
          log(`rep ${rep} tar -tzf + sha256sum ${t.reduce((n, x) => n + x.seconds, 0).toFixed(2)} s`);
        },
      );
      syncDisk();
      if (rep < reps) await sleep(5000);
    }
    log('checking every file of the volumes against the fingerprint from before');
    restoring = true;
    await checkVolumes(1);
    restoring = false;
  } catch (err) {
    if (restoring) {
      // A restore onto the data set failed or changed it: make the next bench generate it afresh.
      fs.rmSync(marker, { force: true });
      log(`the data set in ${ds.dir} may have been changed by a failed restore: it will be generated again`);
    }
    throw err;
  } finally {
    if (svc) await svc.close();
    fs.rmSync(work, { recursive: true, force: true });
  }

  const input: ReportInput = {
    sizeMiB,
    label: what,
    reps,
    pigz: havePigz,
    volumes: ds.volumes.map((v) => ({ name: v.name, MiB: Math.round((v.bytes / MiB) * 10) / 10, files: v.files })),
  };
  const stall = stallAtStart === undefined ? undefined : (cpuStallMicros()! - stallAtStart) / 1e3 / (Date.now() - started);
  const cpuPressure = stall === undefined || Number.isNaN(stall) ? 'n/a' : `${(stall * 100).toFixed(0)} %`;
  const result = { machine: { ...machine, loadavgAtEnd: load(), cpuPressure }, sizeMiB, reps, nice, runtime: serviceRuntime(tsx), minutes: (Date.now() - started) / 60000, dataSet: input.volumes, samples: s.all };
  const md = [
    `End to end through the API, ${what}, ${reps} repetition(s), medians (min-max); ${machine.nproc} cores (${machine.cpu}), ${machine.date}; load average ${machine.loadavgAtStart} → ${result.machine.loadavgAtEnd}, some task (ours too) waiting for a CPU ${cpuPressure} of the time (/proc/pressure/cpu); worker and commands at nice ${nice}; service ${serviceRuntime(tsx)}; data on ${machine.fileSystem}; archives inflated by ${machine.inflate}.`,
    '',
    wholeSetTable(s, input),
    '',
    'Per volume (our jobs: their timestamps in GET /api/jobs; the restore\'s steps: the worker\'s log; one restore job does all volumes):',
    '',
    perVolumeTable(s, input),
  ].join('\n');
  const resultsDir = path.join(benchDir, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'e2e-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, 'e2e-latest.md'), `${md}\n`);
  console.log(md);
  log(`done in ${result.minutes.toFixed(1)} min; load average ${result.machine.loadavgAtEnd}`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
