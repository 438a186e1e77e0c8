/**
 * The `cursor` of the entries listing: where the next page starts, i.e. after the last name of the
 * page before. It is that name's key with a check in front, 11 base64url characters of a SHA-256
 * over the listing (set, volume, directory) and the name. Without the check any base64url text
 * would decode to some name and answer an empty or shifted page; with it, a cursor that is not a
 * `nextCursor` of this very listing (mistyped, cut short, from another folder) is a 400. The check
 * is not a secret: a client that forges one only chooses where its own listing starts.
 */
import { createHash } from 'node:crypto';
import { display, fromKey, keyOf } from './archive-paths.js';
import { badRequest } from './http-error.js';

const CHECK_LENGTH = 11; // base64url of 8 bytes

export interface Listing {
  stamp: string;
  volume: string;
  /** The listed directory, a binary string ('' = the volume root). */
  dir: string;
}

export function cursorAfter(listing: Listing, name: string): string {
  return check(listing, name) + keyOf(name);
}

/** The name a cursor of `listing` starts after, or 400. */
export function nameOfCursor(listing: Listing, cursor: string): string {
  const name = cursor.length > CHECK_LENGTH ? decodes(cursor.slice(CHECK_LENGTH)) : undefined;
  if (name === undefined || name === '' || cursor.slice(0, CHECK_LENGTH) !== check(listing, name)) {
    throw badRequest(
      `cursor is not a nextCursor of this listing (folder ${JSON.stringify(display(listing.dir))} of ${listing.volume} in set ${listing.stamp}); ` +
        'list the folder again without cursor',
      'cursor',
    );
  }
  return name;
}

function decodes(key: string): string | undefined {
  try {
    return fromKey(key, 'cursor');
  } catch {
    return undefined;
  }
}

function check(listing: Listing, name: string): string {
  // NUL cannot occur in a stamp, a volume name or a path, so it separates them unambiguously.
  const hash = createHash('sha256').update(`${listing.stamp}\0${listing.volume}\0`).update(`${listing.dir}\0${name}`, 'latin1');
  return hash.digest().subarray(0, 8).toString('base64url');
}
