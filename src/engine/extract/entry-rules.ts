/**
 * The checks a restore makes on every entry before anything is created for it, and what they need
 * to remember of the archive so far: the symlinks it made (no entry may go below one, so nothing is
 * written through one, wherever it points) and, when only verifying (nothing on disk to look at),
 * the non-directory names for hard link targets. Paths are binary strings (one char per byte).
 */
import { quoteName } from '../../core/show-name.js';
import { HostileArchiveError } from '../archive-errors.js';
import { PathHashSet } from './path-hash-set.js';
import { checkSymlinkTarget, safeRelative } from './path-safety.js';

/** What is at a hard link's target, as far as the rules care. */
export type TargetKind = 'none' | 'dir' | 'symlink' | 'other';

export class EntryRules {
  /** Symlinks so far (incl. hard links to symlinks): path → target. */
  private readonly symlinks = new Map<string, string>();
  /** Verify mode: non-directory paths seen, 8 bytes each (hard link targets). */
  private readonly nonDirs: PathHashSet | undefined;

  /** `onDisk`: the extraction's own view of the staging directory; undefined when only verifying. */
  constructor(private readonly onDisk: ((rel: string) => TargetKind) | undefined) {
    this.nonDirs = onDisk ? undefined : new PathHashSet();
  }

  /** The entry's path below the archive root ("" for the root), refused if it is hostile. */
  relativePath(raw: string): string {
    const rel = safeRelative(raw, raw, 'path');
    if (rel !== '') this.refuseBelowSymlink(raw, rel, 'goes through the symlink');
    return rel;
  }

  isSymlink(rel: string): boolean {
    return this.symlinks.has(rel);
  }

  /** A directory or a regular file at `rel` replaces whatever non-directory had that name. */
  dir(rel: string): void {
    this.symlinks.delete(rel);
  }

  file(rel: string): void {
    this.symlinks.delete(rel);
    this.nonDirs?.add(rel);
  }

  /** Checked before the symlink is created; `symlinkMade` after. */
  checkSymlink(raw: string, target: string): void {
    checkSymlinkTarget(raw, target);
  }

  symlinkMade(rel: string, target: string): void {
    this.symlinks.set(rel, target);
    this.nonDirs?.add(rel);
  }

  /** A name the extraction replaced on disk (an earlier non-directory of the same name). */
  replaced(rel: string): void {
    this.symlinks.delete(rel);
  }

  /**
   * Checks a hard link before it is made: its target is an archive path (relative to the archive
   * root, not to the link) extracted before it, not a directory, not below a symlink. Returns the
   * target's relative path, for a symlink its text, and `same` for a link to its own name, which
   * GNU tar writes when a path was named twice on its command line (`tar -czf x dir dir/file`) and
   * which leaves the file as it is.
   */
  checkHardlink(raw: string, rel: string, rawTarget: string): { target: string; symlinkTarget: string | undefined; same: boolean } {
    const target = safeRelative(raw, rawTarget, 'hard link target');
    if (target === '') throw new HostileArchiveError(raw, 'is a hard link to the archive root');
    this.refuseBelowSymlink(raw, target, 'is a hard link whose target goes through the symlink');
    const kind: TargetKind = this.onDisk ? this.onDisk(target) : this.nonDirs!.has(target) ? (this.symlinks.has(target) ? 'symlink' : 'other') : 'none';
    if (kind === 'none') throw new HostileArchiveError(raw, `is a hard link to ${quoteName(rawTarget)}, which was not extracted before it`);
    if (kind === 'dir') throw new HostileArchiveError(raw, `is a hard link to the directory ${quoteName(rawTarget)}`);
    const symlinkTarget = kind === 'symlink' ? this.symlinks.get(target) : undefined;
    return { target, symlinkTarget, same: target === rel };
  }

  hardlinkMade(rel: string, symlinkTarget: string | undefined): void {
    if (symlinkTarget !== undefined) this.symlinks.set(rel, symlinkTarget);
    else this.symlinks.delete(rel);
    this.nonDirs?.add(rel);
  }

  private refuseBelowSymlink(raw: string, rel: string, what: string): void {
    if (this.symlinks.size === 0) return;
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) {
      const prefix = rel.slice(0, i);
      if (this.symlinks.has(prefix)) throw new HostileArchiveError(raw, `${what} ${quoteName(prefix)} extracted before`);
    }
  }
}
