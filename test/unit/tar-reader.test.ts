import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArchiveError } from '../../src/engine/archive-errors.js';
import { TarReader } from '../../src/engine/tar/reader.js';
import { tarBuffer, type TestEntry } from '../helpers/tar-build.js';
import { paxEntry, rawArchive, rawEntry } from '../helpers/tar-raw.js';

interface Seen {
  path: string;
  type: string;
  size: number;
  linkpath: string | undefined;
  mode: number;
  uid: number;
  mtime: string;
  data: string;
}

/** Feed `tar` cut into pieces at the given offsets; what the handler saw (content as [offset]bytes). */
function read(tar: Buffer, cuts: number[] = []): Seen[] {
  const seen: Seen[] = [];
  let cur: Seen | undefined;
  const reader = new TarReader('t.tar.gz', {
    entry: (e) => {
      assert.equal(cur, undefined, 'entry before the previous one ended');
      cur = { path: e.path, type: e.type, size: e.size, linkpath: e.linkpath, mode: e.mode, uid: e.uid, mtime: `${e.mtimeSec}.${e.mtimeNsec}`, data: '' };
    },
    data: (piece, offset) => {
      assert.ok(cur, 'data outside an entry');
      cur.data += `[${offset}]${piece.toString('latin1')}`;
    },
    end: () => {
      assert.ok(cur, 'end outside an entry');
      seen.push(cur);
      cur = undefined;
    },
  });
  let from = 0;
  for (const at of [...cuts, tar.length]) {
    // A fresh copy per piece, reused afterwards: the reader may keep nothing of a chunk.
    const piece = Buffer.from(tar.subarray(from, at));
    reader.write(piece);
    piece.fill(0x55);
    from = at;
  }
  reader.end();
  // Content split across pieces arrives in several calls; join consecutive pieces for comparison.
  for (const s of seen) s.data = joinPieces(s.data);
  return seen;
}

/** "[0]ab[2]cd" → "[0]abcd": consecutive pieces joined (only offsets that jump stay visible). */
function joinPieces(data: string): string {
  let out = '';
  let next = -1;
  for (const m of data.matchAll(/\[(\d+)\]([^[]*)/g)) {
    const off = Number(m[1]);
    out += off === next ? m[2] : `[${off}]${m[2]}`;
    next = off + m[2]!.length;
  }
  return out;
}

const longDir = `${'d'.repeat(120)}/${'e'.repeat(60)}`;
const entries: TestEntry[] = [
  { path: './', type: 'Directory', mode: 0o755 },
  { path: './empty', type: 'File', body: '' },
  { path: './block', type: 'File', body: 'b'.repeat(512) },
  { path: './odd', type: 'File', body: 'o'.repeat(513), mode: 0o600, uid: 1234 },
  { path: './pax-named', type: 'File', body: 'pax', pax: { path: `./${longDir}/pax-file.txt` } },
  { path: '././@LongLink', type: 'NextFileHasLongPath', body: `./${longDir}/gnu-file.txt\0` },
  { path: './gnu-short', type: 'File', body: 'gnu' },
  { path: '././@LongLink', type: 'NextFileHasLongLinkpath', body: `${'t'.repeat(150)}\0` },
  { path: './long-link', type: 'SymbolicLink', linkpath: 'truncated' },
  { path: './hard', type: 'Link', linkpath: './odd' },
  { path: './after', type: 'File', body: 'after\n' },
];
const T = '1577836800.0';
const expected: Seen[] = [
  { path: './', type: 'dir', size: 0, linkpath: undefined, mode: 0o755, uid: 0, mtime: T, data: '' },
  { path: './empty', type: 'file', size: 0, linkpath: undefined, mode: 0o644, uid: 0, mtime: T, data: '' },
  { path: './block', type: 'file', size: 512, linkpath: undefined, mode: 0o644, uid: 0, mtime: T, data: `[0]${'b'.repeat(512)}` },
  { path: './odd', type: 'file', size: 513, linkpath: undefined, mode: 0o600, uid: 1234, mtime: T, data: `[0]${'o'.repeat(513)}` },
  { path: `./${longDir}/pax-file.txt`, type: 'file', size: 3, linkpath: undefined, mode: 0o644, uid: 0, mtime: T, data: '[0]pax' },
  { path: `./${longDir}/gnu-file.txt`, type: 'file', size: 3, linkpath: undefined, mode: 0o644, uid: 0, mtime: T, data: '[0]gnu' },
  { path: './long-link', type: 'symlink', size: 0, linkpath: 't'.repeat(150), mode: 0o644, uid: 0, mtime: T, data: '' },
  { path: './hard', type: 'hardlink', size: 0, linkpath: './odd', mode: 0o644, uid: 0, mtime: T, data: '' },
  { path: './after', type: 'file', size: 6, linkpath: undefined, mode: 0o644, uid: 0, mtime: T, data: '[0]after\n' },
];

function rejects(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ArchiveError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, re);
    return true;
  });
}

