/**
 * One directory level of an archive from its entry index, a page at a time: children sorted by
 * the bytes of their names, from after `cursor` on. One pass over the index; memory holds at most
 * about twice a page (a page's worth of the smallest names so far), however large the directory.
 * A name that occurs twice in the archive is listed as its last occurrence, as tar extracts it.
 */
import type { IndexEntry } from './index-format.js';
import { readIndex, type ExpectedArchive } from './index-reader.js';
import { PageCollector } from './page-collector.js';

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
  const page = new PageCollector<Listed>(o.after, o.limit);
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
      if (!page.has(name)) page.offer(name, { type: 'd', path: prefix + name, size: 0, mtimeSec: null, link: undefined, name });
    } else page.offer(rest, { ...e, name: rest });
  });
  if (kind !== 'dir') return { found: false, entries: [], nextAfter: undefined };
  const entries = page.take().map(([, e]) => e);
  return { found: true, entries, nextAfter: page.more && entries.length > 0 ? entries[entries.length - 1]!.name : undefined };
}
