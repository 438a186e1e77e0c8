/**
 * File names on Linux are bytes, not text: documents copied from old Windows or Samba shares carry
 * Latin-1 names (`Bericht_M\xfcller.txt`), and a name may contain a newline. Where a name must be
 * shown (logs, API answers, error messages) it is escaped, never altered: valid UTF-8 stays as it
 * is, every byte that is not part of valid UTF-8 becomes `\xNN`, control characters and the
 * backslash are escaped C-style, so the exact bytes can always be read back from what is shown.
 */

/** A name held as a "binary string" (one char per byte, latin1) or as bytes. */
export type NameBytes = string | Uint8Array;

const CONTROL: Record<number, string> = { 0x07: '\\a', 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0b: '\\v', 0x0c: '\\f', 0x0d: '\\r', 0x5c: '\\\\' };

export function toBytes(name: NameBytes): Buffer {
  return typeof name === 'string' ? Buffer.from(name, 'latin1') : Buffer.from(name.buffer, name.byteOffset, name.byteLength);
}

/** The escaped, printable form of a name (see the module comment). */
export function showName(name: NameBytes): string {
  const b = toBytes(name);
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      if (CONTROL[c] !== undefined) out += CONTROL[c];
      else if (c < 0x20 || c === 0x7f) out += hex(c);
      else out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = utf8SequenceLength(b, i);
    if (n === 0) {
      out += hex(c);
      i++;
      continue;
    }
    out += b.toString('utf8', i, i + n);
    i += n;
  }
  return out;
}

/** `showName` in double quotes, for messages. */
export function quoteName(name: NameBytes): string {
  return `"${showName(name).replace(/"/g, '\\"')}"`;
}

function hex(c: number): string {
  return `\\x${c.toString(16).padStart(2, '0')}`;
}

/**
 * Length of the well-formed UTF-8 sequence starting at b[i] (a byte >= 0x80), or 0 when it is not
 * one: no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629, table 3-7 of Unicode).
 */
function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => i + j < b.length && b[i + j]! >= lo && b[i + j]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