/** A header whose numeric fields were overwritten, with its checksum fixed. */
function patched(h: Buffer, at: number, bytes: number[]): Buffer {
  const out = Buffer.from(h);
  out.set(bytes, at);
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return out;
}

describe('TarReader', () => {
  const tar = tarBuffer(entries);

  it('reads every kind of entry, applying pax and GNU long names and links', () => {
    assert.deepEqual(read(tar), expected);
  });

  it('gives the same result however the stream is cut into chunks', () => {
    const whole = read(tar);
    // Every cut position once (headers, content, padding and long names split at each byte)...
    for (let at = 1; at < tar.length; at++) assert.deepEqual(read(tar, [at]), whole, `cut at ${at}`);
    // ...and byte by byte.
    assert.deepEqual(read(tar, Array.from({ length: tar.length - 1 }, (_, i) => i + 1)), whole);
  });

  it('ignores what follows the end-of-archive blocks, and accepts a stream without them', () => {
    const padded = Buffer.concat([tar, Buffer.from('record padding, not an entry'.padEnd(1024, '\0'))]);
    assert.deepEqual(read(padded), expected);
    assert.deepEqual(read(tarBuffer(entries, { eof: false })), expected);
  });

  it('ends at a lone zero block, as GNU tar does: what follows (more entries, junk) is not read', () => {
    const body = tarBuffer(entries, { eof: false });
    const more = tarBuffer([{ path: 'after-the-zero-block.txt', type: 'File', body: 'not listed by GNU tar' }]);
    assert.deepEqual(read(Buffer.concat([body, Buffer.alloc(512), more])), expected);
    assert.deepEqual(read(Buffer.concat([body, Buffer.alloc(512), Buffer.from('uncleared padding'.padEnd(512, 'x'))])), expected);
  });

  it('reports a stream cut inside an entry or inside a block as truncated', () => {
    const noEof = tarBuffer(entries, { eof: false });
    const oddContent = noEof.indexOf('o'.repeat(513));
    rejects(() => read(noEof.subarray(0, oddContent + 100)), 'truncated', /^archive is truncated: t\.tar\.gz ends inside entry "\.\/odd"$/);
    rejects(() => read(noEof.subarray(0, 512 * 4 + 10)), 'truncated', /ends in the middle of a block after entry "\.\/block"$/);
  });

  it('reports a header checksum error, naming the entry before it', () => {
    const bad = Buffer.from(tar);
    bad[512 * 2 + 3] = 0x41; // inside the name of ./block
    rejects(() => read(bad), 'corrupt', /^archive is corrupt: tar header checksum error in t\.tar\.gz after entry "\.\/empty"$/);
  });

  it('says when the data is not a tar archive at all', () => {
    rejects(() => read(Buffer.from('hello world\n'.repeat(100))), 'corrupt', /does not contain a tar archive/);
  });

  it('refuses an extended header larger than 1 MiB', () => {
    const huge = rawArchive(paxEntry([['comment', 'c'.repeat(1024 * 1024 + 1)]]), rawEntry({ name: './x' }, 'x'));
    rejects(() => read(huge), 'unsupported', /extended header of \d+ bytes/);
  });

  it('keeps names as bytes: Latin-1, KOI8-R and invalid UTF-8 come through unchanged', () => {
    const names = ['./Bericht_M\xfcller.txt', './\xf0\xd2\xc9\xd7\xc5\xd4', './\xff\xfe\x80', './\xc3\xbc-utf8'];
    const seen = read(rawArchive(...names.map((n) => rawEntry({ name: n }, 'x'))));
    assert.deepEqual(seen.map((s) => s.path), names);
  });

  it('cuts pax records by their length: a value may hold newlines and what looks like another record', () => {
    // The name a Webelexis user could give a file: it contains a pax record of its own.
    const crafted = `./upload\n19 path=config.txt\n${'x'.repeat(100)}`;
    const seen = read(rawArchive(paxEntry([['path', crafted], ['linkpath', 'a\nb']]), rawEntry({ name: './short', type: '2', linkname: 'c' })));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.path, crafted);
    assert.equal(seen[0]!.linkpath, 'a\nb');
  });

  it('applies only the last of several extended headers in a row, as GNU tar does', () => {
    const seen = read(rawArchive(paxEntry([['path', './first'], ['uid', '77']]), paxEntry([['path', './second']]), rawEntry({ name: './ustar' }, 'x')));
    assert.equal(seen[0]!.path, './second');
    assert.equal(seen[0]!.uid, 0, 'uid of the replaced header must not survive');
  });

  it('applies a global header to every later entry, below their own, and replaces it with the next', () => {
    const seen = read(
      rawArchive(
        paxEntry([['uid', '500'], ['mtime', '1000']], 'g'),
        rawEntry({ name: './a' }, 'a'),
        paxEntry([['uid', '600']]),
        rawEntry({ name: './b' }, 'b'),
        paxEntry([['mtime', '2000']], 'g'),
        rawEntry({ name: './c' }, 'c'),
      ),
    );
    assert.deepEqual(seen.map((s) => [s.path, s.uid, s.mtime]), [
      ['./a', 500, '1000.0'],
      ['./b', 600, '1000.0'],
      ['./c', 0, '2000.0'],
    ]);
  });

  it('reads pax times like GNU tar: fractions to nanoseconds, negative ones toward minus infinity', () => {
    const seen = read(
      rawArchive(
        paxEntry([['mtime', '-5.25']]), rawEntry({ name: './neg' }),
        paxEntry([['mtime', '1700000000.123456789123']]), rawEntry({ name: './ns' }),
        paxEntry([['mtime', '100000000000']]), rawEntry({ name: './far' }),
      ),
    );
    assert.deepEqual(seen.map((s) => s.mtime), ['-6.750000000', '1700000000.123456789', '100000000000.0']);
  });

  it('reads base-256 numbers: owners beyond 2097151 and mtimes before 1970', () => {
    let h = rawEntry({ name: './big' }, 'z');
    h = patched(h, 108, [0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]); // uid 3000000
    h = patched(h, 136, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xed, 0x30, 0x08, 0x80]); // -315619200 (1960)
    const [e] = read(rawArchive(h));
    assert.equal(e!.uid, 3000000);
    assert.equal(e!.mtime, '-315619200.0');
  });

  it('reads no content for hard links, directories and devices whatever their size field says (as GNU tar)', () => {
    const seen = read(rawArchive(rawEntry({ name: './a' }, 'abc'), rawEntry({ name: './b', type: '1', linkname: './a', size: 3 }), rawEntry({ name: './c' }, 'q')));
    assert.deepEqual(seen.map((s) => [s.path, s.type, s.size, s.data]), [
      ['./a', 'file', 3, '[0]abc'],
      ['./b', 'hardlink', 0, ''],
      ['./c', 'file', 1, '[0]q'],
    ]);
  });

  it('skips the content of a symlink that has a size (as GNU tar)', () => {
    const seen = read(rawArchive(rawEntry({ name: './s', type: '2', linkname: 'c' }, 'x'.repeat(600)), rawEntry({ name: './c' }, 'q')));
    assert.deepEqual(seen.map((s) => [s.path, s.type, s.size]), [['./s', 'symlink', 0], ['./c', 'file', 1]]);
  });

  it('reads a name with a trailing slash in an old regular-file entry as a directory', () => {
    const [e] = read(rawArchive(rawEntry({ name: 'old/', type: '\0', format: 'v7' })));
    assert.equal(e!.type, 'dir');
  });

  it('hands sparse content on with its offsets (pax 0.1 map)', () => {
    const seen = read(
      rawArchive(
        paxEntry([['GNU.sparse.size', '20000'], ['GNU.sparse.numblocks', '2'], ['GNU.sparse.name', './sp'], ['GNU.sparse.map', '4096,3,10000,2,20000,0']]),
        rawEntry({ name: './GNUSparseFile.1/sp' }, 'abcde'),
      ),
    );
    assert.deepEqual(seen.map((s) => [s.path, s.size, s.data]), [['./sp', 20000, '[4096]abc[10000]de']]);
  });

  it('reads the pax 1.0 sparse map from the start of the content, however the stream is cut', () => {
    const map = Buffer.alloc(512);
    map.write('2\n4096\n3\n10000\n2\n');
    const t = rawArchive(
      paxEntry([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', './sp'], ['GNU.sparse.realsize', '20000']]),
      rawEntry({ name: './GNUSparseFile.1/sp' }, Buffer.concat([map, Buffer.from('abcde')])),
    );
    const seen = read(t);
    assert.deepEqual(seen.map((s) => [s.path, s.size, s.data]), [['./sp', 20000, '[4096]abc[10000]de']]);
    for (let at = 1; at < t.length; at += 7) assert.deepEqual(read(t, [at]), seen, `cut at ${at}`);
  });

  it('refuses a sparse map that does not match the stored data', () => {
    const t = rawArchive(paxEntry([['GNU.sparse.size', '100'], ['GNU.sparse.map', '0,10,50,10']]), rawEntry({ name: './sp' }, 'abc'));
    rejects(() => read(t), 'corrupt', /sparse map of "\.\/sp" describes 20 bytes, the archive stores 3/);
  });

  it('ends a GNU long name at its first NUL byte, as GNU tar reads it', () => {
    const seen = read(rawArchive(rawEntry({ name: '././@LongLink', type: 'L' }, './evil\0name\0'), rawEntry({ name: './x' }, 'x')));
    assert.deepEqual(seen.map((s) => s.path), ['./evil']);
  });

  it('names a malformed pax record as such', () => {
    const t = rawArchive(rawEntry({ name: 'PaxHeaders/x', type: 'x' }, '99 path=x\n'), rawEntry({ name: './a' }));
    rejects(() => read(t), 'corrupt', /malformed extended header: record length 99 is out of range/);
  });
});
