/**
 * Restore a chain of listed-incremental archives into a staging directory (issue 16): the full
 * first, then each incremental in order, replaying its deletions and renames, as an admin does by
 * hand with `tar -xzf <archive> -g /dev/null` for each file.
 *
 * The full goes through our own extraction (verify and extract in one pass: sha256, our reader's
 * hostile-entry rules, GNU tar's listing, the manifest). Each incremental is first verified the
 * same way without writing anything, and only then applied by GNU tar itself with
 * `--listed-incremental=/dev/null`: GNU tar is the reference for what a dumpdir's deletions and a
 * directory's rename records mean, and this is the exact command README gives the admin. While it
 * applies, the file is hashed again on its way into GNU tar, so an archive changed between the
 * check and the extraction fails the restore (the staging directory is then discarded; live data
 * is never touched before the swap). Every symlink in the staging tree came from an archive that
 * passed our rules (targets stay inside the volume), so GNU tar following one stays inside too.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { ArchiveError } from '../archive-errors.js';
import type { ExtractProgress, RootMeta, WriterSettings } from '../extract/extract-options.js';
import { readSidecarSha256, verifyVolumeArchive, type VerifiedArchive } from '../verify/archive-verification.js';
import { readChainManifest } from './chain.js';
import { scanSnapshot } from './snapshot-scan.js';

export interface RestoreChainOptions {
  /** Archive paths, the full first, then the incrementals oldest first. */
  files: string[];
  /** Must not exist; created by the full's extraction. */
  stagingDir: string;
  logger: Logger;
  signal?: AbortSignal;
  writers?: WriterSettings;
  /** The full's extraction: bytes between two early flushes (ExtractOptions.writebackEveryBytes). */
  writebackEveryBytes?: number;
  onProgress?: (p: ExtractProgress & { file: string }) => void;
  /** Each archive of the chain once it passed the whole verification (the full with its extraction, an incremental before GNU tar applies it). */
  onVerified?: (file: string, v: VerifiedArchive, durationMs: number) => void;
  tarCommand?: string;
}

export interface RestoreChainResult {
  /** Entries read over the whole chain (the full's and every incremental's). */
  entries: number;
  /** Files (and links) at the restored point: the full's extraction count, or for a chain what its newest snapshot lists besides directories. */
  files: number;
  /** Content bytes the chain wrote (the full's plus every incremental's). */
  bytes: number;
  /** Mode, owner and mtime of the volume root as the newest archive has it. */
  rootMeta: RootMeta | undefined;
}

export async function restoreChain(o: RestoreChainOptions): Promise<RestoreChainResult> {
  const [full, ...incrementals] = o.files;
  if (full === undefined) throw new Error('a restore needs at least one archive');
  let started = Date.now();
  const first = await verifyVolumeArchive(full, {
    logger: o.logger, signal: o.signal, extractTo: o.stagingDir, writers: o.writers, writebackEveryBytes: o.writebackEveryBytes,
    onProgress: (p) => o.onProgress?.({ ...p, file: path.basename(full) }),
  });
  o.onVerified?.(full, first, Date.now() - started);
  const x = first.extracted!;
  const result: RestoreChainResult = { entries: x.entries, files: x.files, bytes: x.bytes, rootMeta: x.rootMeta };
  for (const file of incrementals) {
    const name = path.basename(file);
    started = Date.now();
    const v = await verifyVolumeArchive(file, {
      logger: o.logger, signal: o.signal, onProgress: (p) => o.onProgress?.({ ...p, file: name }),
    });
    o.onVerified?.(file, v, Date.now() - started);
    await applyWithGnuTar(file, o.stagingDir, v.sha256, o);
    result.entries += v.entries;
    result.bytes += v.bytes;
    o.logger.info({ archive: name, entries: v.entries, bytes: v.bytes }, 'incremental archive verified and applied');
  }
  if (incrementals.length > 0) {
    // The point's own count: what the newest snapshot lists besides directories (the full's
    // count, 10,000 files, was reported for a point that had 9,601; found by a tester).
    result.files = await nonDirectoryNames(incrementals.at(-1)!, o.signal).catch(() => result.files);
    // GNU tar gave the staging root the newest archive's "./" metadata; the swap puts it on the volume root.
    const st = await lstat(o.stagingDir, { bigint: true });
    const ns = st.mtimeNs % 1_000_000_000n;
    const nsec = ns < 0n ? ns + 1_000_000_000n : ns;
    const sec = (st.mtimeNs - nsec) / 1_000_000_000n;
    result.rootMeta = { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtimeSec: Number(sec), mtimeNsec: Number(nsec) };
  }
  return result;
}

/** The names that are no directory in the snapshot of `archivePath` (checked against its manifest), i.e. the point's files, links and others. */
async function nonDirectoryNames(archivePath: string, signal?: AbortSignal): Promise<number> {
  const m = await readChainManifest(archivePath);
  if (!m) throw new Error(`${path.basename(archivePath)} has no chain manifest`);
  let count = 0;
  await scanSnapshot(archivePath, m.snapshot.sha256, () => (flag) => void (flag !== 'D' && count++), signal);
  return count;
}

/** `tar -xz -g /dev/null` of `file` into `dir`, fed by us so that what it reads is hashed: it must be `sha256`. */
async function applyWithGnuTar(file: string, dir: string, sha256: string, o: RestoreChainOptions): Promise<void> {
  const expected = (await readSidecarSha256(file)) ?? sha256;
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  delete env.TAR_OPTIONS;
  const child = spawn(o.tarCommand ?? 'tar', [
    '--extract', '--gzip', '--listed-incremental=/dev/null', '--numeric-owner', '--preserve-permissions',
    '--no-xattrs', '--no-acls', '--no-selinux', '--force-local', '--file=-', '--directory', dir,
  ], { stdio: ['pipe', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 16 * 1024) stderr += b.toString('latin1');
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const hash = createHash('sha256');
  const source = createReadStream(file);
  source.on('data', (chunk) => hash.update(chunk as Buffer));
  const fed = pipeline(source, child.stdin, { signal: o.signal });
  const [feedResult, code] = await Promise.allSettled([fed, exited]);
  const name = path.basename(file);
  if (code.status === 'rejected') throw new Error(`cannot run GNU tar to apply ${name}: ${(code.reason as Error).message}`);
  if (feedResult.status === 'rejected' && code.value === 0) throw feedResult.reason;
  // GNU tar's "Deleting …" lines are what a dumpdir asks for; only its exit status says it failed.
  if (code.value !== 0) throw new ArchiveError('corrupt', `GNU tar could not apply ${name} (exit ${code.value}): ${stderr.trim().split('\n').slice(-5).join('; ')}`);
  const actual = hash.digest('hex');
  if (actual !== expected) throw new ArchiveError('checksum', `${name} changed while it was applied (sha256 ${actual}, expected ${expected})`);
}
