/**
 * "Test your backups": re-read an archive end to end and record the outcome beside it in
 * `<file>.verify.json`, which the listing shows. Volume archives: sha256 against the sidecar, full
 * gunzip and tar parse with the restore's own checks, and with VERIFY_EXTRACT a test extraction
 * compared against the parse. Dumps: sha256, full gunzip, and mariadb-dump's completion line.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ArchiveName } from '../core/names.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import type { Logger } from '../lib/logger.js';
import { COMPLETION_MARK } from '../lib/mariadb.js';
import { extractArchive, verifyArchive } from './extract-archive.js';

export interface VerifyOutcome {
  ok: boolean;
  at: string;
  error?: string;
  entries?: number;
  bytes?: number;
  extracted?: boolean;
  durationMs: number;
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
    const r = o.archive.kind === 'sql' ? await verifyDump(file, o.sha256) : await verifyTar(file, o);
    outcome = { ok: true, at: new Date().toISOString(), durationMs: Date.now() - started, ...r };
  } catch (err) {
    outcome = { ok: false, at: new Date().toISOString(), error: (err as Error).message, durationMs: Date.now() - started };
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
  const opts = { expectedSha256: o.sha256, logger: o.logger, onProgress: o.onProgress };
  const parsed = await verifyArchive(file, opts);
  if (!o.testExtract) return { entries: parsed.entries, bytes: parsed.bytes };
  // The test extraction goes next to the archives (same disk the restore would stage from) and
  // is removed whatever happens.
  const dir = path.join(o.backupDir, `.oob-verify-${process.pid}-${Date.now()}`);
  try {
    const extracted = await extractArchive(file, dir, { ...opts, ...(o.restoreThreads !== undefined ? { writers: { threads: o.restoreThreads } } : {}) });
    if (extracted.entries !== parsed.entries || extracted.bytes !== parsed.bytes) {
      throw new Error(`test extraction wrote ${extracted.entries} entries / ${extracted.bytes} bytes, the archive lists ${parsed.entries} / ${parsed.bytes}`);
    }
    return { entries: parsed.entries, bytes: parsed.bytes, extracted: true };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
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
    throw new Error(`dump is corrupt or truncated: ${(err as Error).message}`);
  }
  const actual = hash.digest('hex');
  if (expected && actual !== expected) throw new Error(`checksum mismatch: expected ${expected}, got ${actual}`);
  if (!tail.includes(COMPLETION_MARK)) throw new Error(`dump is incomplete: no "${COMPLETION_MARK}" line at its end`);
  return { bytes };
}
