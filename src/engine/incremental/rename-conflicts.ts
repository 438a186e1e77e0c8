/**
 * Whether GNU tar's own extraction can apply the directory renames of an incremental. GNU tar
 * records a directory seen under a new name as a rename and replays it on restore, before it
 * removes what was deleted; when a rename fails the restore stops with exit 2, and that point and
 * every later one of the chain cannot be restored, by us or by hand, although the incremental
 * verified (found by a tester, then by an audit). Two checks, either of which makes a new full:
 *
 *  - A new name that was there at the previous point (GNU tar's `--warning=rename-directory`
 *    lines name each renamed directory; the base's snapshot lists every directory and every name
 *    in it): a directory renamed onto the name of one removed the same night ("Directory not
 *    empty"), onto a file's name, two directories that swapped names (GNU tar then makes its
 *    temporary directory relative to its working directory, not to -C), and a name taken over by
 *    a new directory: GNU tar's bookkeeping of such a name may even leave a new directory below it
 *    out of the archive (`mv P A0; mkdir -p P/A` restored without P/A, exit 0, GNU tar 1.34). Kept
 *    even where the records would replay: their order then follows GNU tar's hash table.
 *  - The replay of the archive's rename records (rename-records.ts), in GNU tar's order, against
 *    the base's tree (rename-replay.ts): a source not there at that moment or a destination taken.
 *    This catches what the names alone miss: a directory renamed onto an existing name inside a
 *    parent renamed the same night (the new name is not in the base, the parent's old one is), and
 *    a directory moved out of a parent renamed the same night whose record comes first (GNU tar
 *    names its source under the parent's new name: "Cannot rename './T3/N0' to './N0b': No such
 *    file or directory").
 *
 * A rename to a new name (the usual case) replays fine and stays in the incremental. One pass over
 * the base's snapshot; memory: the renamed names and the base paths the records reach.
 */
import path from 'node:path/posix';
import { quoteName } from '../../core/show-name.js';
import { readQuoted } from '../gnu-tar/listing-line.js';
import type { RenameRecords } from './rename-records.js';
import { replayRenames, wantedBasePaths, type BaseKind } from './rename-replay.js';
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
 * Why GNU tar could not replay the renames of the incremental just written on `baseArchivePath`'s
 * tree: `lines` (GNU tar's rename warnings) whose new name was there at the base's point, a line
 * that cannot be read, records that cannot be read (`records` a string), a temporary directory,
 * and the first record whose replay fails. Empty when all of them replay.
 */
export async function renameConflicts(
  baseArchivePath: string,
  baseSnapshotSha256: string,
  lines: string[],
  records: RenameRecords | string,
  signal?: AbortSignal,
): Promise<string[]> {
  const byName = new Map<string, string>();
  const conflicts = new Set<string>();
  for (const line of lines) {
    const to = renamedTo(line);
    if (to === undefined || to === '') conflicts.add(line);
    else byName.set(to, line);
  }
  let renames: RenameRecords['renames'] = [];
  if (typeof records === 'string') conflicts.add(`GNU tar's rename records cannot be read: ${records}`);
  else if (records.tempDir) conflicts.add('directories swapped names: GNU tar\'s restore makes its temporary directory outside the volume');
  else renames = records.renames;

  // Every base path either check looks up, by parent, to find it among its parent's names.
  const wanted = wantedBasePaths(renames);
  for (const to of byName.keys()) wanted.add(to);
  const parents = new Map<string, Set<string>>();
  for (const p of wanted) {
    const parent = path.dirname(p) === '.' ? '' : path.dirname(p);
    parents.set(parent, (parents.get(parent) ?? new Set()).add(path.basename(p)));
  }
  const kinds = new Map<string, BaseKind>();
  await scanSnapshot(
    baseArchivePath,
    baseSnapshotSha256,
    (record) => {
      if (wanted.has(record.path)) kinds.set(record.path, 'dir');
      const names = parents.get(record.path);
      if (!names) return undefined;
      return (flag, name) => {
        const p = record.path === '' ? name : `${record.path}/${name}`;
        if (names.has(name) && kinds.get(p) !== 'dir') kinds.set(p, flag === 'D' ? 'dir' : 'file');
      };
    },
    signal,
  );
  for (const [to, line] of byName) if (kinds.has(to)) conflicts.add(`${line}, onto a name that was there at the previous run`);
  // wantedBasePaths promises every path the replay asks about; should it miss one, "not there"
  // could let a taken destination pass, so that counts as a conflict too.
  let unknown: string | undefined;
  const failed = replayRenames(renames, (p) => {
    if (!wanted.has(p)) unknown ??= p;
    return kinds.get(p);
  });
  if (failed !== undefined) conflicts.add(failed);
  if (unknown !== undefined) conflicts.add(`the replay of GNU tar's rename records asked about ${quoteName(unknown)}, which was not looked up`);
  return [...conflicts];
}
