/**
 * From a stored header and the extended headers before it to the entry as GNU tar reads it:
 * a GNU long name or link ('L'/'K') replaces the header's, then the pax global header's records
 * and the entry's own pax records apply in that order, GNU.sparse.name wins over a pax path, and
 * the type flag decides the entry type and whether content follows (as GNU tar decides it, not by
 * the header's size field alone).
 */
import { quoteName } from '../../core/show-name.js';
import type { EntryType } from '../entry-record.js';
import { EntryProblem } from './entry-problem.js';
import type { RawHeader } from './header.js';
import { PaxError, paxInteger, parsePax, paxTime, type PaxRecord } from './pax.js';
import type { PaxSparse } from './sparse.js';

/** One real entry, with every override applied. */
export interface TarEntry {
  /** Binary string as stored (not normalised): the consumer decides what is safe. */
  path: string;
  type: EntryType;
  /** The header's type flag ('0', '5', 'S', …), for messages. */
  typeflag: string;
  /** Binary string: symlink target, or the archive path a hard link points to. */
  linkpath: string | undefined;
  /** Permission bits (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Size of the file's content as restored (a sparse file's full size); 0 for all but regular files. */
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Sparse files: [offset, length, offset, length, …] of the stored data within the file. */
  sparse: number[] | undefined;
}

/** The overrides waiting for the next entry. */
export interface Overrides {
  /** GNU long name / link ('L' / 'K'). */
  longName?: string;
  longLink?: string;
  /** The last extended header's records ('x'). */
  pax?: PaxRecord[];
}

export type Resolved =
  /** A volume label ('V'): no file; its `stored` bytes are skipped. */
  | { kind: 'label'; path: string; stored: number }
  | {
      kind: 'entry';
      entry: TarEntry;
      /** Bytes stored after the header. */
      stored: number;
      /** Whether GNU tar reads those bytes as the entry's content (else they are skipped, or absent). */
      content: 'file' | 'skip' | 'none';
      /** pax sparse records, when the entry is a sparse file in pax format. */
      paxSparse: PaxSparse | undefined;
    };

export function resolveEntry(h: RawHeader, o: Overrides, global: readonly PaxRecord[]): Resolved {
  let path = o.longName ?? h.name;
  let linkpath: string | undefined = o.longLink ?? h.linkname;
  let size = h.size;
  let { uid, gid } = h;
  let mtimeSec = h.mtime;
  let mtimeNsec = 0;
  let sparseName: string | undefined;
  const sparse: PaxSparse = { major: -1, minor: -1, realSize: -1, map: [], map01: undefined };
  let anySparse = false;
  const apply = (r: PaxRecord) => {
    if (r.key.startsWith('GNU.sparse.')) anySparse = true;
    switch (r.key) {
      case 'path': path = r.value; return;
      case 'linkpath': linkpath = r.value; return;
      case 'size': size = paxInteger(r); return;
      case 'uid': uid = paxInteger(r); return;
      case 'gid': gid = paxInteger(r); return;
      case 'mtime': ({ sec: mtimeSec, nsec: mtimeNsec } = paxTime(r)); return;
      case 'GNU.sparse.name': sparseName = r.value; return;
      case 'GNU.sparse.size':
      case 'GNU.sparse.realsize': sparse.realSize = paxInteger(r); return;
      case 'GNU.sparse.major': sparse.major = paxInteger(r); return;
      case 'GNU.sparse.minor': sparse.minor = paxInteger(r); return;
      case 'GNU.sparse.offset':
      case 'GNU.sparse.numbytes': sparse.map.push(paxInteger(r)); return;
      case 'GNU.sparse.map': sparse.map01 = r.value; return;
      default: return; // atime, ctime, uname, gname, charsets, comments, xattrs: not restored
    }
  };
  try {
    for (const r of global) apply(r);
    for (const r of o.pax ?? []) apply(r);
  } catch (err) {
    if (err instanceof PaxError) throw new EntryProblem('corrupt', err.message);
    throw err;
  }
  // GNU tar: the sparse name wins over a pax path, whatever their order.
  if (sparseName !== undefined) path = sparseName;
  if (!path) throw new EntryProblem('corrupt', 'tar entry without a path');

  const t = h.typeflag;
  let type: EntryType;
  let content: 'file' | 'skip' | 'none' = 'skip';
  switch (t) {
    case '0': case '\0': case '7':
      // Before directories had a type, a trailing slash made one: GNU tar still extracts a '0', '\0'
      // or contiguous '7' entry named so as a directory (and then reads no content for it).
      type = path.endsWith('/') ? 'dir' : 'file';
      content = type === 'file' ? 'file' : 'none';
      break;
    case 'S': type = 'file'; content = 'file'; break;
    case '1': type = 'hardlink'; content = 'none'; break;
    case '2': type = 'symlink'; break;
    case '3': type = 'char'; content = 'none'; break;
    case '4': type = 'block'; content = 'none'; break;
    case '5': type = 'dir'; content = 'none'; break;
    case '6': type = 'fifo'; break;
    case 'D': type = 'dir'; break; // GNU dumpdir: a directory whose content lists its names
    case 'V': return { kind: 'label', path, stored: size };
    default:
      throw new EntryProblem('unsupported', `contains entry ${quoteName(path)} of unsupported type ${JSON.stringify(t)}`);
  }
  if (type !== 'symlink' && type !== 'hardlink') linkpath = undefined;
  else if (!linkpath) throw new EntryProblem('corrupt', `link ${quoteName(path)} without a target`);
  // A target ending in "/" names a directory, which has no hard links: GNU tar's extraction fails
  // on it ("Not a directory"); linking the file without the slash would restore what no tar does.
  if (type === 'hardlink' && linkpath!.endsWith('/')) {
    throw new EntryProblem('corrupt', `hard link ${quoteName(path)} to ${quoteName(linkpath!)}: a name ending in "/" cannot be hard linked`);
  }

  const entry: TarEntry = {
    path, type, typeflag: t, linkpath,
    mode: h.mode & 0o7777, uid, gid,
    size: type === 'file' ? size : 0,
    mtimeSec, mtimeNsec,
    sparse: undefined,
  };
  return { kind: 'entry', entry, stored: size, content, paxSparse: anySparse && type === 'file' ? sparse : undefined };
}

/**
 * The body of an extended header ('x'/'X' pax, 'g' pax global, 'L'/'K' GNU long name/link) into
 * the overrides for the next entry; returns the new global records for 'g' (which replace the
 * previous global header's). Throws PaxError for a malformed pax body.
 */
export function collectOverride(type: string, body: Buffer, next: Overrides): PaxRecord[] | undefined {
  switch (type) {
    case 'x':
    case 'X':
      next.pax = parsePax(body);
      return undefined;
    case 'g':
      return parsePax(body);
    case 'L':
      next.longName = cutAtNul(body);
      return undefined;
    case 'K':
      next.longLink = cutAtNul(body);
      return undefined;
    default:
      return undefined;
  }
}

/** GNU long names end at their first NUL, like every C string GNU tar reads them into. */
function cutAtNul(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.toString('latin1', 0, nul === -1 ? body.length : nul);
}
