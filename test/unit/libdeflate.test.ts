/**
 * The libdeflate binding (native/libdeflate, src/engine/gzip/libdeflate.ts): it is built by `npm ci`
 * here (CI installs libdeflate-dev), it inflates the members our zlib writer makes to the same
 * bytes, and it refuses every kind of damage a member can have with a GzipDataError, as zlib does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { GzipDataError, INDEXED_HEADER_LENGTH, parseIndexedHeader } from '../../src/engine/gzip/gzip-members.js';
import { chooseInflateEngine, inflateEngine, libdeflateInflater } from '../../src/engine/gzip/libdeflate.js';
import { GzipChunkWriter } from '../../src/engine/gzip/parallel-gzip.js';

/** Compressible, not trivially repetitive. */
function text(bytes: number): Buffer {
  const words = ['Befund', 'Therapie', 'Kontrolle', 'täglich', 'Blutdruck', 'Labor', 'Diagnose', '120/80', 'mg'];
  const parts: string[] = [];
  for (let x = 7, len = 0; len < bytes; ) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = `${words[x % words.length]!}${x % 5 === 0 ? '\n' : ' '}`;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** Our writer's members of `data` (zlib, as every archive is written), each with its index. */
async function members(data: Buffer, chunkSize: number): Promise<{ member: Buffer; raw: number }[]> {
  const out: Buffer[] = [];
  const w = new GzipChunkWriter({ level: 5, parallel: true, chunkSize, onOutput: (p) => out.push(Buffer.concat(p)) });
  w.write(data);
  await w.end();
  const gz = Buffer.concat(out);
  const list: { member: Buffer; raw: number }[] = [];
  for (let off = 0; off < gz.length; ) {
    const idx = parseIndexedHeader(gz.subarray(off, off + INDEXED_HEADER_LENGTH))!;
    list.push({ member: gz.subarray(off, off + idx.memberLength), raw: idx.rawLength });
    off += idx.memberLength;
  }
  return list;
}

describe('libdeflate binding', () => {
  after(() => chooseInflateEngine('auto'));

  it('is built and chosen by default', () => {
    const e = inflateEngine();
    assert.equal(e.name, 'libdeflate', e.name === 'zlib' ? e.why : '');
    assert.ok(libdeflateInflater());
  });

  it('inflates compressed and stored members to exactly what was written', async () => {
    const data = Buffer.concat([text(300 * 1024), randomBytes(200 * 1024), Buffer.alloc(70 * 1024), text(5)]);
    const list = await members(data, 64 * 1024);
    assert.ok(list.length >= 9);
    const inflate = libdeflateInflater()!;
    const got = await Promise.all(list.map((m) => inflate(m.member, m.raw)));
    assert.ok(Buffer.concat(got).equals(data));
    // The members are standard gzip: zlib agrees.
    assert.ok(gunzipSync(Buffer.concat(list.map((m) => m.member))).equals(data));
  });

  it('refuses damaged members with a GzipDataError, like zlib', async () => {
    const [first] = await members(text(100 * 1024), 64 * 1024);
    const { member, raw } = first!;
    const inflate = libdeflateInflater()!;
    const refuses = async (what: string, m: Buffer, rawLength: number, re: RegExp) => {
      await assert.rejects(inflate(m, rawLength), (err: Error) => {
        assert.ok(err instanceof GzipDataError, `${what}: ${err.name}`);
        assert.equal(err.code, 'Z_DATA_ERROR', what);
        assert.match(err.message, re, what);
        return true;
      });
    };
    const flipped = Buffer.from(member);
    flipped[Math.floor(member.length / 2)]! ^= 0x10;
    await refuses('a flipped bit', flipped, raw, /invalid deflate data, CRC-32 or length/);
    const crc = Buffer.from(member);
    crc[member.length - 8]! ^= 1;
    await refuses('a wrong CRC-32', crc, raw, /invalid deflate data, CRC-32 or length/);
    await refuses('a cut member', member.subarray(0, member.length - 20), raw, /invalid deflate data/);
    await refuses('an index that says less', member, raw - 1, /longer than its index/);
    await refuses('an index that says more', member, raw + 1, /does not match its index/);
    await refuses('bytes after the member', Buffer.concat([member, Buffer.from('xx')]), raw, /does not match its index/);
    await refuses('not gzip', Buffer.from('this is not gzip data at all, not even close'), raw, /invalid deflate data/);
  });

  it('GZIP_INFLATE=zlib turns it off; the choice is the process\'s', () => {
    chooseInflateEngine('zlib');
    assert.deepEqual(inflateEngine(), { name: 'zlib', why: 'GZIP_INFLATE=zlib' });
    assert.equal(libdeflateInflater(), undefined);
    chooseInflateEngine('libdeflate');
    assert.equal(inflateEngine().name, 'libdeflate');
  });
});
