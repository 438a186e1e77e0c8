/**
 * Directories' owner, mode and times are set at the end of a restore, deepest first, so creating
 * their children no longer touches them (and a read-only directory can still be filled).
 */
import fs, { constants as fsc } from 'node:fs';
import { quoteName } from '../../core/show-name.js';
import { setMtime, setMtimeNoFollow } from '../fs/file-times.js';
import { needsChown } from './owner.js';

export interface DirMeta {
  mode: number;
  /** mkdir created it with `mode` already (no chmod needed at the end). */
  modeSet: boolean;
  uid: number;
  gid: number;
  /** As the archive has it (the atime is left alone, as GNU tar leaves it). */
  mtimeSec: number;
  mtimeNsec: number;
}

/** The directory entries of an archive (binary-string paths below the staging directory). */
export class DirMetaList {
  private readonly dirs = new Map<string, DirMeta>();

  set(rel: string, m: DirMeta): void {
    this.dirs.set(rel, m);
  }

  has(rel: string): boolean {
    return this.dirs.has(rel);
  }

  /** A directory replaced by a later entry of the same name: nothing to apply. */
  delete(rel: string): void {
    this.dirs.delete(rel);
  }

  /** Apply every directory's metadata, deepest first; `at` gives a kernel-usable path. */
  applyAll(at: (rel: string) => Buffer): void {
    const list = [...this.dirs].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, m] of list) {
      const chown = needsChown(m.uid, m.gid);
      let fd: number | undefined;
      try {
        const abs = at(rel);
        if (m.modeSet && !chown) {
          // It is the directory we made: a replaced one left this list (create()), and nothing
          // lies below a symlink, so the path leads there; this follows nothing.
          setMtimeNoFollow(abs, m.mtimeSec, m.mtimeNsec);
          continue;
        }
        fd = fs.openSync(abs, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
        // We created it, so it is ours already unless the archive says otherwise.
        if (chown) fs.fchownSync(fd, m.uid, m.gid);
        fs.fchmodSync(fd, m.mode);
        setMtime(fd, m.mtimeSec, m.mtimeNsec);
      } catch (err) {
        throw new Error(`cannot set owner, mode or time of directory ${quoteName(rel)}: ${(err as Error).message}`, { cause: err });
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
  }
}

function depth(rel: string): number {
  let n = 0;
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) n++;
  return n;
}
