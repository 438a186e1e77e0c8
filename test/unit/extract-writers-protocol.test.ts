import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecord, encodeRecord, recordBytes, type FileRecord } from '../../src/engine/extract/extract-writers-protocol.js';

describe('writer thread records', () => {
  it('decode what encode wrote: paths (bytes: binary strings), modes, owners, exact times (nanoseconds, before 1970, beyond 2^32 s), flags, content', () => {
    // Binary strings: one char per byte, so UTF-8 and Latin-1 names travel as the same bytes.
    const utf8 = Buffer.from('briefe/zürich-été.txt').toString('latin1');
    const files: [FileRecord, Buffer][] = [
      [
        { rel: utf8, raw: `./${utf8}`, mode: 0o640, createMode: 0o640, uid: 1000, gid: 1000, mtimeSec: 1_700_000_000, mtimeNsec: 123_456_789, chmod: false, chown: true },
        Buffer.from('Sehr geehrte Frau Doktor\n'),
      ],
      [
        { rel: 'Bericht_M\xfcller.txt', raw: './Bericht_M\xfcller.txt', mode: 0o640, createMode: 0o640, uid: 1000, gid: 1000, mtimeSec: -101, mtimeNsec: 999_999_999, chmod: false, chown: true },
        Buffer.from('Latin-1 name\n'),
      ],
      [{ rel: 'a', raw: 'a', mode: 0o4755, createMode: 0o600, uid: 4_294_967_294, gid: 2_147_483_648, mtimeSec: 0, mtimeNsec: 0, chmod: true, chown: false }, Buffer.alloc(0)],
      [{ rel: 'x/'.repeat(200) + 'y', raw: './' + 'x/'.repeat(200) + 'y', mode: 0o600, createMode: 0o600, uid: 0, gid: 5, mtimeSec: 2 ** 40 + 3, mtimeNsec: 1, chmod: true, chown: true }, Buffer.alloc(70_000, 7)],
    ];
    const slot = Buffer.alloc(256 * 1024);
    let off = 4;
    for (const [f, content] of files) {
      const at = encodeRecord(slot, off, f, content.length);
      content.copy(slot, at);
      const next = at + content.length;
      assert.equal(next - off, recordBytes(f.rel.length, f.raw.length, content.length));
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
