/**
 * One streaming pass over a GNU tar snapshot file (`<archive>.snar`, format 2): a version line; the
 * dump's time as two NUL-terminated numbers; per directory six NUL-terminated fields (nfs, mtime s,
 * ns, dev, ino, name), then its names, each NUL-terminated behind a one-letter flag ('D' directory,
 * 'Y' dumped in this archive, 'N' not dumped), an empty name, and one more NUL. Memory does not grow
 * with the snapshot: only the fields a caller wants become strings. The file must match the sha256
 * its archive's manifest recorded (a damaged snapshot would name the wrong files silently).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { ArchiveError } from '../archive-errors.js';

/** The snapshot sidecar (incremental-archive.ts writes it; not imported: that module loads the archiver's gzip). */
export const SNAPSHOT_SUFFIX = '.snar';

/** A directory's record: its path in the entry index's form ("" the root, "a/b"), inode and device as written. */
export interface SnapshotRecord {
  path: string;
  ino: string;
  dev: string;
}

/** Gets a record's names (flag, name); returned by the record callback for the records it wants. */
export type NameSink = (flag: string, name: string) => void;

/**
 * Scans `<archivePath>.snar`; `onRecord` gets each directory's record and returns a sink for its
 * names, or undefined to skip them. Throws an ArchiveError for a missing, damaged or truncated
 * snapshot, and after the pass for one that does not match `expectedSha256`.
 */
export async function scanSnapshot(
  archivePath: string,
  expectedSha256: string,
  onRecord: (r: SnapshotRecord) => NameSink | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const file = path.basename(archivePath);
  const fail = (why: string) => new ArchiveError('corrupt', `the snapshot ${file}${SNAPSHOT_SUFFIX} ${why}`);
  const hash = createHash('sha256');
  let headerLine: string | undefined = '';
  // (A cast: TypeScript does not see onField change it.)
  let state = 'time' as 'time' | 'head' | 'names' | 'end';
  let field = 0;
  let partial: Buffer[] = [];
  let partialLength = 0;
  let rec: SnapshotRecord = { path: '', ino: '', dev: '' };
  let sink: NameSink | undefined;
  // Only the fields used are turned into strings.
  const wanted = () => (state === 'head' ? field >= 3 : state === 'names' && sink !== undefined);
  const onField = (length: number, text: string) => {
    switch (state) {
      case 'time':
        if (++field === 2) [state, field] = ['head', 0];
        break;
      case 'head':
        if (field === 3) rec.dev = text;
        else if (field === 4) rec.ino = text;
        else if (field === 5) {
          rec.path = normalizeName(text);
          sink = onRecord(rec);
          rec = { path: '', ino: '', dev: '' };
          [state, field] = ['names', 0];
          break;
        }
        field++;
        break;
      case 'names':
        if (length === 0) state = 'end';
        else if (length > 1 && 'YND'.includes(text[0]!)) sink?.(text[0]!, text.slice(1));
        break;
      case 'end':
        if (length !== 0) throw fail('is damaged (a directory record does not end where it should)');
        state = 'head';
        break;
    }
  };
  try {
    for await (const chunk of createReadStream(`${archivePath}${SNAPSHOT_SUFFIX}`) as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      hash.update(chunk);
      let pos = 0;
      if (headerLine !== undefined) {
        const nl = chunk.indexOf(0x0a);
        headerLine += chunk.toString('latin1', 0, nl === -1 ? chunk.length : nl);
        if (nl === -1) {
          if (headerLine.length > 256) throw fail('is not a GNU tar snapshot');
          continue;
        }
        if (!/^GNU tar-.*-2$/.test(headerLine)) throw fail(`is not a GNU tar snapshot of format 2 (${JSON.stringify(headerLine.slice(0, 64))})`);
        headerLine = undefined;
        pos = nl + 1;
      }
      while (pos < chunk.length) {
        const end = chunk.indexOf(0, pos);
        if (end === -1) {
          if (wanted()) partial.push(chunk.subarray(pos));
          partialLength += chunk.length - pos;
          break;
        }
        let text = '';
        if (wanted()) text = (partial.length > 0 ? Buffer.concat([...partial, chunk.subarray(pos, end)]) : chunk.subarray(pos, end)).toString('latin1');
        const length = partialLength + end - pos;
        partial = [];
        partialLength = 0;
        pos = end + 1;
        onField(length, text);
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ArchiveError('checksum', `the snapshot ${file}${SNAPSHOT_SUFFIX} is missing`, { cause: err });
    throw err;
  }
  if (headerLine !== undefined || state !== 'head' || field !== 0 || partialLength > 0) throw fail('is truncated');
  if (hash.digest('hex') !== expectedSha256) throw new ArchiveError('checksum', `the snapshot ${file}${SNAPSHOT_SUFFIX} does not match the checksum in its manifest`);
}

/** A snapshot's directory name ("." for the root, "./a/b" below it) in the entry index's form. */
function normalizeName(name: string): string {
  let n = name.length > 1 && name.endsWith('/') ? name.slice(0, -1) : name;
  if (n === '.') return '';
  while (n.startsWith('./')) n = n.slice(2);
  return n;
}
