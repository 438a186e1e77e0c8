/** Errors of reading an archive: a hostile entry, or damage / unsupported features. */

/** The archive tries to write outside its directory or create something we never restore. */
export class HostileArchiveError extends Error {
  override name = 'HostileArchiveError';
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`hostile archive entry ${JSON.stringify(entry)}: ${reason}; the whole archive is refused`);
  }
}

export type ArchiveErrorKind = 'corrupt' | 'truncated' | 'checksum' | 'unsupported';

/** The archive is damaged, incomplete, not what its checksum says, or uses a tar feature we do not restore. */
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
