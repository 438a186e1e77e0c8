/**
 * What a restore of chosen paths needs to know from the entry index before it starts: whether each
 * chosen path is in the archive (and as what), and the targets of the hard links below the chosen
 * paths that lie outside them (a hard link is stored as a link to its first name, whose data must
 * be extracted too). One pass over the index; memory grows with the chosen paths only.
 */
import type { IndexType } from './index-format.js';
import { readIndex, type ExpectedArchive } from './index-reader.js';

export interface Selection {
  /** Chosen path → its type in the archive (last occurrence; 'd' for a directory known only from entries below it). */
  found: Map<string, IndexType>;
  /** Hard link targets outside the chosen paths that the chosen entries need. */
  linkTargets: Set<string>;
  /** Content bytes of the files at or below the chosen paths (what extracting them writes, about). */
  bytes: number;
}

/** `paths` relative to the volume root (binary strings), none inside another. */
export async function selectPaths(indexFile: string, expected: ExpectedArchive, paths: readonly string[]): Promise<Selection> {
  const chosen = new Set(paths);
  const found = new Map<string, IndexType>();
  const linkTargets = new Set<string>();
  let bytes = 0;
  await readIndex(indexFile, expected, (e) => {
    if (chosen.has(e.path)) found.set(e.path, e.type);
    const top = chosenAncestor(chosen, e.path);
    if (top === undefined) return;
    if (top !== e.path && !found.has(top)) found.set(top, 'd');
    bytes += e.size;
    if (e.type === 'h' && e.link !== undefined && chosenAncestor(chosen, e.link) === undefined) linkTargets.add(e.link);
  });
  return { found, linkTargets, bytes };
}

/** The chosen path that `p` is or lies below, if any. */
export function chosenAncestor(chosen: ReadonlySet<string>, p: string): string | undefined {
  if (chosen.has(p)) return p;
  for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    if (chosen.has(prefix)) return prefix;
  }
  return undefined;
}
