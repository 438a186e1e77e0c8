/**
 * Writing a large file's content so that runs of zeros become holes, as `tar -S` restores sparse
 * files: a MariaDB data file with punched holes (page compression) or a preallocated, zero-filled
 * log comes back taking the space its data needs, not its full size. Unwritten ranges read as
 * zeros, so skipping zeros never changes the content; the caller sets the final size with
 * ftruncate at the end (a file that ends in zeros ends in a hole).
 */
import fs from 'node:fs';

/** File system block size: only whole zero blocks can become holes. */
export const HOLE_BLOCK = 4096;
const ZERO = Buffer.alloc(HOLE_BLOCK);

function isZero(buf: Buffer, start: number, end: number): boolean {
  // Cheap rejections first: data blocks almost never start or end with zero bytes everywhere.
  if (buf[start] !== 0 || buf[end - 1] !== 0) return false;
  return buf.compare(ZERO, 0, end - start, start, end) === 0;
}

function writeAt(fd: number, buf: Buffer, start: number, end: number, pos: number): void {
  while (start < end) {
    const n = fs.writeSync(fd, buf, start, end - start, pos);
    start += n;
    pos += n;
  }
}

/**
 * Writes `piece` at file offset `pos`, leaving out every block-aligned run of zeros. Returns the
 * number of bytes that were left as holes (for statistics).
 */
export function writeSkippingZeros(fd: number, piece: Buffer, pos: number): number {
  let skipped = 0;
  let pending = 0; // start (in piece) of bytes not yet written
  let i = 0;
  while (i < piece.length) {
    // The next block border in file offsets, as an index into piece.
    const border = Math.min(piece.length, i + HOLE_BLOCK - ((pos + i) % HOLE_BLOCK));
    if (isZero(piece, i, border)) {
      writeAt(fd, piece, pending, i, pos + pending);
      skipped += border - i;
      pending = border;
    }
    i = border;
  }
  writeAt(fd, piece, pending, piece.length, pos + pending);
  return skipped;
}
