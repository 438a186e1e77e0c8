/**
 * Verifying a volume archive without trusting our own reader alone (issue 10): one pass of our
 * reader (sha256 of the file, gunzip, every header and the restore's hostile-entry checks) and, at
 * the same time on the other core, GNU tar's listing of the same file. Both turn every entry into
 * the same canonical line (entry-digest.ts); the archive is good only when
 *   - the sha256 matches its `.sha256` sidecar,
 *   - our reader and GNU tar agree on every entry (count and digest), and
 *   - for our own archives, both agree with the manifest written at archive time (entry count,
 *     content bytes, digest of the entry list).
 * Archives without a manifest (copied in by hand, made by earlier OOB versions) have nothing to be
 * held against but the two readers; they are reported as `origin: 'external'`. An archive that has
 * our manifest but no readable `.sha256` fails: its checksum cannot be checked.
 *
 * When the readers disagree, a second pass finds the first entry where they do, so the message
 * names it (with both readings) instead of only saying "digest differs".
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ArchiveError } from '../archive-errors.js';
import { canonicalLine, describeEntry, EntryDigest, fieldsOf, type EntryFields } from '../entry-digest.js';
import { feedGnuTarListing, listWithGnuTar } from '../gnu-tar/list-archive.js';
import { extractArchive, verifyArchive, type ExtractProgress, type ExtractResult, type WriterSettings } from '../extract/extract-archive.js';

export interface ArchiveManifest {
  /** The archive's own name when it was written. */
  file?: string;
  sha256?: string;
  entries?: number;
  entryDigest?: string;
  contentBytes?: number;
  format?: string;
}

export interface VerifiedArchive {
  sha256: string;
  entries: number;
  /** Content bytes of the regular files, as restored. */
  bytes: number;
  entryDigest: string;
  /** 'oob-backup': held against its manifest too; 'external': no manifest, the two readers only. */
  origin: 'oob-backup' | 'external';
  /** With `extractTo`: what the extraction wrote. */
  extracted?: ExtractResult;
}

export interface VerifyArchiveOptions {
  logger: Logger;
  onProgress?: (p: ExtractProgress) => void;
  signal?: AbortSignal;
  /**
   * A restore: extract into this staging directory in the same pass, instead of reading twice
   * (verify, then extract). Live data is untouched either way; when verification fails, the caller
   * discards the staging directory.
   */
  extractTo?: string;
  /** The extraction's writer threads (see WriterSettings). */
  writers?: WriterSettings;
  /** With `extractTo`: bytes between two early flushes (ExtractOptions.writebackEveryBytes). */
  writebackEveryBytes?: number;
  /** With `extractTo`: extract only these entries (single-file restore); all are verified. */
  select?: (rel: string) => boolean;
  /** Every entry as our reader reads it (to write the entry index on the way). */
  onEntry?: (e: EntryFields) => void;
}

/** Reads `<archive>.manifest.json`; undefined when there is none (or it is not ours). */
export async function readManifest(archivePath: string): Promise<ArchiveManifest | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(`${archivePath}.manifest.json`, 'utf8')) as ArchiveManifest & { tool?: string };
    return m.tool === 'oob-backup' ? m : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ArchiveError('corrupt', `the manifest ${archivePath}.manifest.json cannot be read: ${(err as Error).message}`);
  }
}

/** The checksum recorded in `<archive>.sha256`, or null when there is no readable one. */
export async function readSidecarSha256(archivePath: string): Promise<string | null> {
  const text = await fs.readFile(`${archivePath}.sha256`, 'utf8').catch(() => '');
  return /^([0-9a-fA-F]{64})\s/.exec(text)?.[1]?.toLowerCase() ?? null;
}

