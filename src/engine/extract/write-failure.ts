/**
 * Whether an extraction stopped because writing into the volume failed (its file system is full,
 * read-only, out of inodes, or the disk reports an I/O error) rather than because of the archive.
 * A restore reports the two differently: "the archive failed verification" would send the admin
 * after a good backup while the volume's disk is the problem.
 */
import { quoteName } from '../../core/show-name.js';
import { ArchiveError, HostileArchiveError } from '../archive-errors.js';
import type { WriterFailure } from './extract-writers.js';

/** A writer thread's failure to create, fill or finish a file (worded by writerError). */
export class WriterThreadError extends Error {}

/** A writer thread's failure, worded as if the main thread had written the file. */
export function writerError(f: WriterFailure): Error {
  if (f.replacesDir) return new HostileArchiveError(f.rel, 'would replace a directory of the same name extracted before');
  const what = { create: 'cannot extract', write: 'cannot write', meta: 'cannot set owner, mode or time of' }[f.stage];
  return new WriterThreadError(`${what} ${quoteName(f.raw)}: ${f.message}`);
}

export function isWriteFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof HostileArchiveError || e instanceof ArchiveError) return false;
    if (e instanceof WriterThreadError) return true;
    const { code, syscall } = e as NodeJS.ErrnoException;
    if (typeof code === 'string' && typeof syscall === 'string') return true;
  }
  return false;
}

/** What to add for the admin when the file system is full. */
export function writeFailureHint(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  return /ENOSPC|EDQUOT/.test(text) ? ' (the volume\'s file system is full: a restore needs room for the restored data beside the current data until the swap)' : '';
}
