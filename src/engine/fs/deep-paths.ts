/**
 * Paths below a root that may be longer than PATH_MAX (4096 bytes): GNU tar archives and restores
 * them (it works relative to directory descriptors), so a restore must too. Node has no openat(2),
 * but the kernel resolves `/proc/self/fd/<fd>/rest` from that descriptor just like openat, so a
 * long path is reached as a chain of directory descriptors, each opened from the previous one
 * with O_NOFOLLOW (no symlink is ever followed on the way), and its last part.
 *
 * Short paths (the usual case) are returned as they are, with no syscall. The descriptors of the
 * last deep path are kept, since an archive lists a directory's entries together, and closed by
 * `close()`. Paths are binary strings (one char per byte).
 */
import fs, { constants as fsc } from 'node:fs';
import { bin, PATH_REBASE } from './tree-walk.js';

/** Room left for the last component(s) after a rebase point (a name is at most 255 bytes). */
const NAME_ROOM = 256;

export class DeepPaths {
  /** Rebase points of the last deep path: archive-relative prefix → descriptor of that directory. */
  private chain: { prefix: string; fd: number }[] = [];

  constructor(private readonly root: string) {}

  /** A path the kernel accepts for `<root>/<rel>` (`rel` relative, without "." or ".." components). */
  reach(rel: string): string {
    const full = `${this.root}/${rel}`;
    if (full.length <= PATH_REBASE) return full;
    const parts = rel.split('/');
    const last = parts.pop()!;
    let access = this.root;
    let prefix = '';
    let depth = 0;
    for (const c of parts) {
      const next = prefix === '' ? c : `${prefix}/${c}`;
      if (access.length + 1 + c.length > PATH_REBASE - NAME_ROOM) {
        access = this.rebase(depth++, prefix, access);
      }
      access = `${access}/${c}`;
      prefix = next;
    }
    this.trim(depth);
    return `${access}/${last}`;
  }

  /**
   * `mkdir -p` of `<root>/<rel>` with new directories in `mode`, one level at a time from the root
   * down, never the root itself: a root that is gone stays gone (ENOENT). (Node's recursive mkdir
   * would climb above the root, and on a root reached through a descriptor of a removed directory
   * it loops forever.)
   */
  mkdirs(rel: string, mode: number): void {
    if (rel === '') return;
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      try {
        fs.mkdirSync(bin(this.reach(parts.slice(0, i).join('/'))), mode);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  close(): void {
    this.trim(0);
  }

  /** The descriptor of directory `prefix` (reached as `access`), as the chain's element `depth`. */
  private rebase(depth: number, prefix: string, access: string): string {
    const have = this.chain[depth];
    if (have?.prefix === prefix) return `/proc/self/fd/${have.fd}`;
    this.trim(depth);
    const fd = fs.openSync(bin(access), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    this.chain.push({ prefix, fd });
    return `/proc/self/fd/${fd}`;
  }

  private trim(depth: number): void {
    while (this.chain.length > depth) fs.closeSync(this.chain.pop()!.fd);
  }
}
