/** Errors of reading an archive: a hostile entry, or damage / unsupported features. */
import { quoteName } from '../core/show-name.js';

/** The archive tries to write outside its directory or create something we never restore. */
export class HostileArchiveError extends Error {
  override name = 'HostileArchiveError';
  constructor(
    /** The entry's name as a binary string (one char per byte); shown escaped. */
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`hostile archive entry ${quoteName(entry)}: ${reason}; the whole archive is refused`);
  }
}

export type ArchiveErrorKind = 'corrupt' | 'truncated' | 'checksum' | 'unsupported' | 'mismatch';

/**
 * The archive is damaged, incomplete, not what its checksum says, uses a tar feature we do not
 * restore, or reads differently in GNU tar, in our reader or in its manifest ('mismatch').
 */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  constructor(
    readonly kind: ArchiveErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
