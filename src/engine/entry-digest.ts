/**
 * A running digest of an archive's entry list: the writer computes it while it archives (and puts
 * it into the manifest), our reader and GNU tar's listing compute it while they read. Equal digests
 * mean the three agree on every entry's name bytes, type, size, link target, mode, owner and
 * mtime, in order. The encoding is length-prefixed, so no name can imitate another entry.
 */
import { createHash, type Hash } from 'node:crypto';
import { quoteName } from '../core/show-name.js';
import type { EntryRecord, EntryType } from './entry-record.js';

/** The fields of an EntryRecord with names as binary strings (one char per byte), as writer and reader hold them. */
export interface EntryFields {
  type: EntryType;
  name: string;
  link: string | undefined;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
}

export function fieldsOf(r: EntryRecord): EntryFields {
  return { ...r, name: r.name.toString('latin1'), link: r.link?.toString('latin1') };
}

/** One line per entry, the same for every source: what the digest hashes and what a mismatch report shows. */
export function canonicalLine(e: EntryFields): string {
  const link = e.link === undefined ? '-1:' : `${e.link.length}:${e.link}`;
  const [sec, nsec] = comparableTime(e.mtimeSec, e.mtimeNsec);
  return `${e.type} ${e.size} ${e.mode.toString(8)} ${e.uid} ${e.gid} ${sec}.${String(nsec).padStart(9, '0')} ${e.name.length}:${e.name} ${link}\n`;
}

/**
 * GNU tar's listing prints a time between -1 s and 0 like its positive counterpart (-0.25 and 0.25
 * both as "00:00:00.25"), so that one case is compared as the positive time. Our own archives
 * store whole seconds; only a foreign archive can hold such a time.
 */
function comparableTime(sec: number, nsec: number): [number, number] {
  return sec === -1 && nsec > 0 ? [0, 1e9 - nsec] : [sec, nsec];
}

/** The same line, readable: names escaped (for error messages). */
export function describeEntry(e: EntryFields): string {
  const link = e.link === undefined ? '' : ` -> ${quoteName(e.link)}`;
  return `${e.type} ${quoteName(e.name)}${link} size ${e.size} mode ${e.mode.toString(8)} owner ${e.uid}:${e.gid} mtime ${e.mtimeSec}.${String(e.mtimeNsec).padStart(9, '0')}`;
}

export class EntryDigest {
  entries = 0;
  /** Sum of the sizes of regular files (content bytes as restored). */
  contentBytes = 0;
  private readonly hash: Hash = createHash('sha256');

  add(e: EntryFields): void {
    this.entries++;
    if (e.type === 'file') this.contentBytes += e.size;
    this.hash.update(canonicalLine(e), 'latin1');
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
