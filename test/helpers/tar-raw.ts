/**
 * Tar streams built byte by byte, for cases no tool writes on purpose: several pax headers in a
 * row, pax records whose values hold newlines or binary bytes, odd sizes on links, crafted names.
 * Names are Buffers or binary strings (one char per byte).
 */
type Bytes = Buffer | string;

const b = (x: Bytes): Buffer => (typeof x === 'string' ? Buffer.from(x, 'latin1') : x);

export interface RawFields {
  name: Bytes;
  type?: string;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: Bytes;
  /** 'ustar' (default), 'gnu' or 'v7'. */
  format?: 'ustar' | 'gnu' | 'v7';
  prefix?: Bytes;
}

export function rawHeader(f: RawFields): Buffer {
  const h = Buffer.alloc(512);
  b(f.name).copy(h, 0, 0, 100);
  const oct = (v: number, off: number, len: number) => h.write(`${v.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
  oct(f.mode ?? 0o644, 100, 8);
  oct(f.uid ?? 0, 108, 8);
  oct(f.gid ?? 0, 116, 8);
  oct(f.size ?? 0, 124, 12);
  oct(f.mtime ?? 1577836800, 136, 12);
  h.write(f.type ?? '0', 156, 1, 'latin1');
  if (f.linkname !== undefined) b(f.linkname).copy(h, 157, 0, 100);
  const format = f.format ?? 'ustar';
  if (format === 'ustar') h.write('ustar\x0000', 257, 8, 'latin1');
  if (format === 'gnu') h.write('ustar  \0', 257, 8, 'latin1');
  if (f.prefix !== undefined) b(f.prefix).copy(h, 345, 0, 155);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

/** pax records `<len> key=value\n`, each length computed over the value's bytes. */
export function paxBody(records: [string, Bytes][]): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const rest = Buffer.concat([Buffer.from(` ${k}=`, 'latin1'), b(v), Buffer.from('\n')]);
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len++;
      return Buffer.concat([Buffer.from(String(len)), rest]);
    }),
  );
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** A header and its content, padded to whole blocks (`size` defaults to the content's length). */
export function rawEntry(f: RawFields, content: Bytes = Buffer.alloc(0)): Buffer {
  const body = b(content);
  return Buffer.concat([rawHeader({ ...f, size: f.size ?? body.length }), body, pad(body.length)]);
}

/** A pax extended header ('x', or 'g' for a global one) with these records. */
export function paxEntry(records: [string, Bytes][], type: 'x' | 'g' = 'x'): Buffer {
  return rawEntry({ name: 'PaxHeaders/x', type }, paxBody(records));
}

/** The parts followed by the two zero blocks that end an archive. */
export function rawArchive(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}
