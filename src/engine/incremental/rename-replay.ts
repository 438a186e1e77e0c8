/**
 * GNU tar's replay of an incremental's rename records (rename-records.ts), on paper. Its restore
 * (incremen.c, try_purge_directory) applies them one by one, in their order, to the tree the chain
 * had at the base's point, before it removes or extracts anything; the first rename(2) that fails
 * stops the archive's restore with exit 2, leaving that point and every later one of the chain
 * unrestorable. A rename fails when its source is not there (a child's record comes before its
 * parent's and names the child under the parent's new name) or its destination is (a name not yet
 * removed, or a file); a missing parent of the destination GNU tar makes itself (ENOENT: it
 * creates the directories and retries). An empty directory at the destination would be replaced,
 * but emptiness is not known here: any destination that exists counts as a failure.
 *
 * The tree is virtual and mostly not here: a directory taken from the base keeps its base path,
 * and a name below it is looked up in the base (`baseKind`) only when a record reaches it; what a
 * record moved or removed is remembered. Memory: the directories the records touch.
 */
import { quoteName } from '../../core/show-name.js';

export type BaseKind = 'dir' | 'file' | undefined;

class Dir {
  /** Names changed by the records so far: a directory moved here, or null for one moved away. */
  readonly names = new Map<string, Dir | null>();
  /** This directory's path in the base, whose other names it still has; undefined for one GNU tar made. */
  constructor(readonly base: string | undefined) {}
}

/**
 * Replays `renames` (paths relative to the volume, latin1) against the base's tree as `baseKind`
 * tells it; returns why the first one that GNU tar could not apply fails, or undefined when all
 * apply. With `keepGoing`, a rename that fails on its destination is applied anyway and the
 * replay goes on (used to learn every base path a replay may ask about, see wantedBasePaths).
 */
export function replayRenames(renames: readonly { from: string; to: string }[], baseKind: (path: string) => BaseKind, keepGoing = false): string | undefined {
  const root = new Dir('');
  const child = (dir: Dir, name: string): Dir | 'file' | undefined => {
    const changed = dir.names.get(name);
    if (changed !== undefined) return changed ?? undefined;
    if (dir.base === undefined) return undefined;
    const at = dir.base === '' ? name : `${dir.base}/${name}`;
    const kind = baseKind(at);
    if (kind !== 'dir') return kind;
    const d = new Dir(at);
    dir.names.set(name, d);
    return d;
  };
  for (const { from, to } of renames) {
    const f = parts(from);
    const t = parts(to);
    const show = `GNU tar's restore would rename ${quoteName(`./${from}`)} to ${quoteName(`./${to}`)}`;
    if (!f || !t) return `${show}, names it cannot resolve`;
    if (t.length > f.length && f.every((p, i) => p === t[i])) return `${show}, into itself`;
    let fromParent: Dir | 'file' | undefined = root;
    for (const p of f.slice(0, -1)) fromParent = fromParent instanceof Dir ? child(fromParent, p) : undefined;
    const moved = fromParent instanceof Dir ? child(fromParent, f.at(-1)!) : undefined;
    if (!(fromParent instanceof Dir) || !(moved instanceof Dir)) {
      if (keepGoing) continue;
      return `${show}, which is not there then (No such file or directory)`;
    }
    let toParent: Dir = root;
    for (const p of t.slice(0, -1)) {
      const next = child(toParent, p);
      if (next === 'file') return `${show}, below a file (Not a directory)`;
      if (next === undefined) {
        const made = new Dir(undefined);
        toParent.names.set(p, made);
        toParent = made;
      } else toParent = next;
    }
    if (child(toParent, t.at(-1)!) !== undefined && !keepGoing) return `${show}, whose name is taken then`;
    fromParent.names.set(f.at(-1)!, null);
    toParent.names.set(t.at(-1)!, moved);
  }
  return undefined;
}

/**
 * Every base path a replay of `renames` may look up, whatever the base holds: the replay with
 * every path taken for a directory and no rename failing on its destination. The real replay asks
 * about a subset of them (until it fails it moves the same directories; where a path is missing
 * it makes a directory of its own, below which it asks the base nothing).
 */
export function wantedBasePaths(renames: readonly { from: string; to: string }[]): Set<string> {
  const wanted = new Set<string>();
  replayRenames(renames, (p) => {
    wanted.add(p);
    return 'dir';
  }, true);
  return wanted;
}

/** "d/A" → ["d", "A"]; undefined for a name GNU tar's restore would not take as it stands. */
function parts(name: string): string[] | undefined {
  const p = name.split('/');
  return p.some((s) => s === '' || s === '.' || s === '..') ? undefined : p;
}
