/**
 * The file times binding (native/libdeflate/file-times.c, src/engine/fs/file-times.ts): built by
 * `npm ci` here, it sets mtimes to the nanosecond (before 1970 and beyond 2^32 s too), leaves the
 * atime alone, never follows a symlink, takes names as bytes, and fails like Node's fs does.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FILE_TIMES_BINDING, fileTimesEngine, setMtime, setMtimeNoFollow } from '../../src/engine/fs/file-times.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NS = 1_000_000_000n;

describe('file times to the nanosecond', { skip: !fileTimesEngine().exact && 'the file times binding is not built' }, () => {
  let dir: string;
  const ns = (p: string | Buffer) => fs.lstatSync(p, { bigint: true });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-file-times-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('setMtime: the mtime exactly, the atime left as it was', () => {
    const file = path.join(dir, 'a');
    fs.writeFileSync(file, 'a');
    fs.utimesSync(file, new Date('2020-01-01T00:00:00.5Z'), new Date());
    const atime = ns(file).atimeNs;
    const fd = fs.openSync(file, 'r');
    try {
      for (const [sec, nsec] of [[1_700_000_000, 123_456_789], [-101, 750_000_000], [5_000_000_000, 1], [0, 0], [-1, 999_999_999]] as const) {
        setMtime(fd, sec, nsec);
        assert.equal(ns(file).mtimeNs, BigInt(sec) * NS + BigInt(nsec));
      }
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(ns(file).atimeNs, atime);
  });

  it('setMtimeNoFollow: a symlink gets its own mtime, its target keeps its own; names are bytes', () => {
    const target = path.join(dir, 'Bericht_M\xfcller.txt');
    const name = Buffer.from(target, 'latin1');
    fs.writeFileSync(name, 'x');
    const link = path.join(dir, 'link');
    fs.symlinkSync(name, link);
    const before = ns(name).mtimeNs;
    setMtimeNoFollow(Buffer.from(link), 1_700_000_001, 987_654_321);
    assert.equal(ns(link).mtimeNs, 1_700_000_001_987_654_321n);
    assert.equal(ns(name).mtimeNs, before);
    setMtimeNoFollow(name, -86_400, 1);
    assert.equal(ns(name).mtimeNs, -86_400n * NS + 1n);
  });

  it('fails like fs does, and refuses what is not an exact time or a name', () => {
    const binding = createRequire(import.meta.url)(path.join(ROOT, FILE_TIMES_BINDING)) as {
      futimens(...a: unknown[]): void;
      lutimensat(...a: unknown[]): void;
      UTIME_OMIT: number;
    };
    assert.throws(() => setMtimeNoFollow(Buffer.from(path.join(dir, 'missing')), 1, 0), { code: 'ENOENT', errno: -2, syscall: 'utimensat' });
    assert.throws(() => setMtime(987_654, 1, 0), { code: 'EBADF', syscall: 'futimens' });
    const file = path.join(dir, 'a');
    // A binary string is a name too; BigInt seconds are taken as they are (ext4 keeps times up to 2446).
    binding.lutimensat(Buffer.from(file).toString('latin1'), 0, binding.UTIME_OMIT, 2n ** 33n, 5);
    assert.equal(ns(file).mtimeNs, 2n ** 33n * NS + 5n);
    for (const bad of [[1.5, 0], [Number.NaN, 0], [2 ** 60, 0], [1, 1e9], [1, -1], [1, 0.5], ['1', 0]]) {
      assert.throws(() => binding.lutimensat(file, 0, binding.UTIME_OMIT, ...bad), RangeError, JSON.stringify(bad));
    }
    assert.throws(() => binding.lutimensat(`${file}\0x`, 0, 0, 1, 0), { code: 'EINVAL' });
    assert.throws(() => binding.lutimensat(42, 0, 0, 1, 0), TypeError);
    assert.throws(() => binding.futimens(-1, 0, 0, 1, 0), TypeError);
  });
});
