/**
 * The entry index of a volume archive: the sidecar `<archive>.entries.gz` that lets the API list
 * one directory of an archive, and a restore find the entries it needs, without decompressing the
 * archive. Text, one line per entry, gzip-compressed (several members: written in pieces):
 *
 *   oob-entry-index 1
 *   <type> <size> <mtimeSec> <path> <link>      one per tar entry, in archive order
 *   end <lines> <archive bytes> <archive sha256> <sha256 of every line above>
 *
 * `type` is f (file), d (directory), l (symlink), h (hard link) or o (anything else); `path` is the
 * entry's path relative to the volume root, without "./" or a trailing "/" ("" is the root, which
 * is not listed), and `link` the link target, both as base64url of their exact bytes ("-": none).
 * The last line binds the index to one archive (its size and checksum) and covers the index itself
 * with a checksum: a truncated, altered or foreign index is detected when it is read, and rebuilt.
 */
import type { EntryType } from '../entry-record.js';

export const INDEX_SUFFIX = '.entries.gz';
export const INDEX_HEADER = 'oob-entry-index 1';

export type IndexType = 'f' | 'd' | 'l' | 'h' | 'o';

export const INDEX_TYPE: Record<EntryType, IndexType> = { file: 'f', dir: 'd', symlink: 'l', hardlink: 'h', char: 'o', block: 'o', fifo: 'o' };

/** What the listing calls each type. */
export const TYPE_NAME: Record<IndexType, 'file' | 'directory' | 'symlink' | 'hardlink' | 'other'> = {
  f: 'file',
  d: 'directory',
  l: 'symlink',
  h: 'hardlink',
  o: 'other',
};

/** One entry as the index holds it: paths as binary strings (one char per byte). */
export interface IndexEntry {
  type: IndexType;
  /** Relative to the volume root; never "". */
  path: string;
  size: number;
  mtimeSec: number;
  link: string | undefined;
}

export function encodeLine(e: IndexEntry): string {
  const link = e.link === undefined ? '-' : b64(e.link);
  return `${e.type} ${e.size} ${e.mtimeSec} ${b64(e.path)} ${link}\n`;
}

export function decodeLine(line: string): IndexEntry | undefined {
  const [type, size, mtime, p, link, rest] = line.split(' ');
  if (rest !== undefined || link === undefined || !'fdlho'.includes(type!) || type!.length !== 1) return undefined;
  const n = Number(size);
  const t = Number(mtime);
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(t) || !p) return undefined;
  return { type: type as IndexType, path: fromB64(p), size: n, mtimeSec: t, link: link === '-' ? undefined : fromB64(link) };
}

export interface IndexTrailer {
  entries: number;
  archiveSize: number;
  archiveSha256: string;
  linesSha256: string;
}

export function encodeTrailer(t: IndexTrailer): string {
  return `end ${t.entries} ${t.archiveSize} ${t.archiveSha256} ${t.linesSha256}\n`;
}

export function decodeTrailer(line: string): IndexTrailer | undefined {
  const m = /^end (\d+) (\d+) ([0-9a-f]{64}) ([0-9a-f]{64})$/.exec(line);
  return m ? { entries: Number(m[1]), archiveSize: Number(m[2]), archiveSha256: m[3]!, linesSha256: m[4]! } : undefined;
}

/** A binary string's bytes as base64url: an entry's key in the API. */
export function b64(bin: string): string {
  return Buffer.from(bin, 'latin1').toString('base64url');
}

export function fromB64(key: string): string {
  return Buffer.from(key, 'base64url').toString('latin1');
}
