/**
 * Creates a restore's entries in its staging directory, after EntryRules has checked them: the
 * directories (their metadata applied at the end, dir-meta.ts), the regular files (on this thread,
 * or by writer threads once creating files proves slow), symlinks and hard links.
 *
 * Names are bytes (binary strings here, Buffers at every syscall) and paths beyond PATH_MAX are
 * reached through directory descriptors (deep-paths.ts). Files are created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so even a bug in the checks could not make us write through a
 * symlink. Large files are written with their zero blocks left as holes, sparse entries at their
 * offsets (hole-writer.ts).
 */
import fs, { constants as fsc } from 'node:fs';
import type { Logger } from 'pino';
import { quoteName } from '../../core/show-name.js';
import { HostileArchiveError } from '../archive-errors.js';
import { DeepPaths } from '../fs/deep-paths.js';
import { setMtimeNoFollow } from '../fs/file-times.js';
import { bin } from '../fs/tree-walk.js';
import type { TarEntry } from '../tar/reader.js';
import { DirMetaList } from './dir-meta.js';
import type { TargetKind } from './entry-rules.js';
import { applyFileMeta, CREATE_FLAGS, writeAll, type OpenFile } from './extract-file.js';
import type { WriterSettings } from './extract-options.js';
import { DEFAULT_STALL_MS, ExtractWriters, MAX_POOLED_FILE } from './extract-writers.js';
import { writerError } from './write-failure.js';
import { writeSkippingZeros } from './hole-writer.js';
import { IS_ROOT, needsChown } from './owner.js';
import { parentOf } from './path-safety.js';
import { SlowOpenDetector } from './slow-open.js';

export class DiskWriter {
  threadedFiles = 0;
  private readonly deep: DeepPaths;
  private readonly dirs = new DirMetaList();
  /** Directories made for entries whose parents the archive does not list. */
  private readonly madeDirs = new Set<string>();
  private open: OpenFile | undefined;
  private fd: number | undefined;
  /** Started when creating files is slow (see WriterSettings). */
  private writers: ExtractWriters | undefined;
  private readonly slowOpens: SlowOpenDetector;
  private readonly rootFd: number;
  private readonly base: string; // the staging directory as its descriptor's path

