/**
 * A volume archive in GNU tar's listed-incremental format (issue 16): level 0 (a full archive with
 * a dumpdir 'D' entry per directory) or level N (only what changed since the snapshot it starts
 * from, plus every directory's dumpdir, from which a restore replays deletions and renames).
 *
 * Why GNU tar writes the tar stream here, and not our own walker (archive/volume-tar.ts): the
 * format's meaning lives in GNU tar's snapshot logic (which file counts as changed: a new name in
 * a directory's list, mtime or ctime newer than the previous run's start, a directory's inode that
 * moved = a rename), and the promise to the admin is that GNU tar alone restores the chain. Letting
 * GNU tar decide and write means the archives and snapshots are exactly what GNU tar expects, with
 * no second implementation to drift from it. What stays ours: the parallel gzip that compresses
 * its output, the sha256, our reader running over the same stream (entry digest for the manifest,
 * and the hostile-entry rules at archive time, so a volume holding something a restore would refuse
 * fails now rather than at restore time), the snapshot as a checksummed sidecar published at the
 * archive's commit point, and the live-tree rules: GNU tar's own warnings ("file changed as we read
 * it", "File removed before we read it", "socket ignored") become the archive's warnings (exit 1),
 * anything it could not read fails the job (exit 2).
 *
 * `--no-check-device`: a Docker volume's device number changes with the mount; with it GNU tar
 * compares directories by inode alone, so a restart of the container is not a full.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs, { constants as fsc } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { exists, fsyncFile, tempFilesOf } from '../fs/atomic.js';
import { AlreadyExistsError, publish } from '../fs/publish.js';
import { GzipChunkWriter, writevAll } from '../gzip/parallel-gzip.js';
import { TarConsumer } from '../extract/tar-consumer.js';
import { progressReporter } from '../progress.js';
import type { ArchiveProgress } from '../archive/volume-tar.js';
import { warningText, type ArchiveResult, type LeaveOut } from '../archive/archive-volume.js';
import { copySnapshotChecked, readSnapshot, type ArchiveRef, type ChainLink } from './chain.js';
import { renameConflicts, RENAMED_LINE } from './rename-conflicts.js';
import { RootRenameRecords } from './rename-records.js';

const fsync = promisify(fs.fsync);

export interface IncrementalArchiveOptions {
  volume: string;
  volumeDir: string;
  backupDir: string;
  /** Final name (`<volume>_<stamp>.tar.gz` for level 0, `<volume>_<stamp>.inc.tar.gz` for level ≥ 1; the caller computes it). */
  fileName: string;
  /** 0: a new full; ≥ 1: changes since `base`. */
  level: number;
  /** The archive this one continues (its `.snar` is the starting snapshot); required for level ≥ 1. */
  base?: ChainLink;
  /** Every archive a restore of this one needs before it, oldest (the full) first; [] for level 0. */
  basedOn: ArchiveRef[];
  gzipLevel: number;
  gzipParallel?: boolean;
  onProgress?: (p: ArchiveProgress) => void;
  progressIntervalMs?: number;
  logger: Logger;
  signal?: AbortSignal;
  /** Top-level names left out with a warning (ArchiveVolumeOptions.leaveOut): GNU tar's --exclude. */
  leaveOut?: LeaveOut[];
  /** The GNU tar executable (default `tar` from PATH). */
  tarCommand?: string;
}

export interface IncrementalArchiveResult extends ArchiveResult {
  level: number;
  basedOn: string[];
  snapshotSha256: string;
  /** Entries below the volume root, from the snapshot (see readSnapshot). */
  volumeEntries: number;
}

/** Suffix of the snapshot sidecar: GNU tar's snapshot file (format 2) after this archive. */
export const SNAPSHOT_SUFFIX = '.snar';
const MAX_WARNINGS = 100;

/**
 * An incremental with directory renames GNU tar cannot replay on restore (rename-conflicts.ts: a
 * rename onto a name that was there at the previous run, or one whose record fails when replayed
 * in GNU tar's order): it is thrown away instead of published, and the caller writes a new full.
 * A full after such a night costs space; a chain that cannot be restored costs the data.
 */
export class DirectoriesRenamed extends Error {
  constructor(readonly lines: string[]) {
    super(
      `directories were renamed in a way GNU tar cannot replay on restore (${lines.slice(0, 3).join('; ')}${lines.length > 3 ? '; …' : ''})`,
    );
  }
}

