/**
 * The volume as it was at the point of an incremental archive k (what a restore of its chain makes,
 * README "Incremental archives"), without extracting anything: one directory level a page at a
 * time (listPointDirectory, the page listDirectory gives of a full), and which paths exist as what
 * (findPointPaths, before a restore of chosen paths).
 *
 * Method, from what GNU tar writes and what its restore does (incremen.c: scan_directory,
 * procdir, purge_directory):
 *  - The names of a directory at point k are those of its record in snapshot k (`<archive>.snar`,
 *    format 2, the state after archive k): the same list as its dumpdir in archive k, and the
 *    restore deletes every other name. Flags: 'D' a directory (it has a record of its own), 'Y'
 *    dumped in archive k, 'N' not dumped. Snapshots hold no other flags (the rename records
 *    'R'/'T'/'X' are in the archive's root dumpdir only); any other letter is skipped.
 *  - A 'Y' name or a directory: type, size, mtime, link from archive k's entry index.
 *  - An 'N' name is left alone by the restore, so it is what point k-1 had under the directory's
 *    previous path. GNU tar finds that previous directory by inode (--no-check-device) and the
 *    restore replays the rename; we find it the same way: the record of snapshot k-1 with the
 *    directory's inode (should several share it, on a volume spanning devices: the one with the
 *    same path, else the same device). The name is looked up in that record and followed down the
 *    chain until an archive dumped it. (GNU tar says 'N' for a name that record listed whose mtime
 *    and ctime are older than the previous run, or for one that vanished before it could stat it.)
 *  - A 'Y' name its archive lacks (it vanished between GNU tar's scan and its read: "File removed
 *    before we read it") is followed down the same way, as the restore keeps what was there,
 *    unless that was a directory.
 *
 * Memory does not grow with the volume: a page keeps about twice `limit` names, and only the page's
 * names are looked up further down, in one streaming pass per snapshot and entry index of each
 * level they reach. Each snapshot must match the sha256 its manifest recorded (a damaged one would
 * list the wrong names silently). Paths are binary strings (one char per byte) in the entry index's
 * form: relative, no "./", no trailing "/", "" = the root.
 */
import type { IndexType } from '../entry-index/index-format.js';
import type { DirectoryPage, Listed } from '../entry-index/list-directory.js';
import { PageCollector } from '../entry-index/page-collector.js';
import { ChainReader, type Outcome, type PointOptions } from './chain-reader.js';

/**
 * The children of `dir` at the point of the chain's last archive (`chain`: the files a restore of
 * it reads, the full first), sorted by name bytes, `limit` after `after`: as listDirectory.
 */
export async function listPointDirectory(
  backupDir: string,
  chain: string[],
  dir: string,
  o: PointOptions & { after?: string; limit: number },
): Promise<DirectoryPage> {
  const r = new ChainReader(backupDir, chain, o);
  const top = r.top;
  const first = new PageCollector<string>(o.after, o.limit);
  let [place] = await r.locate(top, [dir], { dir, page: first });
  if (place?.kind === 'step') [place] = await r.follow([place], true);
  if (place?.kind !== 'dir') return { found: false, entries: [], nextAfter: undefined };
  const where = place;

  const prefix = dir === '' ? '' : `${dir}/`;
  const entries: Listed[] = [];
  // The page from the pass that found the directory, when that was its record at the top level.
  let page = where.level === top && where.path === dir ? first : undefined;
  let after = o.after;
  let more = false;
  while (entries.length < o.limit) {
    page ??= await r.collectPage(where, after, o.limit - entries.length);
    const names = page.take();
    more = page.more;
    page = undefined;
    const found = await r.children(where, names);
    for (const [name] of names) {
      const e = found.get(name);
      if (e) entries.push({ ...e, path: prefix + name, name });
    }
    // Only a name listed but absent (see the header) leaves a gap to fill from the names after it.
    if (!more || names.length === 0) break;
    after = names[names.length - 1]![0];
  }
  const last = entries[entries.length - 1];
  return { found: true, entries, nextAfter: more && last ? last.name : undefined };
}

/** The type of each of `paths` that exists at the point of the chain's last archive; absent ones are left out. */
export async function findPointPaths(backupDir: string, chain: string[], paths: string[], o: PointOptions): Promise<Map<string, IndexType>> {
  const r = new ChainReader(backupDir, chain, o);
  const unique = [...new Set(paths)];
  const located = await r.locate(r.top, unique);
  const steps = located.flatMap((p, i) => (p.kind === 'step' ? [{ i, step: p }] : []));
  const followed = await r.follow(steps.map((s) => s.step), false);
  const outcomes: Outcome[] = located.map((p) => (p.kind === 'step' ? { kind: 'none' } : p));
  steps.forEach((s, j) => (outcomes[s.i] = followed[j]!));
  const found = new Map<string, IndexType>();
  outcomes.forEach((x, i) => {
    if (x.kind === 'dir') found.set(unique[i]!, 'd');
    else if (x.kind === 'entry') found.set(unique[i]!, x.entry.type);
  });
  return found;
}
