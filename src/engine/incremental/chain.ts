/**
 * Chains of listed-incremental archives (issue 16): a full (level 0) and the incrementals made
 * after it, each holding the changes since the one before. What an archive needs is written in its
 * manifest at archive time (`basedOn`: the earlier archives with the sha256 each had then), so the
 * chain of any archive is known without guessing from names or dates, and a base that was replaced
 * or damaged since is noticed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ArchiveError } from '../archive-errors.js';
import { createNewFileStream } from '../fs/atomic.js';

/** One archive of a chain as the next one refers to it. */
export interface ChainLink {
  file: string;
  level: number;
  /** sha256 of the archive file (its `.sha256` sidecar). */
  sha256: string;
  /** sha256 of its `.snar` sidecar, from its manifest. */
  snapshotSha256: string;
}

/** An archive with the sha256 it had when a later archive was based on it. */
export interface ArchiveRef {
  file: string;
  sha256: string;
}

/** What the manifest of an archive in incremental mode says about its place in a chain. */
export interface ChainManifest {
  level: number;
  basedOn: ArchiveRef[];
  snapshot: { file: string; sha256: string };
  sha256: string;
}

/** The chain fields of `<archive>.manifest.json`; undefined for an archive not made in incremental mode. */
export async function readChainManifest(archivePath: string): Promise<ChainManifest | undefined> {
  let m: Partial<ChainManifest> & { tool?: string };
  try {
    m = JSON.parse(await fs.readFile(`${archivePath}.manifest.json`, 'utf8')) as typeof m;
  } catch {
    return undefined;
  }
  if (m.tool !== 'oob-backup' || typeof m.level !== 'number' || !Array.isArray(m.basedOn) || typeof m.snapshot?.sha256 !== 'string' || typeof m.sha256 !== 'string') {
    return undefined;
  }
  return { level: m.level, basedOn: m.basedOn, snapshot: m.snapshot, sha256: m.sha256 };
}

/** sha256 (hex) of `<archive>.snar`, streamed; undefined when there is none. */
export async function snapshotSha256(archivePath: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(`${archivePath}.snar`)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hash.digest('hex');
}

/** The checksum in `<archive>.sha256`, or undefined. */
async function sidecarSha256(archivePath: string): Promise<string | undefined> {
  const text = await fs.readFile(`${archivePath}.sha256`, 'utf8').catch(() => '');
  return /^([0-9a-f]{64})\s/.exec(text)?.[1];
}

/**
 * Whether `file` can continue a chain: it was made in incremental mode, its snapshot matches the
 * checksum in its manifest, and every archive it needs is still there with the checksum it had.
 * Returns its link and the archives a restore of it reads (oldest first, itself last), or the reason
 * it cannot be a base (then the next archive is a full).
 */
export async function chainLinkOf(backupDir: string, file: string): Promise<{ link: ChainLink; chain: ArchiveRef[] } | { reason: string }> {
  const p = path.join(backupDir, file);
  const m = await readChainManifest(p);
  if (!m) return { reason: `${file} was not made in incremental mode (no snapshot)` };
  const snap = await snapshotSha256(p);
  if (snap === undefined) return { reason: `the snapshot ${file}.snar is missing` };
  if (snap !== m.snapshot.sha256) return { reason: `the snapshot ${file}.snar does not match its checksum` };
  const own = await sidecarSha256(p);
  if (own !== m.sha256) return { reason: `${file} does not match its .sha256 sidecar` };
  const problem = await missingBase(backupDir, m.basedOn);
  if (problem) return { reason: problem };
  const link: ChainLink = { file, level: m.level, sha256: m.sha256, snapshotSha256: m.snapshot.sha256 };
  return { link, chain: [...m.basedOn, { file, sha256: m.sha256 }] };
}

async function missingBase(backupDir: string, basedOn: ArchiveRef[]): Promise<string | undefined> {
  for (const b of basedOn) {
    if (b.file !== path.basename(b.file)) return `the manifest names ${JSON.stringify(b.file)} as a base, which is no archive name`;
    const actual = await sidecarSha256(path.join(backupDir, b.file));
    // The archive itself, not only its sidecar: a base moved away without them was found only by
    // the read that failed, as a raw ENOENT naming nothing (found by a tester).
    const there = await fs.stat(path.join(backupDir, b.file)).then((st) => st.isFile(), () => false);
    if (actual === undefined || !there) return `${b.file}, which this archive needs, is missing from BACKUP_DIR`;
    if (actual !== b.sha256) return `${b.file}, which this archive needs, has changed since (sha256 ${actual}, expected ${b.sha256})`;
  }
  return undefined;
}

/**
 * The files a restore of `file` reads, oldest first and `file` last, checked: every base is there
 * with the checksum it had when `file` was made. A full (or an archive made in full mode) needs
 * only itself. Throws an ArchiveError naming the missing or changed base.
 */
export async function restoreChainOf(backupDir: string, file: string): Promise<string[]> {
  const m = await readChainManifest(path.join(backupDir, file));
  if (!m) return [file];
  const problem = await missingBase(backupDir, m.basedOn);
  if (problem) throw new ArchiveError('checksum', `${file} cannot be restored: ${problem}`);
  return [...m.basedOn.map((b) => b.file), file];
}

/**
 * sha256 of a GNU tar snapshot file (format 2) and the number of names its directory lists hold,
 * which is the number of entries in the volume below its root (files, directories, links): read
 * in one streaming pass, so memory does not grow with the volume. Format 2: a version line, the
 * dump's time (two NUL-terminated numbers), then per directory six NUL-terminated fields (nfs,
 * mtime s, ns, dev, ino, name) and its names, each NUL-terminated with a one-letter flag in front,
 * ended by an empty name and one more NUL.
 */
export async function readSnapshot(file: string): Promise<{ sha256: string; volumeEntries: number }> {
  const hash = createHash('sha256');
  let inHeader = true;
  let field = 0; // fields done in the current part: 2 for the time, then 6 per directory header
  let inNames = false;
  let afterNames = false;
  let fieldLength = 0;
  let entries = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (const byte of chunk) {
      if (inHeader) {
        if (byte === 0x0a) inHeader = false;
        continue;
      }
      if (byte !== 0) {
        fieldLength++;
        continue;
      }
      const empty = fieldLength === 0;
      fieldLength = 0;
      if (afterNames) {
        afterNames = false; // the record's closing NUL
        field = 2;
      } else if (inNames) {
        if (empty) {
          inNames = false;
          afterNames = true;
        } else entries++;
      } else if (++field === 8) {
        inNames = true;
      }
    }
  }
  return { sha256: hash.digest('hex'), volumeEntries: entries };
}

/**
 * Copies `<archive>.snar` to `target` (which must not exist) and checks its sha256 on the way, in
 * one read: resolves true when it matched `expected`; on a mismatch the copy is removed.
 */
export async function copySnapshotChecked(archivePath: string, target: string, expected: string): Promise<boolean> {
  const hash = createHash('sha256');
  // The target first: the 'data' listener sets the source flowing at once.
  const out = await createNewFileStream(target);
  const source = createReadStream(`${archivePath}.snar`);
  source.on('data', (chunk) => hash.update(chunk as Buffer));
  await pipeline(source, out);
  if (hash.digest('hex') === expected) return true;
  await fs.rm(target, { force: true });
  return false;
}