export async function archiveIncremental(o: IncrementalArchiveOptions): Promise<IncrementalArchiveResult> {
  const started = Date.now();
  const { volume, volumeDir, backupDir, fileName, logger, signal } = o;
  const fail = (message: string, cause?: unknown) =>
    new Error(`volume "${volume}": ${message}`, cause === undefined ? undefined : { cause });
  if (o.level > 0 && !o.base) throw fail(`a level ${o.level} archive needs a base archive`);
  const finalPath = path.join(backupDir, fileName);
  const partial = `${finalPath}.partial`;
  const snarPartial = `${finalPath}${SNAPSHOT_SUFFIX}.partial`;
  const st = await stat(volumeDir).catch((err: Error) => {
    throw fail(`cannot access directory ${volumeDir}: ${err.message}`, err);
  });
  if (!st.isDirectory()) throw fail(`${volumeDir} is not a directory`);

  const warnings: string[] = [];
  for (const l of o.leaveOut ?? []) {
    warnings.push(warningText(Buffer.from(l.name).toString('latin1'), 'ELEFTOUT', l.why));
    logger.warn({ volume, path: l.name, code: 'ELEFTOUT' }, `archive: ${l.name}: ${l.why}`);
  }
  const progress: ArchiveProgress = { bytesDone: 0, bytesTotal: 0, entries: 0 };
  const report = progressReporter(o.onProgress, o.progressIntervalMs, logger.child({ volume }));
  let out = -1;
  try {
    if (await exists(finalPath)) throw fail(`archive ${finalPath} already exists`);
    const stale = [partial, snarPartial, ...(await tempFilesOf(`${finalPath}.sha256`)), ...(await tempFilesOf(`${finalPath}.manifest.json`))];
    await Promise.all(stale.map((f) => rm(f, { force: true })));
    if (o.base) {
      // The snapshot we start from must be the one published with the base archive: a damaged one
      // would silently leave changed files out of this archive.
      const matches = await copySnapshotChecked(path.join(backupDir, o.base.file), snarPartial, o.base.snapshotSha256);
      if (!matches) throw fail(`the snapshot of ${o.base.file} does not match its checksum; a full archive is needed`);
    }

    const hash = createHash('sha256');
    let size = 0;
    const z = new GzipChunkWriter({
      level: o.gzipLevel,
      parallel: o.gzipParallel ?? true,
      onOutput: (parts) => {
        for (const p of parts) hash.update(p);
        size += writevAll(out, parts);
      },
    });
    // Our reader over the same bytes: the manifest's entry digest, and the restore's rules now.
    const reader = new TarConsumer(null, fileName, undefined, { threads: 0 }, logger);
    const renameRecords = new RootRenameRecords();
    out = fs.openSync(partial, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o640);
    try {
      const stderr = await runGnuTar(o, snarPartial, async (chunk) => {
        const problem = reader.feed(chunk, () => undefined);
        if (problem) throw problem;
        renameRecords.feed(chunk);
        z.write(chunk);
        progress.bytesDone += chunk.length;
        progress.entries = reader.digest.entries;
        report(progress);
        await z.ready();
      });
      const renamed = stderr.filter((l) => RENAMED_LINE.test(l));
      const records = renameRecords.result();
      if (o.level > 0 && o.base && (renamed.length > 0 || typeof records === 'string' || records.tempDir || records.renames.length > 0)) {
        const conflicts = await renameConflicts(path.join(backupDir, o.base.file), o.base.snapshotSha256, renamed, records, signal);
        if (conflicts.length > 0) throw new DirectoriesRenamed(conflicts);
        logger.info({ volume, renamed: renamed.slice(0, 20) }, 'directories renamed since the last run: the incremental records the renames, a restore replays them');
      }
      for (const line of stderr) {
        if (RENAMED_LINE.test(line)) continue;
        if (warnings.length < MAX_WARNINGS) warnings.push(line);
        logger.warn({ volume, tar: line }, `archive: GNU tar: ${line}`);
      }
      await reader.end();
      reader.finish();
      await z.end();
      await fsync(out);
    } finally {
      z.abort();
      fs.closeSync(out);
    }
    await fsyncFile(snarPartial);
    report(progress, true);
    const sha256 = hash.digest('hex');
    const { sha256: snapSha, volumeEntries } = await readSnapshot(snarPartial);
    const durationMs = Date.now() - started;
    const basedOn = o.basedOn.map((l) => l.file);
    const result: IncrementalArchiveResult = {
      file: fileName, path: finalPath, size, sha256,
      entries: reader.digest.entries, entryDigest: reader.digest.digest(), contentBytes: reader.digest.contentBytes,
      bytesRead: progress.bytesDone, durationMs, warnings, level: o.level, basedOn, snapshotSha256: snapSha, volumeEntries,
    };
    const manifest = {
      volume, file: fileName, size, sha256, format: 'gnu-listed-incremental',
      level: o.level,
      // What a restore of this archive reads before it, with the checksums they had when this one
      // was made (a replaced base is noticed even when its own sidecars were rewritten).
      basedOn: o.basedOn.map((l) => ({ file: l.file, sha256: l.sha256 })),
      snapshot: { file: `${fileName}${SNAPSHOT_SUFFIX}`, sha256: snapSha },
      // Entries in the volume (below its root) as the snapshot lists them: at every level the size
      // of the whole volume in entries, which the size-drop alarm compares (an incremental's own
      // size only says how much changed).
      volumeEntries,
      entries: result.entries, entryDigest: result.entryDigest, contentBytes: result.contentBytes,
      bytesRead: result.bytesRead, durationMs,
      startedAt: new Date(started).toISOString(), createdAt: new Date().toISOString(),
      warnings: warnings.length, warningMessages: warnings,
      tool: 'oob-backup',
    };
    await publish({
      partial, finalPath,
      sidecars: [
        { suffix: '.sha256', content: `${sha256}  ${fileName}\n` },
        { suffix: SNAPSHOT_SUFFIX, file: snarPartial },
        { suffix: '.manifest.json', content: `${JSON.stringify(manifest, null, 2)}\n` },
      ],
      beforeRename: () => signal?.throwIfAborted(),
    });
    logger.info({ volume, file: fileName, level: o.level, size, entries: result.entries, durationMs }, 'incremental archive written');
    return result;
  } catch (err) {
    await Promise.all([partial, snarPartial].map((f) => rm(f, { force: true }).catch(() => undefined)));
    if (err instanceof DirectoriesRenamed) throw err;
    if (err instanceof AlreadyExistsError) throw fail(`archive ${finalPath} already exists`, err);
    if (err instanceof Error && err.message.startsWith(`volume "${volume}": `)) throw err;
    if (signal?.aborted) throw fail(`archiving ${volumeDir} aborted`, err);
    throw fail(`archiving ${volumeDir} to ${finalPath} failed: ${(err as Error).message}`, err);
  }
}

