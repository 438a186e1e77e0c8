/**
 * A restore's file times to the nanosecond, as GNU tar sets them (README "Exactness"): a pax
 * archive's `mtime=1700000000.123456789` comes back as exactly that. Node's futimes/lutimes take a
 * Date or a double of seconds, which cannot hold it (a Date keeps milliseconds), so the
 * oob_file_times binding (native/libdeflate/file-times.c) calls futimens/utimensat with integer
 * seconds and nanoseconds.
 *
 * As in GNU tar's extraction, only the mtime is set: the atime stays what creating the entry made it
 * (the time of the restore); GNU tar passes UTIME_OMIT and ignores a pax `atime` (unless -G).
 *
 * Without the binding (a build without a C compiler), times go through Node's functions as before
 * it existed: the mtime to the millisecond (Node passes it on as a double of seconds, which can
 * land a few microseconds lower), and the atime set to that same value.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { loadBinding } from '../native-binding.js';

interface Binding {
  futimens(fd: number, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  lutimensat(path: Buffer, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  UTIME_OMIT: number;
}

/** Where the build puts the binding, from the project's root (the Docker image's /app). */
export const FILE_TIMES_BINDING = 'native/libdeflate/build/Release/oob_file_times.node';

const loaded = loadBinding<Binding>(FILE_TIMES_BINDING);
let binding = loaded.binding;
const OMIT = binding?.UTIME_OMIT ?? 0;

/** Whether times are set to the nanosecond, or why not. */
export function fileTimesEngine(): { exact: true } | { exact: false; why: string } {
  return binding ? { exact: true } : { exact: false, why: loaded.error ?? 'the file times binding is turned off' };
}

/** Tests: run without the binding (`false`) or with it again, in this thread only. */
export function useFileTimesBinding(on: boolean): void {
  binding = on ? loaded.binding : undefined;
}

/** The mtime of an open file (`sec` an integer, `nsec` 0 … 999999999); the atime is left alone. */
export function setMtime(fd: number, sec: number, nsec: number): void {
  if (binding) binding.futimens(fd, 0, OMIT, sec, nsec);
  else {
    const t = asDate(sec, nsec);
    fs.futimesSync(fd, t, t);
  }
}

/** The mtime of `path` itself, never following a symlink (a symlink gets its own). */
export function setMtimeNoFollow(path: Buffer, sec: number, nsec: number): void {
  if (binding) binding.lutimensat(path, 0, OMIT, sec, nsec);
  else {
    const t = asDate(sec, nsec);
    fs.lutimesSync(path, t, t);
  }
}

/**
 * A Date for Node's utimes family, to the millisecond (rounded down). Not a number of seconds:
 * Node replaces a negative number by the current time (a file from before 1970 would come back
 * dated today), while a Date before 1970 is passed on as it is.
 */
function asDate(sec: number, nsec: number): Date {
  return new Date(sec * 1000 + Math.floor(nsec / 1e6));
}

/**
 * A directory's atime and mtime to the nanosecond: a volume root's times before a restore made its
 * work directory in it, put back when the restore is rolled back or discarded (a Date would lose
 * everything below the millisecond).
 */
export interface DirTimes {
  atimeNs: bigint;
  mtimeNs: bigint;
}

export async function dirTimesOf(dir: string): Promise<DirTimes> {
  const st = await fsp.stat(dir, { bigint: true });
  return { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
}

/** Both times of a directory (through its descriptor, so a volume that is a symlink to its directory gets them, not the link). */
export async function putDirTimes(dir: string, t: DirTimes): Promise<void> {
  const fh = await fsp.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const [as, an] = splitNs(t.atimeNs);
    const [ms, mn] = splitNs(t.mtimeNs);
    if (binding) binding.futimens(fh.fd, as, an, ms, mn);
    else fs.futimesSync(fh.fd, asDate(as, an), asDate(ms, mn));
  } finally {
    await fh.close();
  }
}

/** Whole seconds (rounded down, also before 1970) and the nanoseconds of that second. */
function splitNs(ns: bigint): [number, number] {
  const nsec = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return [Number((ns - nsec) / 1_000_000_000n), Number(nsec)];
}
