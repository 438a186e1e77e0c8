/**
 * Receives a restore's tar stream (already gunzipped) from our reader (../tar/reader.ts) and
 * hands every entry to the rules (entry-rules.ts, which refuse hostile ones) and, when
 * extracting, to the disk writer (disk-writer.ts). Every entry also goes into the entry digest
 * that verification compares with GNU tar's listing and the manifest.
 *
 * All work happens synchronously inside the reader's callbacks; the first problem is kept in
 * `failure`, and nothing more is written after it.
 */
import { heapNudger } from '../gzip/gc-nudge.js';
import type { Logger } from 'pino';
import { quoteName } from '../../core/show-name.js';
import { ArchiveError, HostileArchiveError } from '../archive-errors.js';
import { EntryDigest, type EntryFields } from '../entry-digest.js';
import { TarReader, type TarEntry } from '../tar/reader.js';
import { DiskWriter } from './disk-writer.js';
import { WriterThreadError } from './write-failure.js';
import { EntryRules } from './entry-rules.js';
import type { RootMeta, WriterSettings } from './extract-options.js';

export class TarConsumer {
  files = 0;
  tarBytes = 0;
  rootMeta: RootMeta | undefined;
  failure: Error | undefined;
  readonly digest = new EntryDigest();

  private readonly reader: TarReader;
  private readonly rules: EntryRules;
  /** Undefined when only verifying. */
  private readonly disk: DiskWriter | undefined;
  /** A volume of a million small files makes its garbage per entry, not per buffer (gc-nudge.ts). */
  private readonly nudge = heapNudger();

  constructor(
    /** The staging directory as a binary string, or null to verify only. */
    root: string | null,
    archiveName: string,
    umask: number | undefined,
    writerSettings: WriterSettings,
    logger: Logger,
    private readonly entryHook?: (e: EntryFields) => void,
    /** Extract only these entries (see ExtractOptions.select). */
    private readonly select?: (rel: string) => boolean,
  ) {
    // With a selection, not every hard link target is on disk: the rules check targets from their
    // memory of the archive, as when verifying; linking to one that was not extracted fails.
    this.rules = new EntryRules(root === null || select ? undefined : (rel) => this.disk!.kindAt(rel));
    this.disk =
      root === null
        ? undefined
        : new DiskWriter(root, archiveName, umask, writerSettings, logger, (rel) => this.rules.isSymlink(rel), (rel) => this.rules.replaced(rel));
    this.reader = new TarReader(archiveName, {
      entry: (e) => this.onEntry(e),
      data: (piece, offset) => this.disk?.data(piece, offset),
      end: () => this.disk?.endFile(),
    });
  }

  get threadedFiles(): number {
    return this.disk?.threadedFiles ?? 0;
  }

  get extracting(): boolean {
    return this.disk !== undefined;
  }

  /** One decoded chunk of the tar stream; returns the first problem (then nothing more is written). */
  feed(chunk: Buffer, checkRatio: () => Error | undefined): Error | undefined {
    if (this.failure) return this.failure;
    this.tarBytes += chunk.length;
    const tooMuch = checkRatio();
    if (tooMuch) {
      this.fail(tooMuch);
      return this.failure;
    }
    // After the end-of-archive marker, GNU tar ignores the rest (record padding): the reader does too
    // (the bytes are still hashed).
    try {
      this.reader.write(chunk);
    } catch (err) {
      this.closeOpenFile();
      this.fail(err);
    }
    return this.failure;
  }

  /** The end of the tar stream: a truncated last entry or a partial block is an error. */
  async end(): Promise<void> {
    if (!this.failure) {
      try {
        this.reader.end();
      } catch (err) {
        this.fail(err);
      }
    }
    if (this.failure) throw this.failure;
  }

  /** Checks that need the whole stream; then directory metadata (after their contents were written). */
  finish(): void {
    if (this.failure) throw this.failure;
    this.disk?.finish();
  }

  /** No writer thread writes into the staging directory after this. */
  async release(): Promise<void> {
    await this.disk?.release();
  }

  closeOpenFile(): void {
    this.disk?.closeOpenFile();
  }

  private fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
  }

  private onEntry(entry: TarEntry): void {
    this.nudge();
    const fields: EntryFields = {
      type: entry.type, name: entry.path, link: entry.linkpath, size: entry.size,
      mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec,
    };
    this.digest.add(fields);
    this.entryHook?.(fields);
    try {
      this.handle(entry);
    } catch (err) {
      this.closeOpenFile();
      if (err instanceof HostileArchiveError || err instanceof ArchiveError || err instanceof WriterThreadError) throw err;
      throw new Error(`cannot extract ${quoteName(entry.path)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private handle(entry: TarEntry): void {
    const raw = entry.path;
    const rel = this.rules.relativePath(raw);
    if (rel === '') {
      if (entry.type !== 'dir') throw new HostileArchiveError(raw, `names the archive root but is a ${entry.type}, not a directory`);
      this.rootMeta = { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec };
      return;
    }
    const disk = this.select && !this.select(rel) ? undefined : this.disk;
    switch (entry.type) {
      case 'dir':
        disk?.directory(rel, entry);
        this.rules.dir(rel);
        return;
      case 'file':
        if (disk || !this.disk) this.files++;
        // The disk first: a file replacing a symlink must stay on this thread, which the rules'
        // memory of that symlink ensures until the disk writer has replaced it. A file not
        // selected is not opened: its data passes to a writer that has no open file.
        disk?.file(rel, entry);
        this.rules.file(rel);
        return;
      case 'symlink': {
        const target = entry.linkpath ?? '';
        this.rules.checkSymlink(raw, target);
        disk?.symlink(rel, target, entry);
        this.rules.symlinkMade(rel, target);
        return;
      }
      case 'hardlink': {
        const { target, symlinkTarget, same } = this.rules.checkHardlink(raw, rel, entry.linkpath ?? '');
        if (same) return;
        disk?.hardlink(rel, target);
        this.rules.hardlinkMade(rel, symlinkTarget);
        if (symlinkTarget === undefined && (disk || !this.disk)) this.files++;
        return;
      }
      case 'char':
        throw new HostileArchiveError(raw, 'is a character device');
      case 'block':
        throw new HostileArchiveError(raw, 'is a block device');
      case 'fifo':
        throw new HostileArchiveError(raw, 'is a FIFO (named pipe)');
    }
  }
}