/**
 * Runs `tar --create --listed-incremental` and hands its stdout to `onData` (awaited: that is the
 * back-pressure). Resolves with tar's warnings when it exits 0 or 1 (1: files changed or vanished
 * while read, which GNU tar archived as well as it could); rejects on exit ≥ 2 with its messages.
 */
async function runGnuTar(o: IncrementalArchiveOptions, snapshot: string, onData: (chunk: Buffer) => Promise<void>): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  delete env.TAR_OPTIONS;
  const child = spawn(o.tarCommand ?? 'tar', [
    '--create', '--format=gnu', '--numeric-owner', '--no-check-device', '--quoting-style=c',
    '--no-xattrs', '--no-acls', '--no-selinux', '--force-local',
    // Said only in verbose mode otherwise: which directories GNU tar takes for renamed (see DirectoriesRenamed).
    '--warning=rename-directory',
    // Holes as holes: GNU tar's own extraction of an incremental (restore-chain.ts) writes stored
    // zeros as data, so a sparse file came back fully allocated (found by a tester).
    '--sparse',
    // Exact names at the top only: anchored, no wildcards (a work directory's name has none anyway).
    ...(o.leaveOut ?? []).flatMap((l) => ['--anchored', '--no-wildcards', `--exclude=./${l.name}`]),
    `--listed-incremental=${snapshot}`, '--file=-', '--directory', o.volumeDir, '.',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const errText: Buffer[] = [];
  let errBytes = 0;
  child.stderr.on('data', (b: Buffer) => {
    if (errBytes < 64 * 1024) errText.push(b);
    errBytes += b.length;
  });
  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, sig }));
  });
  const onAbort = () => child.kill('SIGKILL');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of child.stdout) {
      o.signal?.throwIfAborted();
      await onData(chunk as Buffer);
    }
    const { code, sig } = await exited;
    o.signal?.throwIfAborted();
    const lines = Buffer.concat(errText).toString('latin1').split('\n').map((l) => l.replace(/^tar: /, '')).filter(Boolean);
    if (code === 0 || code === 1) return lines;
    throw new Error(`GNU tar failed (${sig ? `signal ${sig}` : `exit ${code}`}): ${lines.slice(0, 20).join('; ') || 'no message'}`);
  } catch (err) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}
