/**
 * Is an upload a SQL text file or gzip of one? Decided from its first bytes, before it is written:
 * a PACS image, a volume archive or a Word file sent by mistake is refused at once with a message
 * that says what it looks like, instead of failing an hour later inside the `mariadb` client,
 * after the safety dump.
 *
 * SQL text here means: no NUL byte in the first 64 KiB (mysqldump and mariadb-dump write NUL as
 * `\0`; raw NULs mean a binary file, or UTF-16), and the first thing after blanks (and a UTF-8
 * BOM) is a comment (`-- `, `#`, `/*`) or a word (a statement such as CREATE, SET, INSERT, USE).
 */
import { constants, createGunzip } from 'node:zlib';

/** How much of the upload is looked at (of the decompressed text for gzip). */
export const SNIFF_BYTES = 64 * 1024;

export type Sniffed = { ok: true; gzip: boolean } | { ok: false; reason: string };

const SIGNATURES: [string, (b: Buffer) => boolean][] = [
  ['a ZIP file (or .docx/.xlsx)', (b) => b.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))],
  ['a bzip2 file', (b) => b.subarray(0, 3).toString('latin1') === 'BZh'],
  ['an xz file', (b) => b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))],
  ['a zstd file', (b) => b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))],
  ['a 7-Zip file', (b) => b.subarray(0, 6).equals(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))],
  ['a tar archive (restore volume archives with POST /api/restores)', (b) => b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar'],
  ['a PDF', (b) => b.subarray(0, 5).toString('latin1') === '%PDF-'],
  ['a DICOM image', (b) => b.length >= 132 && b.subarray(128, 132).toString('latin1') === 'DICM'],
];

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** `head`: the first SNIFF_BYTES of the upload (all of it when shorter). */
export async function sniffSql(head: Buffer): Promise<Sniffed> {
  if (!isGzip(head)) {
    const problem = textProblem(head);
    return problem ? { ok: false, reason: `the file is not SQL text: ${problem}` } : { ok: true, gzip: false };
  }
  let text: Buffer;
  try {
    text = await gunzipHead(head, SNIFF_BYTES);
  } catch (err) {
    return { ok: false, reason: `the file starts like gzip but does not decompress: ${(err as Error).message}` };
  }
  const problem = textProblem(text);
  return problem ? { ok: false, reason: `the file is gzip, but what it holds is not SQL text: ${problem}` } : { ok: true, gzip: true };
}

function textProblem(b: Buffer): string | undefined {
  const known = SIGNATURES.find(([, test]) => test(b));
  if (known) return `it looks like ${known[0]}`;
  if (b.includes(0)) return 'it holds NUL bytes (a binary file, or text in UTF-16; save the dump as UTF-8)';
  let text = b.toString('utf8');
  if (text.startsWith('\ufeff')) text = text.slice(1);
  text = text.trimStart();
  if (text === '') return 'it holds only blanks';
  if (/^(--(\s|$)|#|\/\*|[A-Za-z])/.test(text)) return undefined;
  return `it begins with ${JSON.stringify(text.slice(0, 20))}, not with an SQL comment or statement`;
}

/** Up to `limit` decompressed bytes of a gzip head; a head cut mid-stream is fine (sync flush). */
function gunzipHead(head: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip({ finishFlush: constants.Z_SYNC_FLUSH });
    const parts: Buffer[] = [];
    let got = 0;
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      if (err && got === 0) reject(err);
      else resolve(Buffer.concat(parts).subarray(0, limit));
    };
    gunzip.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      got += chunk.length;
      // Stop early: a few KiB of compressed zeros would otherwise inflate to megabytes here.
      if (got >= limit) done();
    });
    gunzip.on('end', () => done());
    gunzip.on('error', (err) => done(err));
    gunzip.end(head);
  });
}
