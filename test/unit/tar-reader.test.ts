import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArchiveError } from '../../src/workers/archive-errors.js';
import { TarReader, type TarEntry } from '../../src/workers/tar-reader.js';
import { tarBuffer, type TestEntry } from '../helpers/tar-build.js';

interface Seen {
  entries: (Pick<TarEntry, 'path' | 'type' | 'size' | 'linkpath' | 'mode' | 'uid'> & { data: string })[];
  metas: string[];
}

/** Feed `tar` cut into pieces at the given offsets; what the handler saw. */
function read(tar: Buffer, cuts: number[] = []): Seen {
  const seen: Seen = { entries: [], metas: [] };
  let cur: Seen['entries'][number] | undefined;
  const reader = new TarReader('t.tar.gz', {
    entry: (e) => {
      assert.equal(cur, undefined, 'entry before the previous one ended');
      cur = { path: e.path, type: e.type, size: e.size, linkpath: e.linkpath, mode: e.mode, uid: e.uid, data: '' };
    },
    data: (piece) => {
      assert.ok(cur, 'data outside an entry');
      cur.data += piece.toString('latin1');
    },
    end: () => {
      assert.ok(cur, 'end outside an entry');
      seen.entries.push(cur);
      cur = undefined;
    },
    meta: (text) => seen.metas.push(text),
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
  return seen;
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

const expected: Seen = {
  entries: [
    { path: './', type: 'Directory', size: 0, linkpath: undefined, mode: 0o755, uid: 0, data: '' },
    { path: './empty', type: 'File', size: 0, linkpath: undefined, mode: 0o644, uid: 0, data: '' },
    { path: './block', type: 'File', size: 512, linkpath: undefined, mode: 0o644, uid: 0, data: 'b'.repeat(512) },
    { path: './odd', type: 'File', size: 513, linkpath: undefined, mode: 0o600, uid: 1234, data: 'o'.repeat(513) },
    { path: `./${longDir}/pax-file.txt`, type: 'File', size: 3, linkpath: undefined, mode: 0o644, uid: 0, data: 'pax' },
    { path: `./${longDir}/gnu-file.txt`, type: 'File', size: 3, linkpath: undefined, mode: 0o644, uid: 0, data: 'gnu' },
    { path: './long-link', type: 'SymbolicLink', size: 0, linkpath: 't'.repeat(150), mode: 0o644, uid: 0, data: '' },
    { path: './hard', type: 'Link', size: 0, linkpath: './odd', mode: 0o644, uid: 0, data: '' },
    { path: './after', type: 'File', size: 6, linkpath: undefined, mode: 0o644, uid: 0, data: 'after\n' },
  ],
  metas: [],
};

function rejects(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ArchiveError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, re);
    return true;
  });
}

describe('TarReader', () => {
  const tar = tarBuffer(entries);

  it('reads every kind of entry, applying pax and GNU long names and links', () => {
    const seen = read(tar);
    assert.deepEqual(seen.entries, expected.entries);
    assert.equal(seen.metas.length, 3);
    assert.match(seen.metas[0]!, /path=\.\/d+\/e+\/pax-file\.txt\n/);
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
    assert.deepEqual(read(padded).entries, expected.entries);
    assert.deepEqual(read(tarBuffer(entries, { eof: false })).entries, expected.entries);
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
    const huge = tarBuffer([{ path: './x', type: 'File', body: 'x', pax: { comment: 'c'.repeat(1024 * 1024 + 1) } }]);
    rejects(() => read(huge), 'unsupported', /extended header of \d+ bytes/);
  });
});
