/**
 * Writing one regular file of a restore, shared by the main thread (large files, and everything
 * when no writer threads run) and the writer threads of extract-writers.ts (small files).
 */
import fs, { constants as fsc } from 'node:fs';
import type { Reservation } from './extract-writers.js';

/** O_EXCL: never reuse what is there (least of all follow a symlink); O_NOFOLLOW for good measure. */
export const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** What the end of a file applies; times as Date or as seconds since the epoch (futimes takes both). */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  atime: Date | number;
  mtime: Date | number;
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
  fs.futimesSync(fd, asTime(m.atime), asTime(m.mtime));
}

/**
 * A time for Node's utimes family. Seconds go in as a Date: Node replaces a negative number of
 * seconds by the current time (a file from before 1970 would come back dated today), while a Date
 * before 1970 is passed on as it is.
 */
export function asTime(t: Date | number): Date {
  return typeof t === 'number' ? new Date(t * 1000) : t;
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
  atime: number;
  mtime: number;
  /** Created with this mode (its final one, or 0600 until the end). */
  createMode: number;
  /** Its content goes to a writer thread's batch (else to `fd`). */
  pooled?: Reservation;
  written: number;
  /** Large or sparse: written at offsets with zero blocks left as holes, its size set at the end. */
  holes: boolean;
  size: number;
}
