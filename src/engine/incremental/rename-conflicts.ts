/**
 * Which directory renames of an incremental GNU tar's own extraction cannot apply. GNU tar records
 * a directory seen under a new name as a rename and replays it on restore, before it removes what
 * was deleted; a rename onto a name that was there at the previous point therefore fails: a
 * directory renamed onto the name of one removed the same night ("Cannot rename './d/A' to './d/B':
 * Directory not empty"), onto a file's name, or two directories that swapped names (GNU tar then
 * also makes its temporary directory relative to its working directory, not to -C). Such an
 * incremental verifies, yet no point of its chain can be restored, by us or by hand (found by a
 * tester). A rename to a new name (the usual case) replays fine and stays in the incremental.
 *
 * The new names come from GNU tar's `--warning=rename-directory` lines; whether each existed is
 * read from the base's snapshot, which lists every directory and every name in it. Memory: the
 * renamed names only.
 */
import path from 'node:path/posix';
import { readQuoted } from '../gnu-tar/listing-line.js';
import { scanSnapshot } from './snapshot-scan.js';

/** GNU tar's line (--quoting-style=c): `"./d/B": Directory has been renamed from './d/A'` (or `… renamed`). */
export const RENAMED_LINE = /: Directory has been renamed( from |$)/;

/** The new names of the renamed directories (latin1, as the snapshot scan gives paths: "d/B"); undefined for a line that cannot be read. */
export function renamedTo(line: string): string | undefined {
  try {
    const { bytes, end } = readQuoted(line, 0);
    if (!RENAMED_LINE.test(line.slice(end))) return undefined;
    let name = bytes.toString('latin1');
    while (name.startsWith('./')) name = name.slice(2);
    return name.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/**
 * The lines (of `lines`, GNU tar's rename warnings) whose new name was a directory or a file at the
 * base archive's point; a line that cannot be read counts as one (the safe side: a new full).
 */
export async function renameConflicts(baseArchivePath: string, baseSnapshotSha256: string, lines: string[], signal?: AbortSignal): Promise<string[]> {
  const byName = new Map<string, string>();
  const conflicts = new Set<string>();
  for (const line of lines) {
    const to = renamedTo(line);
    if (to === undefined || to === '') conflicts.add(line);
    else byName.set(to, line);
  }
  // The renamed names' parents, to look for each name among its parent's names.
  const parents = new Map<string, Set<string>>();
  for (const to of byName.keys()) {
    const parent = path.dirname(to) === '.' ? '' : path.dirname(to);
    parents.set(parent, (parents.get(parent) ?? new Set()).add(path.basename(to)));
  }
  await scanSnapshot(
    baseArchivePath,
    baseSnapshotSha256,
    (record) => {
      const there = byName.get(record.path);
      if (there !== undefined) conflicts.add(there);
      const names = parents.get(record.path);
      if (!names) return undefined;
      return (_flag, name) => {
        if (names.has(name)) conflicts.add(byName.get(record.path === '' ? name : `${record.path}/${name}`)!);
      };
    },
    signal,
  );
  return [...conflicts];
}