  constructor(
    /** The staging directory as a binary string (it exists: extractArchive made it). */
    root: string,
    private readonly archiveName: string,
    /** What creating an entry takes from its mode (owner.ts creationMask): entries whose mode it leaves alone are created with that mode (no fchmod). */
    private readonly umask: number | undefined,
    private readonly settings: WriterSettings,
    private readonly logger: Logger,
    /** The rules' view: whether a name is a symlink made before (never handed to a thread). */
    private readonly isSymlink: (rel: string) => boolean,
    /** Told when an earlier non-directory of the same name was replaced. */
    private readonly onReplaced: (rel: string) => void,
  ) {
    // Through a descriptor (`/proc/self/fd/N`, resolved like openat): a staging directory removed
    // meanwhile (a recovery took this frozen restore for dead) is never made again, nor followed.
    this.rootFd = fs.openSync(bin(root), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    this.base = `/proc/self/fd/${this.rootFd}`;
    this.deep = new DeepPaths(this.base);
    this.slowOpens = new SlowOpenDetector(settings.slowOpenMicros);
  }

  /** What is on disk at `rel` now (writes in flight finished first): for hard link targets. */
  kindAt(rel: string): TargetKind {
    this.writers?.drain();
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.at(rel));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'none';
      throw err;
    }
    return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  }

  directory(rel: string, entry: TarEntry): void {
    if (this.writers?.has(rel)) this.writers.drain(); // a file of that name is being written
    const abs = this.at(rel);
    const mode = entry.mode;
    // Created with its final mode when that lets us fill it (rwx for the owner), the umask cannot
    // change it and it has no special bits (mkdir does not reliably set them): then the end needs
    // one utimes instead of open/fchmod/futimes/close, which is 4 of GNU tar's 5 syscalls per
    // directory. Otherwise 0700 while we fill it, the real mode at the end. Nobody else sees it
    // meanwhile: the staging directory is 0700.
    const final = this.umask !== undefined && (mode & 0o7700) === 0o700 && (mode & this.umask) === 0;
    let created = false;
    this.create(rel, () => {
      try {
        fs.mkdirSync(abs, final ? mode : 0o700);
        created = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(abs).isDirectory()) throw err;
      }
    });
    this.dirs.set(rel, { mode, modeSet: final && created, uid: entry.uid, gid: entry.gid, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec });
  }

  /** Start a regular file; its content follows through `data`, then `endFile`. */
  file(rel: string, entry: TarEntry): void {
    const mode = entry.mode;
    // Fewer syscalls per file: create it with its final mode when the umask cannot change that mode
    // (no setuid/setgid/sticky bit, which open() does not reliably set and fchown would clear), and
    // chown only when the owner differs from ours (during extraction no directory is setgid, so a
    // new file belongs to our euid:egid). Nobody else can see the file before it is complete: the
    // staging directory is 0700.
    const finalModeAtCreate = this.umask !== undefined && (mode & 0o7000) === 0 && (mode & this.umask) === 0;
    const f: OpenFile = {
      raw: entry.path, rel, mode, uid: entry.uid, gid: entry.gid, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec,
      createMode: finalModeAtCreate ? mode : 0o600,
      chmod: !finalModeAtCreate,
      chown: needsChown(entry.uid, entry.gid),
      written: 0,
      holes: entry.sparse !== undefined || entry.size > MAX_POOLED_FILE,
      size: entry.size,
    };
    this.open = f;
    if (!f.holes && this.toWriterThread(f, entry.size)) {
      f.pooled = this.writers!.reserve(parentOf(rel), f, entry.size);
      return;
    }
    if (this.writers?.has(rel)) this.writers.drain(); // an earlier file of that name is being written
    const abs = this.at(rel);
    const timed = !this.writers && this.settings.threads > 0 && entry.size <= MAX_POOLED_FILE;
    const t = timed ? performance.now() : 0;
    this.fd = this.create(rel, () => fs.openSync(abs, CREATE_FLAGS, f.createMode));
    if (timed) {
      const micros = this.slowOpens.record(performance.now() - t);
      if (micros !== undefined) {
        this.logger.info({ archive: this.archiveName, openMicros: Math.round(micros) }, 'extract: creating files is slow, writer threads take over the small files');
        this.startWriters();
      }
    }
  }

  data(piece: Buffer, offset: number): void {
    const f = this.open;
    if (!f) return;
    if (f.pooled) {
      piece.copy(f.pooled.buf, f.pooled.off + f.written);
      f.written += piece.length;
      return;
    }
    if (this.fd === undefined) return;
    try {
      if (f.holes) writeSkippingZeros(this.fd, piece, offset);
      else writeAll(this.fd, piece);
    } catch (err) {
      this.closeOpenFile();
      throw new Error(`cannot write ${quoteName(f.raw)}: ${(err as Error).message}`, { cause: err });
    }
  }

  endFile(): void {
    const f = this.open;
    this.open = undefined;
    if (f?.pooled) {
      this.writers!.commit(f.pooled);
      this.threadedFiles++;
      return;
    }
    const fd = this.fd;
    if (!f || fd === undefined) return;
    try {
      // Holes at the end of a file are its size, not data: set it.
      if (f.holes) fs.ftruncateSync(fd, f.size);
      applyFileMeta(fd, f);
      this.fd = undefined;
      fs.closeSync(fd);
    } catch (err) {
      this.closeOpenFile();
      throw new Error(`cannot set owner, mode or time of ${quoteName(f.raw)}: ${(err as Error).message}`, { cause: err });
    }
  }

  symlink(rel: string, target: string, entry: TarEntry): void {
    // Files in flight were checked against the symlinks known when they were sent: none may be
    // created after a symlink that could lie on its path.
    this.writers?.drain();
    const abs = this.at(rel);
    this.create(rel, () => fs.symlinkSync(bin(target), abs));
    if (IS_ROOT) fs.lchownSync(abs, entry.uid, entry.gid);
    setMtimeNoFollow(abs, entry.mtimeSec, entry.mtimeNsec);
  }

  /** link(2) does not follow a symlink given as the target, it links the symlink itself. */
  hardlink(rel: string, target: string): void {
    // The target may still be with a writer thread (kindAt drains them too, but is not asked when
    // only some entries are extracted).
    if (this.writers?.has(target)) this.writers.drain();
    const targetAbs = this.at(target);
    const abs = this.at(rel);
    this.create(rel, () => fs.linkSync(targetAbs, abs));
  }

  /** Everything written: directories' metadata last. */
  finish(): void {
    this.writers?.drain();
    this.dirs.applyAll((rel) => this.at(rel));
  }

  /** End the writer threads (after a failure: once they stopped writing), close directory descriptors. */
  async release(): Promise<void> {
    const w = this.writers;
    this.writers = undefined;
    try {
      await w?.close();
    } finally {
      this.deep.close();
      fs.closeSync(this.rootFd);
    }
  }

  closeOpenFile(): void {
    this.open = undefined;
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch {
      // Nothing useful to do: we are already failing.
    }
  }

  /** A kernel-usable path (Buffer) for a path below the staging directory. */
  private at(rel: string): Buffer {
    return bin(this.deep.reach(rel));
  }

  private startWriters(): void {
    this.writers = new ExtractWriters(this.settings.threads, this.base, this.settings.stallMs ?? DEFAULT_STALL_MS, writerError);
    if (this.settings.waitUntilReady) this.writers.waitUntilReady();
  }

  /**
   * Whether a file goes to a writer thread: a small one, once the threads run, into a directory the
   * main thread made, and not over an entry the main thread must replace itself (a symlink or
   * directory of the same name).
   */
  private toWriterThread(f: OpenFile, size: number): boolean {
    const rel = f.rel;
    if (this.settings.threads <= 0 || size > MAX_POOLED_FILE) return false;
    if (!this.writers && this.settings.slowOpenMicros === 0) this.startWriters();
    if (!this.writers || !this.writers.fits(rel, f.raw, size)) return false;
    if (!this.writers.ready || this.isSymlink(rel) || this.dirs.has(rel) || this.madeDirs.has(rel)) return false;
    const dir = parentOf(rel);
    return dir === '' || this.dirs.has(dir) || this.madeDirs.has(dir);
  }

  /** An empty directory replaced by a later entry (GNU tar removes it); a full one is refused. */
  private rmdirReplaced(rel: string, abs: Buffer): void {
    if (fs.readdirSync(abs).length > 0) throw new HostileArchiveError(rel, 'would replace a directory of the same name extracted before, which is not empty');
    fs.rmdirSync(abs);
    this.dirs.delete(rel);
    this.madeDirs.delete(rel);
  }

  /**
   * Run `op` (which creates `rel`); create missing parent directories (archives need not list
   * them), and replace an entry of the same name from earlier in the archive the way GNU tar does:
   * a non-directory is unlinked (never followed); a directory is kept for a directory entry, removed
   * for anything else when it is empty (an archive appended to with `tar -r`), and refused when it
   * is not (GNU tar fails that entry too).
   */
  private create<T>(rel: string, op: () => T): T {
    let madeParents = false;
    let replaced = false;
    for (;;) {
      try {
        return op();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !madeParents) {
          madeParents = true;
          // No component is a symlink (the rules refuse entries below one), so this stays inside.
          this.deep.mkdirs(parentOf(rel), 0o755);
          for (let d = parentOf(rel); d !== '' && !this.madeDirs.has(d); d = parentOf(d)) this.madeDirs.add(d);
          continue;
        }
        if (code === 'EEXIST' && !replaced) {
          replaced = true;
          const abs = this.at(rel);
          if (fs.lstatSync(abs).isDirectory()) {
            this.writers?.drain(); // files for it may still be with a writer thread
            this.rmdirReplaced(rel, abs);
          } else fs.unlinkSync(abs);
          this.onReplaced(rel);
          continue;
        }
        throw err;
      }
    }
  }
}
