/**
 * Writing one regular file of a restore, shared by the main thread (large files, and everything
 * when no writer threads run) and the writer threads of extract-writers.ts (small files).
 */
import fs, { constants as fsc } from 'node:fs';
import { setMtime } from '../fs/file-times.js';
import type { Reservation } from './extract-writers.js';

/** O_EXCL: never reuse what is there (least of all follow a symlink); O_NOFOLLOW for good measure. */
export const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/**
 * What the end of a file applies. The mtime exactly as the archive has it (whole seconds, and
 * nanoseconds from a pax `mtime`); the atime is left as creating the file made it, as GNU tar does.
 */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** The file was not created with its final mode. */
  chmod: boolean;
  /** Its owner is not ours. */
  chown: boolean;
}

/** Owner, mode and times of a file whose content is written. */
export function applyFileMeta(fd: number, m: FileMeta): void {
  // chown first: it clears setuid/setgid bits, which the chmod then sets again.
  if (m.chown) fs.fchownSync(fd, m.uid, m.gid);
  if (m.chmod) fs.fchmodSync(fd, m.mode);
  setMtime(fd, m.mtimeSec, m.mtimeNsec);
}

export function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** A regular file being extracted: what its end applies. */
export interface OpenFile extends FileMeta {
  /** Binary strings: as the archive names it, and relative to the staging directory. */
  raw: string;
  rel: string;
  /** Created with this mode (its final one, or 0600 until the end). */
  createMode: number;
  /** Its content goes to a writer thread's batch (else to `fd`). */
  pooled?: Reservation;
  written: number;
  /** Large or sparse: written at offsets with zero blocks left as holes, its size set at the end. */
  holes: boolean;
  size: number;
}
