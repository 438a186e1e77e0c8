/**
 * One directory level of an archive from its entry index, a page at a time: children sorted by
 * the bytes of their names, from after `cursor` on. One pass over the index; memory holds at most
 * about twice a page (a page's worth of the smallest names so far), however large the directory.
 * A name that occurs twice in the archive is listed as its last occurrence, as tar extracts it.
 */
import type { IndexEntry } from './index-format.js';
import { readIndex, type ExpectedArchive } from './index-reader.js';

/** A child of the listed directory; mtimeSec null for a directory the archive does not list itself. */
export type Listed = Omit<IndexEntry, 'mtimeSec'> & { name: string; mtimeSec: number | null };

export interface DirectoryPage {
  /** false: there is no directory of that path in the archive. */
  found: boolean;
  /** Up to `limit` children, sorted by name bytes; `name` is the last component (binary string). */
  entries: Listed[];
  /** The last name of this page when more follow, else undefined. */
  nextAfter: string | undefined;
}

export async function listDirectory(
  indexFile: string,
  expected: ExpectedArchive,
  dir: string,
  o: { after?: string; limit: number },
): Promise<DirectoryPage> {
  const prefix = dir === '' ? '' : `${dir}/`;
  let kind: 'dir' | 'other' | undefined = dir === '' ? 'dir' : undefined;
  const kept = new Map<string, Listed>();
  /** Names above this cannot be on the page: skipped, but they mean more pages follow. */
  let ceiling: string | undefined;
  let more = false;
  const shrink = () => {
    const names = [...kept.keys()].sort(byBytes);
    for (const n of names.slice(o.limit + 1)) kept.delete(n);
    ceiling = names[o.limit];
    more = true;
  };
  await readIndex(indexFile, expected, (e) => {
    if (e.path === dir) {
      kind = e.type === 'd' ? 'dir' : 'other';
      return;
    }
    if (!e.path.startsWith(prefix)) return;
    const rest = e.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash !== -1) {
      // A deeper entry: its directory exists even when the archive does not list it.
      kind ??= 'dir';
      const name = rest.slice(0, slash);
      // Its time is unknown (null) until its own entry comes, if it does.
      if (!kept.has(name) && admits(name)) kept.set(name, { type: 'd', path: prefix + name, size: 0, mtimeSec: null, link: undefined, name });
    } else if (admits(rest)) kept.set(rest, { ...e, name: rest });
    if (kept.size > 2 * o.limit + 2) shrink();
  });
  if (kind !== 'dir') return { found: false, entries: [], nextAfter: undefined };
  const names = [...kept.keys()].sort(byBytes);
  const page = names.slice(0, o.limit).map((n) => kept.get(n)!);
  const hasMore = more || names.length > o.limit;
  return { found: true, entries: page, nextAfter: hasMore && page.length > 0 ? page[page.length - 1]!.name : undefined };

  function admits(name: string): boolean {
    if (o.after !== undefined && byBytes(name, o.after) <= 0) return false;
    if (ceiling !== undefined && byBytes(name, ceiling) > 0) {
      more = true;
      return false;
    }
    return true;
  }
}

/** Binary strings compare by their char codes, which are the bytes. */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
