/**
 * One measured operation of our own code in a fresh process, so that its peak RSS is its own:
 *
 *   child.js create <volumeDir> <backupDir> <fileName> <level> <parallel 0|1>
 *   child.js extract <archive> <stagingDir> [sha256]
 *   child.js verify <archive>        (the verify job's check: our reader and GNU tar's listing, manifest)
 *   child.js create-inc <volumeDir> <backupDir> <fileName> <gzipLevel> [baseFile]
 *                                    (an archive of incremental mode: level 0, or continuing baseFile)
 *   child.js restore-chain <stagingDir> <archive>...   (the full, then the incrementals, in order)
 *   child.js idle
 *
 * Prints one JSON line: seconds (of the archiveVolume/extractArchive call, as a worker pays it),
 * bytes (archive size for create), maxRssKiB (process.resourceUsage().maxRSS of this process).
 * The bench runs it compiled (like the Docker image, `node dist/...`), or through tsx as a fallback.
 *
 * Before the measured call, the child archives and restores a tiny volume once: a worker is a
 * long-running process whose code is compiled and whose threadpool is started, and a fresh process
 * would otherwise charge tens of milliseconds of that to small volumes.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { verifyVolumeArchive } from '../src/engine/verify/archive-verification.js';
import { archiveVolume } from '../src/engine/archive/archive-volume.js';
import { extractArchive, type ExtractOptions } from '../src/engine/extract/extract-archive.js';
import { archiveIncremental } from '../src/engine/incremental/incremental-archive.js';
import { chainLinkOf } from '../src/engine/incremental/chain.js';
import { restoreChain } from '../src/engine/incremental/restore-chain.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const [cmd, ...args] = process.argv.slice(2);

async function warmUp(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oob-bench-warm-'));
  try {
    const vol = path.join(dir, 'vol');
    mkdirSync(path.join(vol, 'sub'), { recursive: true });
    writeFileSync(path.join(vol, 'sub', 'random.bin'), randomBytes(1200 * 1024));
    writeFileSync(path.join(vol, 'text.txt'), 'warm up '.repeat(100_000));
    writeFileSync(path.join(vol, 'small.txt'), 'x\n');
    for (const parallel of [true, false]) {
      const name = `warm-${parallel}.tar.gz`;
      const r = await archiveVolume({ volume: 'warm', volumeDir: vol, backupDir: dir, fileName: name, gzipLevel: 4, gzipParallel: parallel, logger });
      await extractArchive(r.path, path.join(dir, `x-${parallel}`), { expectedSha256: r.sha256, logger });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<Record<string, unknown>> {
  if (cmd !== 'idle') await warmUp();
  if (cmd === 'create') {
    const [volumeDir, backupDir, fileName, level, parallel] = args;
    const t = process.hrtime.bigint();
    const r = await archiveVolume({
      volume: 'bench',
      volumeDir: volumeDir!,
      backupDir: backupDir!,
      fileName: fileName!,
      gzipLevel: Number(level),
      gzipParallel: parallel !== '0',
      logger,
    });
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, bytes: r.size, entries: r.entries, warnings: r.warnings.length };
  }
  if (cmd === 'extract') {
    const [archive, staging, sha256] = args;
    const t = process.hrtime.bigint();
    const r = await extractArchive(archive!, staging!, { expectedSha256: sha256 ?? null, logger, ...restoreThreads() });
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, entries: r.entries, files: r.files, bytes: r.bytes, threadedFiles: r.threadedFiles };
  }
  if (cmd === 'verify') {
    const t = process.hrtime.bigint();
    const r = await verifyVolumeArchive(args[0]!, { logger });
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, entries: r.entries, bytes: r.bytes };
  }
  if (cmd === 'create-inc') {
    const [volumeDir, backupDir, fileName, level, baseFile] = args;
    const base = baseFile ? await chainLinkOf(backupDir!, baseFile) : undefined;
    if (base && 'reason' in base) throw new Error(base.reason);
    const t = process.hrtime.bigint();
    const r = await archiveIncremental({
      volume: 'bench', volumeDir: volumeDir!, backupDir: backupDir!, fileName: fileName!, gzipLevel: Number(level), logger,
      level: base ? base.link.level + 1 : 0, base: base?.link, basedOn: base?.chain ?? [],
    });
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, bytes: r.size, entries: r.entries, warnings: r.warnings.length };
  }
  if (cmd === 'restore-chain') {
    const [staging, ...files] = args;
    const t = process.hrtime.bigint();
    const r = await restoreChain({ files, stagingDir: staging!, logger, ...restoreThreads() });
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, entries: r.entries, bytes: r.bytes };
  }
  if (cmd === 'idle') return { seconds: 0 };
  throw new Error(`unknown command ${cmd}`);
}

/** bench/run.ts --restore-threads: the restore's writer threads as by default (auto), from the first file (on), or never (off). */
function restoreThreads(): Pick<ExtractOptions, 'writers'> {
  const mode = process.env.BENCH_RESTORE_THREADS ?? 'auto';
  if (mode === 'on') return { writers: { threads: 2, slowOpenMicros: 0 } };
  if (mode === 'off') return { writers: { threads: 0 } };
  return {};
}

main().then(
  (r) => {
    console.log(JSON.stringify({ ...r, maxRssKiB: process.resourceUsage().maxRSS }));
  },
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
