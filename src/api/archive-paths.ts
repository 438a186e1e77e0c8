/**
 * Paths inside a volume archive as the API takes and shows them. Names are bytes on Linux: inside
 * the service a path is a binary string (one char per byte); a client gets and sends its key
 * (base64url of the bytes) and sees a display form (UTF-8, invalid bytes as U+FFFD).
 */
import path from 'node:path';
import type { AppContext } from '../runtime/context.js';
import type { StoredArchive } from '../stores/backup-store.js';
import { ArchiveError, HostileArchiveError } from '../engine/archive-errors.js';
import { withEntryIndex, type IndexUse } from '../engine/entry-index/entry-index.js';
import { restoreChainOf } from '../engine/incremental/chain.js';
import type { ExpectedArchive } from '../engine/entry-index/index-reader.js';
import { badRequest, HttpError, notFound } from './http-error.js';

export function display(bin: string): string {
  return Buffer.from(bin, 'latin1').toString('utf8');
}

export function keyOf(bin: string): string {
  return Buffer.from(bin, 'latin1').toString('base64url');
}

/**
 * A path of the volume from its key or text, normalized ("a//b/" → "a/b", "" = the root), or 400:
 * absolute paths, ".." components and NUL bytes name nothing inside a volume.
 */
export function volumePath(bin: string, field: string, what = 'path'): string {
  if (bin.includes('\0')) throw badRequest(`${what} contains a NUL byte`, field);
  if (bin.startsWith('/')) throw badRequest(`${what} ${JSON.stringify(display(bin))} is absolute; give it relative to the volume`, field);
  const parts = bin.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw badRequest(`${what} ${JSON.stringify(display(bin))} contains "..": only paths inside the volume can be listed or restored`, field);
  return parts.join('/');
}

export function fromKey(key: string, field: string): string {
  const bin = Buffer.from(key, 'base64url').toString('latin1');
  // base64url decoding skips what it cannot read: only a key that encodes back the same is one.
  if (keyOf(bin) !== key.replace(/=+$/, '')) throw badRequest(`${field} ${JSON.stringify(key)} is not an entry key (base64url of a path)`, field);
  return bin;
}

/**
 * The volume archive of set `stamp`, or 404. For an incremental archive (issue 16), `chain` is every
 * archive its restore reads, the full first and it last: its entries are the volume as it was then.
 */
export async function volumeArchive(ctx: AppContext, stamp: string, volume: string): Promise<{ archive: StoredArchive; archivePath: string; chain: string[] | undefined }> {
  const set = await ctx.store.getSet(stamp, { shared: true });
  if (!set) throw notFound(`no backup set ${stamp}`);
  const archive = set.archives.find((a) => a.kind === 'volume' && a.volume === volume);
  if (!archive) {
    const has = set.archives.filter((a) => a.kind === 'volume').map((a) => a.volume);
    throw notFound(`backup set ${stamp} has no archive of the volume ${volume}; it has ${has.join(', ') || 'none'}`);
  }
  const chain = archive.incremental ? await readable(archive, () => restoreChainOf(ctx.config.backupDir, archive.file)) : undefined;
  return { archive, archivePath: path.join(ctx.config.backupDir, archive.file), chain };
}

/** `use` on the archive's entry index (built first if it has none); an unreadable archive is 422. */
export function usingIndex<T>(
  ctx: AppContext,
  archive: StoredArchive,
  archivePath: string,
  use: (indexFile: string, expected: ExpectedArchive) => Promise<T>,
): Promise<IndexUse<T>> {
  return readable(archive, () => withEntryIndex(archivePath, { logger: archiveLogger(ctx, archive) }, use));
}

export function archiveLogger(ctx: AppContext, archive: StoredArchive) {
  return ctx.logger.child({ module: 'api', volume: archive.volume, stamp: archive.stamp });
}

/** `read` of an archive (or of its chain): an unreadable or damaged one is 422, a vanished one 404. */
export async function readable<T>(archive: StoredArchive, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ArchiveError || err instanceof HostileArchiveError) {
      throw new HttpError(422, 'archive_unreadable', `the archive ${archive.file} cannot be read: ${err.message}`);
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`the archive ${archive.file} is gone (pruned meanwhile?)`);
    throw err;
  }
}
