/**
 * Using an archive's entry index (index-format.ts): read it, and when it is missing or does not
 * match the archive (archives made by GNU tar or by earlier versions, copied in by hand, or an
 * index that was damaged), build it once from the archive and publish it atomically beside it.
 * Building reads the whole archive with the restore's own checks (sha256 against the `.sha256`
 * sidecar, gzip, every header, hostile names refused); later reads touch only the index.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir } from '../fs/atomic.js';
import { verifyArchive } from '../extract/extract-archive.js';
import { readSidecarSha256 } from '../verify/archive-verification.js';
import { INDEX_SUFFIX } from './index-format.js';
import { readIndex, StaleIndexError, type ExpectedArchive } from './index-reader.js';
import { EntryIndexWriter } from './index-writer.js';

export { INDEX_SUFFIX, StaleIndexError };

/** Builds under way in this process, by archive path: two listings of a new archive build once. */
const building = new Map<string, Promise<void>>();

export interface IndexUse<T> {
  result: T;
  /** The index had to be built (from the archive) for this answer. */
  built: boolean;
}

/**
 * Runs `use` on the archive's index; if the index is missing or stale, builds it and runs `use`
 * again. Errors of the archive itself (corrupt, hostile, unreadable) propagate from the build.
 */
export async function withEntryIndex<T>(
  archivePath: string,
  o: { logger: Logger; signal?: AbortSignal },
  use: (indexFile: string, expected: ExpectedArchive) => Promise<T>,
): Promise<IndexUse<T>> {
  const indexFile = `${archivePath}${INDEX_SUFFIX}`;
  const expected = await expectedArchive(archivePath);
  try {
    return { result: await use(indexFile, expected), built: false };
  } catch (err) {
    if (!(err instanceof StaleIndexError)) throw err;
    if ((await fs.stat(indexFile).catch(() => undefined)) !== undefined) o.logger.warn({ archive: path.basename(archivePath), reason: err.message }, 'entry index: stale, rebuilding it');
  }
  let job = building.get(archivePath);
  if (!job) {
    job = buildEntryIndex(archivePath, expected, o).finally(() => building.delete(archivePath));
    building.set(archivePath, job);
  }
  await job;
  return { result: await use(indexFile, await expectedArchive(archivePath)), built: true };
}

/**
 * For a reader that goes through the whole archive anyway (the verify job): a writer for the index
 * when the archive has none that matches it, else undefined. `publish` after a successful read.
 */
export async function indexWriterIfMissing(archivePath: string): Promise<{ writer: EntryIndexWriter; publish: (sha256: string) => Promise<void> } | undefined> {
  const indexFile = `${archivePath}${INDEX_SUFFIX}`;
  const expected = await expectedArchive(archivePath);
  try {
    await readIndex(indexFile, expected, () => undefined);
    return undefined;
  } catch (err) {
    if (!(err instanceof StaleIndexError)) throw err;
  }
  const writer = new EntryIndexWriter(`${indexFile}.${randomBytes(6).toString('hex')}.partial`);
  return {
    writer,
    publish: async (sha256) => {
      writer.finish(expected.size, sha256);
      await fs.rename(writer.tempPath, indexFile);
      await fsyncDir(path.dirname(indexFile));
    },
  };
}

async function expectedArchive(archivePath: string): Promise<ExpectedArchive> {
  const [st, sha256] = await Promise.all([fs.stat(archivePath), readSidecarSha256(archivePath)]);
  return { size: st.size, sha256 };
}

/** Reads the whole archive once and publishes `<archive>.entries.gz` (temp file, fsync, rename). */
export async function buildEntryIndex(archivePath: string, expected: ExpectedArchive, o: { logger: Logger; signal?: AbortSignal }): Promise<void> {
  const started = Date.now();
  const indexFile = `${archivePath}${INDEX_SUFFIX}`;
  const temp = `${indexFile}.${randomBytes(6).toString('hex')}.partial`;
  const writer = new EntryIndexWriter(temp);
  try {
    const r = await verifyArchive(archivePath, { expectedSha256: expected.sha256, logger: o.logger, signal: o.signal, onEntry: (e) => writer.add(e) });
    writer.finish(expected.size, r.sha256);
    await fs.rename(temp, indexFile);
  } catch (err) {
    writer.abort();
    throw err;
  }
  await fsyncDir(path.dirname(indexFile));
  o.logger.info({ archive: path.basename(archivePath), ms: Date.now() - started }, 'entry index: built from the archive');
}
