import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecord, encodeRecord, recordBytes, type FileRecord } from '../../src/workers/extract-writers-protocol.js';

describe('writer thread records', () => {
  it('decode what encode wrote: paths (UTF-8), modes, owners (-1 = not recorded), fractional times, flags, content', () => {
    const files: [FileRecord, Buffer][] = [
      [
        { rel: 'briefe/zürich-été.txt', raw: './briefe/zürich-été.txt', mode: 0o640, createMode: 0o640, uid: 1000, gid: 1000, atime: 1_700_000_000.25, mtime: 1_600_000_000.5, chmod: false, chown: true },
        Buffer.from('Sehr geehrte Frau Doktor\n'),
      ],
      [{ rel: 'a', raw: 'a', mode: 0o4755, createMode: 0o600, uid: -1, gid: -1, atime: 0, mtime: 1, chmod: true, chown: false }, Buffer.alloc(0)],
      [{ rel: 'x/'.repeat(200) + 'y', raw: './' + 'x/'.repeat(200) + 'y', mode: 0o600, createMode: 0o600, uid: 0, gid: 5, atime: 2, mtime: 3, chmod: true, chown: true }, Buffer.alloc(70_000, 7)],
    ];
    const slot = Buffer.alloc(256 * 1024);
    let off = 4;
    for (const [f, content] of files) {
      const at = encodeRecord(slot, off, f, content.length);
      content.copy(slot, at);
      const next = at + content.length;
      assert.equal(next - off, recordBytes(Buffer.byteLength(f.rel), Buffer.byteLength(f.raw), content.length));
      off = next;
    }
    off = 4;
    for (const [f, content] of files) {
      const r = decodeRecord(slot, off);
      assert.deepEqual(r.file, f);
      assert.equal(r.len, content.length);
      assert.ok(slot.subarray(r.content, r.content + r.len).equals(content));
      off = r.next;
    }
  });
});
