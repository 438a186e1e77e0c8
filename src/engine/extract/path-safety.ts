/**
 * The rules that keep a restore inside its staging directory, as pure functions over archive
 * names (binary strings, one char per byte). Any violation refuses the whole archive.
 */
import path from 'node:path';
import { quoteName } from '../../core/show-name.js';
import { HostileArchiveError } from '../archive-errors.js';

/** Linux's MAXSYMLINKS: a chain longer than this cannot be resolved by the kernel either. */
const MAX_SYMLINK_HOPS = 40;

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

/** A symlink at `rel` may point anywhere inside the archive root, never outside or to an absolute path. */
export function checkSymlinkTarget(entry: string, rel: string, target: string): void {
  if (target === '') throw new HostileArchiveError(entry, 'is a symlink without a target');
  if (target.includes('\0')) throw new HostileArchiveError(entry, 'is a symlink whose target contains a NUL byte');
  if (target.startsWith('/')) throw new HostileArchiveError(entry, `is a symlink to the absolute path ${quoteName(target)}`);
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw new HostileArchiveError(entry, `is a symlink to ${quoteName(target)}, which points outside the archive`);
  }
}

/**
 * Resolve the symlink at `rel` like the kernel would, following the archive's other symlinks,
 * and report whether it ever climbs above the archive root. Components that do not exist (dangling
 * links) are taken literally; a loop (more than 40 hops) cannot be resolved by the kernel either.
 */
export function resolvesOutside(symlinks: ReadonlyMap<string, string>, rel: string, target: string): boolean {
  const cur = rel.split('/');
  cur.pop();
  const pending = target.split('/').reverse();
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (cur.length === 0) return true;
      cur.pop();
      continue;
    }
    cur.push(c);
    const next = symlinks.get(cur.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_SYMLINK_HOPS) return false;
    cur.pop();
    if (next.startsWith('/')) return true;
    pending.push(...next.split('/').reverse());
  }
  return false;
}

/** The parent of a relative path ("" for the staging root). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i === -1 ? '' : rel.slice(0, i);
}
