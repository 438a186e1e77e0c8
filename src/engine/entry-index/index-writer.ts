/**
 * Writes an entry index (index-format.ts) while the entries go by, to a temp file beside the
 * archive, in gzip members of about 256 KiB of lines: memory stays bounded whatever the entry
 * count. The caller publishes the temp file with the archive's other sidecars.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { EntryFields } from '../entry-digest.js';
import { safeRelative } from '../extract/path-safety.js';
import { encodeLine, encodeTrailer, INDEX_HEADER, INDEX_TYPE } from './index-format.js';

const PIECE = 256 * 1024;

export class EntryIndexWriter {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private pending: string[] = [];
  private pendingBytes = 0;
  private entries = 0;
  private closed = false;

  constructor(readonly tempPath: string) {
    this.fd = fs.openSync(tempPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
    this.push(`${INDEX_HEADER}\n`);
  }

  /** One tar entry as writer and readers describe it (name as a binary string, "./a/b/"). Throws for a hostile name. */
  add(e: EntryFields): void {
    const rel = safeRelative(e.name, e.name, 'path');
    if (rel === '') return; // the volume root: not an entry of any directory
    this.entries++;
    const link = e.type === 'symlink' ? e.link : e.type === 'hardlink' ? safeRelative(e.name, e.link ?? '', 'hard link target') : undefined;
    this.push(encodeLine({ type: INDEX_TYPE[e.type], path: rel, size: e.type === 'file' ? e.size : 0, mtimeSec: e.mtimeSec, link }));
  }

  /** Writes the trailer, fsyncs and closes; the temp file is complete. */
  finish(archiveSize: number, archiveSha256: string): void {
    const linesSha256 = this.hash.copy().digest('hex');
    this.push(encodeTrailer({ entries: this.entries, archiveSize, archiveSha256, linesSha256 }), true);
    this.flush();
    fs.fsyncSync(this.fd);
    this.close();
  }

  /** Closes and removes the temp file (a failed archive). */
  abort(): void {
    this.close();
    fs.rmSync(this.tempPath, { force: true });
  }

  private push(line: string, trailer = false): void {
    if (!trailer) this.hash.update(line, 'latin1');
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= PIECE) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const member = zlib.gzipSync(Buffer.from(this.pending.join(''), 'latin1'), { level: 6 });
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < member.length) off += fs.writeSync(this.fd, member, off);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
