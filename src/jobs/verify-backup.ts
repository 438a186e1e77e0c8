/**
 * "Test your backups": re-read an archive end to end and record the outcome beside it in
 * `<file>.verify.json`, which the listing shows. Volume archives: archive-verification.ts (sha256
 * against the sidecar, our reader with the restore's own checks, GNU tar's reading, the manifest, all
 * agreeing), and with VERIFY_EXTRACT a test extraction compared against them. Dumps: sha256, full
 * gunzip, and mariadb-dump's completion line. A backup that has our manifest but no readable
 * `.sha256` fails: its checksum cannot be checked.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ArchiveName } from '../core/names.js';
import { writeFileAtomic } from '../engine/fs/atomic.js';
import type { Logger } from '../runtime/logger.js';
import { COMPLETION_MARK } from '../db/stream-checks.js';
import { readManifest, verifyVolumeArchive } from '../engine/verify/archive-verification.js';
import { indexWriterIfMissing } from '../engine/entry-index/entry-index.js';
import { extractArchive } from '../engine/extract/extract-archive.js';
import { removeTreeAtAsync } from '../engine/fs/remove-tree.js';
import { readChainManifest, restoreChainOf, snapshotSha256 } from '../engine/incremental/chain.js';

export interface VerifyOutcome {
  ok: boolean;
  at: string;
  error?: string;
  entries?: number;
  bytes?: number;
  extracted?: boolean;
  /** Volume archives: 'oob-backup' (held against its manifest too) or 'external' (no manifest: the two readers only). */
  origin?: 'oob-backup' | 'external';
  /** Volume archives: GNU tar read the archive and agreed with our reader on every entry. */
  gnuTar?: boolean;
  /** Incremental archives: the files a restore reads (full first, this one last), all checked present and unchanged. */
  chain?: string[];
  durationMs: number;
  /** The archive was removed while it was read (a prune of a newer run): no verdict, none written. */
  gone?: true;
}

export const VERIFY_SUFFIX = '.verify.json';

export interface VerifyOptions {
  backupDir: string;
  archive: ArchiveName;
  /** From the `.sha256` sidecar; null for archives without one. */
  sha256: string | null;
  testExtract: boolean;
  /** Writer threads the test extraction may start (RESTORE_THREADS), as a restore would. */
  restoreThreads?: number;
  logger: Logger;
  onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
}

export async function verifyBackup(o: VerifyOptions): Promise<VerifyOutcome> {
  const started = Date.now();
  const file = path.join(o.backupDir, o.archive.file);
  let outcome: VerifyOutcome;
  try {
    if (o.archive.kind === 'sql' && o.sha256 === null && (await readManifest(file))) {
      throw new Error('the dump has our manifest but its .sha256 sidecar is missing or unreadable, so its checksum cannot be checked');
    }
    const r = o.archive.kind === 'sql' ? await verifyDump(file, o.sha256) : await verifyTar(file, o);
    outcome = { ok: true, at: new Date().toISOString(), durationMs: Date.now() - started, ...r };
  } catch (err) {
    outcome = { ok: false, at: new Date().toISOString(), error: (err as Error).message, durationMs: Date.now() - started };
    // Pruned while it was read (verify takes no lock): nothing was found wrong with it, and a
    // verdict beside a file that is gone would only be debris (found by an audit).
    if (!(await fs.stat(file).catch(() => undefined))) {
      o.logger.info({ file: o.archive.file }, 'the archive was removed while it was verified (pruned?): no verdict');
      return { ...outcome, gone: true };
    }
  }
  await writeFileAtomic(`${file}${VERIFY_SUFFIX}`, `${JSON.stringify(outcome, null, 2)}\n`);
  o.logger[outcome.ok ? 'info' : 'error']({ file: o.archive.file, ...outcome }, outcome.ok ? 'backup verified' : 'backup verification FAILED');
  return outcome;
}

export async function readVerifyOutcome(archivePath: string): Promise<VerifyOutcome | null> {
  try {
    return JSON.parse(await fs.readFile(`${archivePath}${VERIFY_SUFFIX}`, 'utf8')) as VerifyOutcome;
  } catch {
    return null;
  }
}

