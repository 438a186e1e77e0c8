/**
 * Streams an entry index (index-format.ts) line by line: memory does not grow with its size. The
 * caller's results count only if this resolves: the checksum of the lines, the entry count and the
 * archive the trailer names are checked at the end, and anything amiss throws StaleIndexError.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';
import { decodeLine, decodeTrailer, INDEX_HEADER, type IndexEntry, type IndexTrailer } from './index-format.js';

/** The index is missing, damaged, or describes another archive than the one beside it now. */
export class StaleIndexError extends Error {}

export interface ExpectedArchive {
  size: number;
  /** From the archive's `.sha256` sidecar; null when it has none (then size alone binds them). */
  sha256: string | null;
}

export async function readIndex(file: string, expected: ExpectedArchive, onEntry: (e: IndexEntry) => void): Promise<IndexTrailer> {
  const input = fs.createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    throw new StaleIndexError(`no entry index ${file}: ${(err as Error).message}`);
  }
  const gunzip = zlib.createGunzip();
  const lines = readline.createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity });
  const hash = createHash('sha256');
  let count = 0;
  let first = true;
  let trailer: IndexTrailer | undefined;
  let failure: string | undefined;
  const streamError = new Promise<never>((_, reject) => {
    const fail = (err: Error) => reject(new StaleIndexError(`entry index ${file} cannot be read: ${err.message}`));
    gunzip.once('error', fail);
    input.once('error', fail);
  });
  streamError.catch(() => undefined);
  const consume = async () => {
    for await (const line of lines) {
      if (trailer !== undefined || failure !== undefined) {
        failure ??= 'lines after its end';
        continue;
      }
      if (first) {
        first = false;
        if (line !== INDEX_HEADER) failure = 'not an entry index of this version';
        hash.update(`${line}\n`, 'latin1');
        continue;
      }
      if (line.startsWith('end ')) {
        trailer = decodeTrailer(line);
        if (!trailer) failure = 'a damaged last line';
        continue;
      }
      const e = decodeLine(line);
      if (!e) {
        failure = `a damaged line ${count + 2}`;
        continue;
      }
      hash.update(`${line}\n`, 'latin1');
      count++;
      onEntry(e);
    }
  };
  try {
    await Promise.race([consume(), streamError]);
  } finally {
    lines.close();
    input.destroy();
  }
  if (failure) throw new StaleIndexError(`entry index ${file} has ${failure}`);
  if (!trailer) throw new StaleIndexError(`entry index ${file} is truncated (no last line)`);
  if (trailer.linesSha256 !== hash.digest('hex')) throw new StaleIndexError(`entry index ${file} does not match its own checksum`);
  if (trailer.entries !== count) throw new StaleIndexError(`entry index ${file} lists ${count} entries, its last line says ${trailer.entries}`);
  if (trailer.archiveSize !== expected.size || (expected.sha256 !== null && trailer.archiveSha256 !== expected.sha256)) {
    throw new StaleIndexError(`entry index ${file} describes another archive (size or checksum differ)`);
  }
  return trailer;
}