export async function verifyVolumeArchive(archivePath: string, o: VerifyArchiveOptions): Promise<VerifiedArchive> {
  const [manifest, sidecar] = await Promise.all([readManifest(archivePath), readSidecarSha256(archivePath)]);
  if (manifest && sidecar === null) {
    throw new ArchiveError('checksum', `the archive has our manifest but its .sha256 sidecar is missing or unreadable, so its checksum cannot be checked`);
  }
  // An archive renamed (or copied over another's name) together with its sidecars keeps the
  // manifest of its own name: a set must not be restored from another set's archive.
  if (manifest?.file !== undefined && manifest.file !== path.basename(archivePath)) {
    throw new ArchiveError('mismatch', `the archive's manifest belongs to ${JSON.stringify(manifest.file)}: this is another archive under this name (renamed or copied over it?)`);
  }
  if (manifest?.sha256 && sidecar !== null && manifest.sha256 !== sidecar) {
    throw new ArchiveError('checksum', `the .sha256 sidecar (${sidecar}) and the manifest (${manifest.sha256}) disagree`);
  }

  // One decompression for both tar readers: GNU tar lists the stream our reader decodes (zlib has
  // checked each member's CRC-32; the compressed file's sha256 is held against the sidecar).
  const gnu = new EntryDigest();
  const feed = feedGnuTarListing(path.basename(archivePath), (rec) => gnu.add(fieldsOf(rec)), { signal: o.signal });
  const read = (
    o.extractTo === undefined
      ? verifyArchive(archivePath, { expectedSha256: sidecar, logger: o.logger, onProgress: o.onProgress, signal: o.signal, tee: feed, onEntry: o.onEntry })
      : extractArchive(archivePath, o.extractTo, {
          expectedSha256: sidecar, logger: o.logger, onProgress: o.onProgress, signal: o.signal, writers: o.writers, tee: feed, select: o.select, onEntry: o.onEntry,
          writebackEveryBytes: o.writebackEveryBytes,
        })
  ).then(
    (r) => {
      feed.end();
      return r;
    },
    (err: Error) => {
      feed.abort(err);
      throw err;
    },
  );
  // Both must settle before we report: a failure of one must not leave the other running unobserved.
  const [ours, theirs] = await Promise.allSettled([read, feed.done]);
  if (ours.status === 'rejected') throw ours.reason;
  if (theirs.status === 'rejected') {
    throw new ArchiveError('corrupt', `GNU tar cannot read the archive, which our reader accepted: ${(theirs.reason as Error).message}`);
  }
  const r = ours.value;
  const gnuDigest = gnu.digest();
  if (gnu.entries !== r.entries || gnuDigest !== r.entryDigest) {
    const where = await firstDifference(archivePath, o).catch((err: Error) => `(could not find the first difference: ${err.message})`);
    throw new ArchiveError('mismatch', `GNU tar and our reader read the archive differently: ${gnu.entries} entries vs ${r.entries}; ${where}`);
  }
  // Every archive of a volume holds at least the volume root "./" (ours, `tar -C <volume> -czf x .`).
  // One without any entry (a gzip of zeros, a tar of nothing: to both readers an empty archive) is
  // no backup of a volume, and restoring it would only empty the volume.
  if (r.entries === 0) {
    throw new ArchiveError('corrupt', 'the archive holds no entries, not even the volume root "./": it is no backup of a volume (restoring it would only empty the volume)');
  }
  if (manifest) {
    const problems: string[] = [];
    if (manifest.entries !== undefined && manifest.entries !== r.entries) problems.push(`${r.entries} entries, the manifest says ${manifest.entries}`);
    if (manifest.contentBytes !== undefined && manifest.contentBytes !== r.bytes) problems.push(`${r.bytes} content bytes, the manifest says ${manifest.contentBytes}`);
    if (manifest.entryDigest !== undefined && manifest.entryDigest !== r.entryDigest) problems.push('the entry list differs from the one written at archive time');
    if (problems.length) throw new ArchiveError('mismatch', `the archive does not match its manifest: ${problems.join('; ')}`);
  }
  const v: VerifiedArchive = { sha256: r.sha256, entries: r.entries, bytes: r.bytes, entryDigest: r.entryDigest, origin: manifest ? 'oob-backup' : 'external' };
  if (o.extractTo !== undefined) v.extracted = r;
  return v;
}

/** Both readers again, side by side; the first entry (or the missing one) where they part. */
async function firstDifference(archivePath: string, o: VerifyArchiveOptions): Promise<string> {
  // Bounded: on a backlog this large the lists differ far in; say where we stopped.
  const MAX_BACKLOG = 100_000;
  const ours: EntryFields[] = [];
  const theirs: EntryFields[] = [];
  let index = 0;
  let found: string | undefined;
  const compare = () => {
    while (found === undefined && ours.length > 0 && theirs.length > 0) {
      const a = ours.shift()!;
      const b = theirs.shift()!;
      if (canonicalLine(a) !== canonicalLine(b)) found = `entry ${index + 1}: ours ${describeEntry(a)}; GNU tar ${describeEntry(b)}`;
      index++;
    }
    if (found === undefined && (ours.length > MAX_BACKLOG || theirs.length > MAX_BACKLOG)) found = `the first ${index} entries agree`;
  };
  const abort = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, abort.signal]) : abort.signal;
  await Promise.allSettled([
    verifyArchive(archivePath, { logger: o.logger, signal, onEntry: (e) => { ours.push(e); compare(); } }),
    listWithGnuTar(archivePath, (r) => { theirs.push(fieldsOf(r)); compare(); }, { signal }),
  ]);
  if (found) return found;
  const rest = ours[0] ? `only our reader has ${describeEntry(ours[0])}` : theirs[0] ? `only GNU tar has ${describeEntry(theirs[0])}` : 'no single entry differs';
  return `entry ${index + 1}: ${rest}`;
}
