/**
 * A problem with one entry found while resolving its header or sparse map; the reader turns it
 * into an ArchiveError that names the archive and where in it the problem is.
 */
export class EntryProblem extends Error {
  constructor(
    readonly kind: 'corrupt' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}
