/**
 * The rules that keep a restore inside its staging directory, as pure functions over archive
 * names (binary strings, one char per byte). Any violation refuses the whole archive.
 */
import { quoteName } from '../../core/show-name.js';
import { HostileArchiveError } from '../archive-errors.js';

/**
 * The entry path relative to the archive root ("" for the root itself), or a HostileArchiveError
 * for a NUL byte, an absolute path or any ".." component (even one that would stay inside).
 */
export function safeRelative(entry: string, p: string, what: string): string {
  if (p.includes('\0')) throw new HostileArchiveError(entry, `${what} contains a NUL byte`);
  if (p.startsWith('/')) throw new HostileArchiveError(entry, `${what} ${quoteName(p)} is absolute`);
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new HostileArchiveError(entry, `${what} ${quoteName(p)} contains a ".." component`);
  return parts.join('/');
}

/**
 * A symlink's target is data, as for GNU tar: it may point anywhere, also to an absolute path or
 * out of the volume (`localtime -> /usr/share/zoneinfo/UTC`, a volume's link to a sibling volume),
 * and is restored as it was. What keeps a restore inside its staging directory is that nothing is
 * ever written through a symlink: no entry may lie below one (EntryRules), files are created with
 * O_EXCL|O_NOFOLLOW, hard links, owners and times never follow one. Only what the kernel cannot
 * create is refused.
 */
export function checkSymlinkTarget(entry: string, target: string): void {
  if (target === '') throw new HostileArchiveError(entry, 'is a symlink without a target');
  if (target.includes('\0')) throw new HostileArchiveError(entry, 'is a symlink whose target contains a NUL byte');
}

/** The parent of a relative path ("" for the staging root). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i === -1 ? '' : rel.slice(0, i);
}