async function verifyTar(file: string, o: VerifyOptions): Promise<Partial<VerifyOutcome>> {
  const chain = await checkChain(o.backupDir, o.archive.file, o.logger);
  // An archive without a matching entry index (made by GNU tar, by hand, by earlier versions) gets
  // one on the way, so that listing its folders later needs no pass over the archive.
  const index = await indexWriterIfMissing(file);
  let v;
  try {
    v = await verifyVolumeArchive(file, { logger: o.logger, onProgress: o.onProgress, onEntry: index && ((e) => index.writer.add(e)) });
    await index?.publish(v.sha256);
  } catch (err) {
    index?.writer.abort();
    throw err;
  }
  if (index) o.logger.info({ file: o.archive.file }, 'entry index written while verifying');
  const outcome = { entries: v.entries, bytes: v.bytes, origin: v.origin, gnuTar: true, ...(chain.length > 1 ? { chain } : {}) };
  if (!o.testExtract) return outcome;
  // The test extraction goes next to the archives (same disk the restore would stage from) and
  // is removed whatever happens.
  const dir = path.join(o.backupDir, `.oob-verify-${process.pid}-${Date.now()}`);
  try {
    const extracted = await extractArchive(file, dir, {
      expectedSha256: v.sha256, logger: o.logger, onProgress: o.onProgress,
      ...(o.restoreThreads !== undefined ? { writers: { threads: o.restoreThreads } } : {}),
      // Removed right after: writing it to disk early would only cost the disk's time.
      writebackEveryBytes: 0,
    });
    if (extracted.entryDigest !== v.entryDigest || extracted.bytes !== v.bytes) {
      throw new Error(`test extraction wrote ${extracted.entries} entries / ${extracted.bytes} bytes, the archive lists ${v.entries} / ${v.bytes}`);
    }
    return { ...outcome, extracted: true };
  } finally {
    await removeTreeAtAsync(dir);
  }
}

/**
 * An archive of incremental mode is checked together with what it depends on (issue 16): every
 * base is there with the checksum it had when this archive was made, none failed its own
 * verification (the snapshot is only logged about). The bases themselves were read end to end
 * by their own verification; reading a whole chain again every night would cost what incremental
 * archives save (`POST /api/backups/:stamp/verify` re-reads a set's archives on request).
 */
async function checkChain(backupDir: string, file: string, logger: Logger): Promise<string[]> {
  const chain = await restoreChainOf(backupDir, file);
  for (const base of chain.slice(0, -1)) {
    const r = await readVerifyOutcome(path.join(backupDir, base));
    if (r && !r.ok) throw new Error(`${base}, which a restore of ${file} needs, failed its own verification: ${r.error ?? 'unknown error'}`);
  }
  // The snapshot only lets the next run continue the chain (without it, that run writes a full,
  // archive-level.ts); a restore never reads it. So it is no verdict on the archive: an archive
  // fetched from a target (which holds no snapshots) was called bad for it (found by an audit).
  const m = await readChainManifest(path.join(backupDir, file));
  if (m && (await snapshotSha256(path.join(backupDir, file))) !== m.snapshot.sha256) {
    logger.info({ file }, 'its snapshot is missing or does not match its checksum: the next archive of the volume will be a full');
  }
  return chain;
}

async function verifyDump(file: string, expected: string | null): Promise<Partial<VerifyOutcome>> {
  const hash = createHash('sha256');
  let tail = '';
  let bytes = 0;
  const source = createReadStream(file);
  source.on('data', (c) => hash.update(c as Buffer));
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      // Only the end matters: keep the last few hundred characters.
      tail = (tail + chunk.toString('latin1')).slice(-512);
      cb();
    },
  });
  try {
    await pipeline(source, createGunzip(), sink);
  } catch (err) {
    throw new Error(`dump is corrupt or truncated: ${(err as Error).message}`, { cause: err });
  }
  const actual = hash.digest('hex');
  if (expected && actual !== expected) throw new Error(`checksum mismatch: expected ${expected}, got ${actual}`);
  if (!tail.includes(COMPLETION_MARK)) throw new Error(`dump is incomplete: no "${COMPLETION_MARK}" line at its end`);
  return { bytes };
}
