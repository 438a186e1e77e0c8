import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chmod, link, lstat, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EntryRecord } from '../../src/engine/entry-record.js';
import { listWithGnuTar } from '../../src/engine/gnu-tar/list-archive.js';
import { parseGnuTarLine, unquoteC } from '../../src/engine/gnu-tar/listing-line.js';
import { caseDirs } from '../helpers/case-dirs.js';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('../helpers/tarfile-fixtures.py', import.meta.url));
const { caseDir } = caseDirs('oob-gnu-list-');
const isRoot = process.getuid?.() === 0;
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

async function list(archive: string): Promise<EntryRecord[]> {
  const seen: EntryRecord[] = [];
  const { entries } = await listWithGnuTar(archive, (e) => seen.push(e));
  assert.equal(entries, seen.length);
  return seen;
}

/** An exact decimal time ("-5.25", pax style) as floor seconds + nanoseconds. */
function exactTime(s: string): { mtimeSec: number; mtimeNsec: number } {
  const m = /^(-?)(\d+)(?:\.(\d{1,9}))?$/.exec(s);
  assert.ok(m, `time ${s}`);
  const whole = BigInt(m[2] ?? '');
  const nsec = Number((m[3] ?? '').padEnd(9, '0'));
  if (m[1] !== '-') return { mtimeSec: Number(whole), mtimeNsec: nsec };
  return nsec === 0 ? { mtimeSec: Number(-whole), mtimeNsec: 0 } : { mtimeSec: Number(-whole - 1n), mtimeNsec: 1e9 - nsec };
}

const PY_TYPES: Record<string, EntryRecord['type'] | undefined> = {
  '0': 'file', '\0': 'file', '7': 'file', S: 'file', '5': 'dir', D: 'dir', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '6': 'fifo',
};

/** Python tarfile's view of each archive, as records (one python3 run for all: its start is slow). */
async function pythonViews(archives: string[]): Promise<EntryRecord[][]> {
  const { stdout } = await run('python3', [FIXTURES, 'dump', ...archives], { maxBuffer: 64 << 20 });
  const views: EntryRecord[][] = archives.map(() => []);
  for (const line of stdout.split('\n').filter(Boolean)) {
    const m = JSON.parse(line) as { archive: number; name: string; link: string; type: string; size: number; mode: number; uid: number; gid: number; mtime: string };
    // A volume label ('V') is no entry to GNU tar either.
    if (m.type === 'V') continue;
    const type = PY_TYPES[m.type];
    assert.ok(type, `python type ${m.type}`);
    const isLink = type === 'symlink' || type === 'hardlink';
    views[m.archive]?.push({
      type,
      name: Buffer.from(m.name, 'hex'),
      link: isLink ? Buffer.from(m.link, 'hex') : undefined,
      size: type === 'file' ? m.size : 0,
      mode: m.mode,
      uid: m.uid,
      gid: m.gid,
      ...exactTime(m.mtime),
    });
  }
  return views;
}

/** A record as a plain object that diffs readably; names as latin1 (one char per byte, so still exact). */
function view(e: EntryRecord, { stripDirSlash = false } = {}): Record<string, unknown> {
  let name = e.name.toString('latin1');
  // tarfile drops a directory's trailing slashes; GNU tar shows them (exact names are asserted separately).
  if (stripDirSlash && e.type === 'dir') name = name.replace(/\/+$/, '');
  return { ...e, name, link: e.link?.toString('latin1') };
}

/** Two independent readers, GNU tar and Python's tarfile (its view in `py`), must see the same entries. */
async function assertSameAsPython(archive: string, py: EntryRecord[] | undefined): Promise<EntryRecord[]> {
  const gnu = await list(archive);
  assert.ok(gnu.length > 0 && py);
  assert.deepEqual(
    gnu.map((e) => view(e, { stripDirSlash: true })),
    py.map((e) => view(e, { stripDirSlash: true })),
    archive,
  );
  return gnu;
}

function find(records: EntryRecord[], name: string): EntryRecord {
  const found = records.find((e) => e.name.equals(b(name)));
  assert.ok(found, `no entry ${JSON.stringify(name)} in ${JSON.stringify(records.map((e) => e.name.toString('latin1')))}`);
  return found;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('unquoteC', () => {
  it('undoes every escape GNU tar prints in the C locale', () => {
    assert.deepEqual(unquoteC('"plain name.txt"'), b('plain name.txt'));
    assert.deepEqual(unquoteC('"\\a\\b\\f\\n\\r\\t\\v\\\\\\"\\?"'), b('\x07\b\f\n\r\t\v\\"?'));
    assert.deepEqual(unquoteC('"\\001\\033\\177\\200\\374\\377"'), Buffer.from([1, 0o33, 0x7f, 0x80, 0xfc, 0xff]));
    assert.deepEqual(unquoteC('"a\\0b\\0001"'), Buffer.from([0x61, 0, 0x62, 0, 0x31]), 'NUL as \\0, or \\000 before a digit');
    assert.deepEqual(unquoteC('""'), Buffer.alloc(0));
    assert.deepEqual(unquoteC('"a -> b link to c \'q\'"'), b("a -> b link to c 'q'"));
  });

  it('keeps raw bytes >= 0x80 (a non-C locale prints them unescaped) and joins trigraph-split strings', () => {
    assert.deepEqual(unquoteC(b('"M\xfcller"')), b('M\xfcller'));
    assert.deepEqual(unquoteC('"M\xfcller"'), b('M\xfcller'));
    assert.deepEqual(unquoteC('"a?""?=b"'), b('a??=b'));
    assert.deepEqual(unquoteC('"with\\ space"'), b('with space'), '--quote-chars quotes punctuation with a backslash');
  });

  it('refuses what quotearg never prints', () => {
    assert.throws(() => unquoteC('plain'), /must start with/);
    assert.throws(() => unquoteC('"open'), /closing quote/);
    assert.throws(() => unquoteC('"a"b'), /after the closing quote/);
    assert.throws(() => unquoteC('"a\\'), /closing quote|lone backslash/);
    assert.throws(() => unquoteC('"\\x41"'), /unknown escape \\x/);
    assert.throws(() => unquoteC('"\\400"'), /beyond a byte/);
    assert.throws(() => unquoteC('"\u20ac"'), /no byte/);
  });
});

describe('parseGnuTarLine', () => {
  const rec = (over: Partial<EntryRecord>): EntryRecord => ({
    type: 'file', name: b('a'), link: undefined, size: 0, mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, ...over,
  });

  it('reads a regular file, every field', () => {
    assert.deepEqual(
      parseGnuTarLine('-rw-r----- 1000/100      1234 2024-02-29 13:14:15.123456789 "./docs/a b.txt"'),
      rec({ name: b('./docs/a b.txt'), size: 1234, mode: 0o640, uid: 1000, gid: 100, mtimeSec: 1709212455, mtimeNsec: 123456789 }),
    );
    assert.deepEqual(parseGnuTarLine(b('-rw-r--r-- 0/0 5 1970-01-01 00:00:00 "M\\374ller"\n')), rec({ name: b('M\xfcller'), size: 5 }));
  });

  it('reads every type; only a regular file keeps its size', () => {
    const at = '0/0 77 2020-01-01 00:00:00';
    const t = 1577836800;
    assert.deepEqual(parseGnuTarLine(`drwxr-xr-x ${at} "./d/"`), rec({ type: 'dir', name: b('./d/'), mode: 0o755, mtimeSec: t }));
    assert.deepEqual(parseGnuTarLine(`lrwxrwxrwx ${at} "a -> b" -> "c -> d"`), rec({ type: 'symlink', name: b('a -> b'), link: b('c -> d'), mode: 0o777, mtimeSec: t }));
    assert.deepEqual(parseGnuTarLine(`hrw-r--r-- ${at} "x link to y" link to "z\\n"`), rec({ type: 'hardlink', name: b('x link to y'), link: b('z\n'), mtimeSec: t }));
    assert.deepEqual(parseGnuTarLine(`Crw-r--r-- ${at} "c"`), rec({ name: b('c'), size: 77, mtimeSec: t }));
    assert.deepEqual(parseGnuTarLine(`prw-r--r-- ${at} "p"`), rec({ type: 'fifo', name: b('p'), mtimeSec: t }));
    assert.deepEqual(parseGnuTarLine('crw-rw---- 0/6   4,64 2020-01-01 00:00:00 "tty"'), rec({ type: 'char', name: b('tty'), mode: 0o660, gid: 6, mtimeSec: t }));
    assert.deepEqual(parseGnuTarLine('brw-rw---- 0/6 259,1048575 2020-01-01 00:00:00 "nvme"'), rec({ type: 'block', name: b('nvme'), mode: 0o660, gid: 6, mtimeSec: t }));
  });

  it('reads setuid, setgid and sticky with and without execute, and an xattr marker column', () => {
    assert.equal(parseGnuTarLine('-rwsr-Sr-T 0/0 0 1970-01-01 00:00:00 "m"').mode, 0o7744);
    assert.equal(parseGnuTarLine('drwxr-sr-t 0/0 0 1970-01-01 00:00:00 "m"').mode, 0o3755);
    assert.equal(parseGnuTarLine('---S--s--- 0/0 0 1970-01-01 00:00:00 "m"').mode, 0o6010);
    assert.equal(parseGnuTarLine('-rw-r--r--+ 0/0 0 1970-01-01 00:00:00 "m"').mode, 0o644);
    assert.equal(parseGnuTarLine('-rw-r--r--  0/0 0 1970-01-01 00:00:00 "m"').mode, 0o644);
  });

  it('reads the owner column however wide it has grown', () => {
    const e = parseGnuTarLine('-rw-r--r-- 2097152/4294967295 1 1970-01-01 00:00:00   "u"');
    assert.deepEqual([e.uid, e.gid, e.size], [2097152, 4294967295, 1]);
  });

  it('turns every time form GNU tar prints back into floor seconds and nanoseconds', () => {
    const cases: [string, number, number][] = [
      ['1970-01-01 00:00:00', 0, 0],
      ['2000-02-29 00:00:00', 951782400, 0],
      ['1900-03-01 00:00:00', -2203891200, 0],
      ['2242-03-16 12:56:32.5', 8589934592, 500000000],
      ['1969-12-31 23:59:59', -1, 0],
      // before 1970 GNU tar prints trunc(t) and the fraction's magnitude: -5.25 as 23:59:55.25
      ['1969-12-31 23:59:55.25', -6, 750000000],
      ['1969-12-31 23:59:59.12345679', -2, 876543210],
      // -0.25 prints exactly as +0.25; we can only read the positive one
      ['1970-01-01 00:00:00.25', 0, 250000000],
      ['1-01-01 00:00:00', -62135596800, 0],
      ['0-12-31 23:59:59', -62135596801, 0],
      ['-1-12-31 23:59:59.5', -62167219202, 500000000],
      ['10000-01-01 00:00:00.5', 253402300800, 500000000],
      ['-32873-11-12 23:23:44.75', -1099511627777, 250000000],
      // The listing's exact values, beyond a double's precision: compared as doubles, as the parser returns them.
      /* eslint-disable no-loss-of-precision */
      ['2147483647-12-31 23:59:59', 67767976233532799, 0],
      // glibc's strftime wraps years from 2^31 on by 2^32
      ['-2147483648-01-01 00:00:00', 67767976233532800, 0],
      ['-2147481749-12-31 23:59:59', 67768036191676799, 0],
      ['-2147481748-01-01 00:00:00', -67768040609740800, 0],
      // beyond gmtime: the plain number of seconds, sign first
      ['67768036191676800', 67768036191676800, 0],
      ['67768036191676800.5', 67768036191676800, 500000000],
      ['-67768040609740801.25', -67768040609740802, 750000000],
      ['-9223372036854775808', -9223372036854775808, 0],
      /* eslint-enable no-loss-of-precision */
    ];
    for (const [time, mtimeSec, mtimeNsec] of cases) {
      const e = parseGnuTarLine(`-rw-r--r-- 0/0 0 ${time}  "t"`);
      assert.deepEqual([e.mtimeSec, e.mtimeNsec], [mtimeSec, mtimeNsec], time);
    }
  });

  it('refuses lines that are no entry, or not what GNU tar prints', () => {
    const bad: [string, RegExp][] = [
      ['V--------- 0/0 0 2026-12-01 12:12:30 "My label"--Volume Header--', /volume label/],
      ['M--------- 0/0 10032 1970-01-01 00:00:00 "r"--Continued at byte 19968--', /multi-volume/],
      ['?rw-r--r-- 0/0 0 1970-01-01 00:00:00 "zed" unknown file type \'Z\'', /type '\?'.*unknown file type 'Z'/],
      ['L--------- 0/0 0 1970-01-01 00:00:00 "x"--Long Name--', /type 'L'/],
      ['', /not a line/],
      ['tar: Removing leading `/\' from member names', /not a line/],
      ['-rw-r--r-- root/root 0 1970-01-01 00:00:00 "x"', /not a line/],
      ['-rw-r--r-- 0/0 0 1970-01-01 00:00 "x"', /not a time/],
      ['-rw-r--r-- 0/0 0 1970-13-01 00:00:00 "x"', /not a time/],
      ['-rw-r--r-- 0/0 0 1970-01-01 00:00:00 x', /not a line/],
      ['-rw-r--r-- 0/0 0 1970-01-01 00:00:00 "x" y', /text after the name/],
      ['lrwxrwxrwx 0/0 0 1970-01-01 00:00:00 "x"', /symlink without "->"/],
      ['lrwxrwxrwx 0/0 0 1970-01-01 00:00:00 "x" -> "y" z', /after the link target/],
      ['hrw-r--r-- 0/0 0 1970-01-01 00:00:00 "x" -> "y"', /hardlink without "link to"/],
      ['crw-r--r-- 0/0 5 1970-01-01 00:00:00 "x"', /without major,minor/],
      ['-rw-r--r-- 0/0 1,2 1970-01-01 00:00:00 "x"', /no device/],
      ['-rw-r--r-- 0/0 9007199254740993 1970-01-01 00:00:00 "x"', /size .* beyond 2\^53/],
    ];
    for (const [line, why] of bad) assert.throws(() => parseGnuTarLine(line), why, line);
  });
});

// ---------------------------------------------------------------------------------------------
// Real archives: GNU tar's listing against Python's tarfile

describe('listWithGnuTar on archives built with Python tarfile', () => {
  const kinds = ['pax-python', 'gnu-python', 'raw-agree', 'raw-disagree'];
  let dir = '';
  let py: Record<string, EntryRecord[] | undefined> = {};
  const fixture = (kind: string): string => path.join(dir, `${kind}.tar`);
  before(async () => {
    dir = await caseDir();
    await run('python3', [FIXTURES, 'build', dir]);
    const views = await pythonViews(kinds.map(fixture));
    py = Object.fromEntries(kinds.map((k, i) => [k, views[i]]));
  });

  it('pax: every byte in names, newlines, " -> " and " link to ", long names and links, a global header, binary values, odd times and owners', async () => {
    const gnu = await assertSameAsPython(fixture('pax-python'), py['pax-python']);
    const latin1 = find(gnu, 'Bericht_M\xfcller.txt');
    assert.deepEqual([latin1.mtimeSec, latin1.mtimeNsec, latin1.gid], [-6, 750000000, 4242]);
    const sym = find(gnu, 'sym -> x');
    assert.deepEqual(sym.link?.subarray(0, 14), b('target -> "\n\xff"'));
    const dir = find(gnu, 'dir/');
    assert.deepEqual([dir.type, dir.mode, dir.uid, dir.gid], ['dir', 0o2755, 3000000000, 2097152]);
    for (const lo of [0, 64, 128, 192]) {
      const bytes = [...Array(64).keys()].map((i) => lo + i).filter((c) => c > 0 && c !== 0x2f);
      find(gnu, `bytes-${Buffer.from(bytes).toString('latin1')}`);
    }
    assert.deepEqual(find(gnu, 'chr'), { type: 'char', name: b('chr'), link: undefined, size: 0, mode: 0o4000, uid: 0, gid: 4242, mtimeSec: 0, mtimeNsec: 0 });
  });

  it('GNU format: long names and links (L/K), base-256 times and owners', async () => {
    const gnu = await assertSameAsPython(fixture('gnu-python'), py['gnu-python']);
    assert.equal(find(gnu, 'neg').mtimeSec, -(2 ** 40));
    assert.deepEqual([find(gnu, 'ids').uid, find(gnu, 'ids').gid], [3000000000, 2097152]);
    assert.equal(find(gnu, 'M\xfcller\n').mode, 0o7777);
  });

  it('hand-made headers: no trailing slash, ustar prefix, full 100-byte fields, old hard link with a size, contiguous, hdrcharset, global path', async () => {
    const archive = fixture('raw-agree');
    // GNU tar warns about hdrcharset on stderr and still exits 0: that is no failure.
    const { stderr } = await run('tar', ['-tf', archive]);
    assert.match(stderr, /Ignoring unknown extended header keyword 'hdrcharset'/);
    const gnu = await assertSameAsPython(archive, py['raw-agree']);
    assert.deepEqual(gnu.map((e) => `${e.type} ${e.name.toString('latin1')}`), [
      'dir dir-no-slash',
      'file pre/fix/name',
      `file ${'n'.repeat(100)}`,
      'symlink sym100',
      'hardlink old-hard',
      'dir areg-dir/',
      'file contiguous',
      'symlink M\xfcller\n19 path=config.txt\n',
      'file global-path',
      'file own-path',
    ]);
    assert.equal(find(gnu, 'old-hard').size, 0);
    assert.equal(find(gnu, 'contiguous').size, 3);
    const global = find(gnu, 'global-path');
    assert.deepEqual([global.uid, global.mtimeSec, global.mtimeNsec], [4000000000, -6, 750000000]);
  });

  it('where tarfile reads differently, GNU tar is parsed as it reads: last pax header wins, "0" and "7" with a slash are directories, -0.25 shows as +0.25', async () => {
    const gnu = await list(fixture('raw-disagree'));
    assert.deepEqual(gnu.map((e) => view(e)), [
      { type: 'file', name: 'second', link: undefined, size: 0, mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0 },
      { type: 'dir', name: 'reg-slash/', link: undefined, size: 0, mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0 },
      { type: 'dir', name: 'contiguous-dir/', link: undefined, size: 0, mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0 },
      { type: 'file', name: 'contiguous-dir/inside', link: undefined, size: 2, mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0 },
      { type: 'file', name: 'minus-quarter', link: undefined, size: 0, mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 250000000 },
    ]);
    // The disagreement is real (Python 3.11's tarfile): if this starts to fail, tarfile changed.
    assert.deepEqual(py['raw-disagree']?.map((e) => [e.type, e.name.toString('latin1'), e.uid, e.mtimeSec, e.mtimeNsec]), [
      ['file', 'first', 7, 0, 0],
      ['file', 'reg-slash/', 0, 0, 0],
      ['file', 'contiguous-dir/', 0, 0, 0],
      ['file', 'contiguous-dir/inside', 0, 0, 0],
      ['file', 'minus-quarter', 0, -1, 750000000],
    ]);
  });

  it('lists names as stored and hard link targets unaltered (no leading "/" or "../" removed); TAR_OPTIONS cannot change that', async () => {
    const saved = process.env.TAR_OPTIONS;
    process.env.TAR_OPTIONS = '--show-transformed-names --transform=s/^/X/';
    try {
      const gnu = await list(fixture('names-as-stored'));
      assert.deepEqual(gnu.map((e) => [e.name.toString('latin1'), e.link?.toString('latin1')]), [
        ['/abs/file', undefined],
        ['../up', undefined],
        ['./dot/./x', undefined],
        ['dir//', undefined],
        ['h1', '/abs/file'],
        ['h2', '../up'],
      ]);
    } finally {
      if (saved === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = saved;
    }
  });
  it('rejects an entry of a type GNU tar does not know, quoting the line', async () => {
    const err = await rejection(list(fixture('unknown-type')));
    assert.match(err.message, /line 2 of GNU tar's listing of .*unknown-type\.tar: .*type '\?'.*"\?rw-r--r-- .* "zed" unknown file type 'Z'"/);
  });
});

// ---------------------------------------------------------------------------------------------
// Real files archived by GNU tar in each of its formats

const ALL_BYTE_NAMES = [[1, 0x2e], [0x30, 0x6f], [0x70, 0xaf], [0xb0, 0xef], [0xf0, 0xff]].map(([lo = 0, hi = 0]) =>
  Buffer.from([...Array(hi - lo + 1).keys()].map((i) => lo + i)),
);
const AWKWARD = [...ALL_BYTE_NAMES, b('a\nb'), b('back\\slash "q"'), b(' -> x'), b('y link to z'), b('M\xfcller.txt'), Buffer.from('Müller-utf8.txt')];
const LONG_NAME = b(`long-${'n'.repeat(140)}\n\xfc`);

/**
 * plain/ (every format, v7 too): awkward names, a symlink, a hard link, special mode bits;
 * special/ (not v7): a FIFO and, as root, devices; wide/ (gnu, oldgnu, pax): long names and
 * targets, a deep path, times before 1970 and after 2242, big owners (root), a sparse file.
 */
async function buildTree(root: string): Promise<void> {
  const at = (...parts: (string | Buffer)[]): Buffer => Buffer.concat([b(`${root}/`), ...parts.flatMap((p, i) => (i ? [b('/'), b2(p)] : [b2(p)]))]);
  const b2 = (p: string | Buffer): Buffer => (typeof p === 'string' ? b(p) : p);
  await mkdir(at('plain', 'sticky'), { recursive: true });
  for (const name of AWKWARD) await writeFile(at('plain', name), name);
  await symlink(b('target\n\xff -> "x"'), at('plain', 'sym'));
  await link(at('plain', 'M\xfcller.txt'), at('plain', 'hard \xfc'));
  await writeFile(at('plain', 'suid'), 'x');
  await chmod(at('plain', 'suid'), 0o4755);
  await writeFile(at('plain', 'sgid-no-exec'), 'x');
  await chmod(at('plain', 'sgid-no-exec'), 0o2644);
  await chmod(at('plain', 'sticky'), 0o1777);

  await mkdir(at('special'));
  await run('mkfifo', [`${root}/special/fifo`]);
  if (isRoot) {
    await run('mknod', [`${root}/special/null`, 'c', '1', '3']);
    await run('mknod', [`${root}/special/disk`, 'b', '8', '1']);
  }

  const deep = ['wide', 'd'.repeat(90), 'e'.repeat(90), 'f'.repeat(90)];
  await mkdir(at(...deep), { recursive: true });
  await writeFile(at(...deep, LONG_NAME), 'deep');
  await symlink(Buffer.concat([b('t'.repeat(150)), b('\n\xff')]), at('wide', 'long-target'));
  for (const [name, time] of [['before-1970', '-5.25'], ['year-minus-1', '-62167219201.5'], ['after-2242', '8589934592.5']] as const) {
    await writeFile(at('wide', name), name);
    await run('touch', ['-d', `@${time}`, `${root}/wide/${name}`]);
  }
  if (isRoot) {
    await writeFile(at('wide', 'big-owner'), 'x');
    await run('chown', ['3000000:4000000000', `${root}/wide/big-owner`]);
  }
  const sparse = await open(at('wide', 'sparse'), 'w');
  await sparse.write('data', 512 * 1024);
  await sparse.truncate(1024 * 1024);
  await sparse.close();
}

describe('listWithGnuTar on archives GNU tar made from real files', () => {
  const formats: [string, string[], string[]][] = [
    ['gnu.tar', ['--format=gnu', '-S'], ['plain', 'special', 'wide']],
    ['oldgnu.tar', ['--format=oldgnu', '-S'], ['plain', 'special', 'wide']],
    ['pax-0.0.tar', ['--format=pax', '-S', '--sparse-version=0.0'], ['plain', 'special', 'wide']],
    ['pax-0.1.tar', ['--format=pax', '-S', '--sparse-version=0.1'], ['plain', 'special', 'wide']],
    ['pax-1.0.tar', ['--format=pax', '-S', '--sparse-version=1.0'], ['plain', 'special', 'wide']],
    ['ustar.tar', ['--format=ustar'], ['plain', 'special']],
    ['v7.tar', ['--format=v7'], ['plain']],
    ['gnu.tar.gz', ['--format=gnu', '-z'], ['plain', 'special', 'wide']],
  ];

  it('agrees with Python for gnu, oldgnu, pax (sparse 0.0, 0.1, 1.0), ustar, v7 and .tar.gz; names are the files\' bytes', async () => {
    const dir = await caseDir();
    const tree = path.join(dir, 'tree');
    await buildTree(tree);
    const archives = formats.map(([file]) => path.join(dir, file));
    for (const [i, [, flags, parts]] of formats.entries()) await run('tar', ['-c', ...flags, '-f', archives[i] ?? '', '-C', tree, ...parts]);
    const py = await pythonViews(archives);
    for (const [i, [file, , parts]] of formats.entries()) {
      const gnu = await assertSameAsPython(archives[i] ?? '', py[i]);
      const names = new Set(gnu.map((e) => e.name.toString('latin1')));
      for (const name of AWKWARD) assert.ok(names.has(`plain/${name.toString('latin1')}`), `${file}: ${JSON.stringify(name.toString('latin1'))}`);
      assert.deepEqual(find(gnu, 'plain/sym').link, b('target\n\xff -> "x"'), file);
      // Whichever of the two names tar met first is the file, the other its hard link.
      const hard = gnu.filter((e) => e.type === 'hardlink').map((e) => [e.name.toString('latin1'), e.link?.toString('latin1')].sort());
      assert.deepEqual(hard, [['plain/M\xfcller.txt', 'plain/hard \xfc']], file);
      assert.equal(find(gnu, 'plain/suid').mode, 0o4755, file);
      assert.equal(find(gnu, 'plain/sgid-no-exec').mode, 0o2644, file);
      assert.deepEqual([find(gnu, 'plain/sticky/').type, find(gnu, 'plain/sticky/').mode], ['dir', 0o1777], file);
      assert.equal(find(gnu, 'plain/sym').mode, 0o777, `${file}: a symlink's mode is the header's (Linux: 777)`);
      if (parts.includes('special')) {
        assert.equal(find(gnu, 'special/fifo').type, 'fifo', file);
        if (isRoot) assert.deepEqual([find(gnu, 'special/null').type, find(gnu, 'special/disk').type], ['char', 'block'], file);
      }
      if (parts.includes('wide')) {
        assert.equal(find(gnu, 'wide/sparse').size, 1024 * 1024, `${file}: a sparse file's full size`);
        const deep = find(gnu, `wide/${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(90)}/${LONG_NAME.toString('latin1')}`);
        assert.equal(deep.size, 4, file);
        assert.equal(find(gnu, 'wide/long-target').link?.length, 152, file);
        // As the file system holds them (it may clamp far times): pax keeps the nanoseconds, the others whole seconds (floor).
        for (const name of ['before-1970', 'year-minus-1', 'after-2242']) {
          const { mtimeNs } = await lstat(path.join(tree, 'wide', name), { bigint: true });
          const sec = mtimeNs / 1_000_000_000n - (mtimeNs % 1_000_000_000n < 0n ? 1n : 0n);
          const nsec = file.startsWith('pax') ? Number(mtimeNs - sec * 1_000_000_000n) : 0;
          const e = find(gnu, `wide/${name}`);
          assert.deepEqual([e.mtimeSec, e.mtimeNsec], [Number(sec), nsec], `${file}: ${name}`);
        }
        if (isRoot) assert.deepEqual([find(gnu, 'wide/big-owner').uid, find(gnu, 'wide/big-owner').gid], [3000000, 4000000000], file);
      }
    }
  });

  it('reads a --listed-incremental archive: dumpdirs (D) are directories, the rest as in a plain gnu archive', async () => {
    const dir = await caseDir();
    const tree = path.join(dir, 'tree');
    await buildTree(tree);
    await run('tar', ['-c', '--format=gnu', '-f', `${dir}/plain.tar`, '-C', tree, 'plain', 'special']);
    await run('tar', ['-c', '--format=gnu', `--listed-incremental=${dir}/snapshot`, '-f', `${dir}/inc.tar`, '-C', tree, 'plain', 'special']);
    const sorted = (records: EntryRecord[]): Record<string, unknown>[] => records.map((e) => view(e)).sort((x, y) => (String(x.name) < String(y.name) ? -1 : 1));
    const inc = await list(`${dir}/inc.tar`);
    const plainRecords = await list(`${dir}/plain.tar`);
    // The hard link's target is whichever of its two names came first, and the order differs.
    const noLinks = (records: EntryRecord[]): EntryRecord[] => records.filter((e) => e.type !== 'hardlink' && !e.name.toString('latin1').match(/^plain\/(hard \xfc|M\xfcller\.txt)$/));
    assert.deepEqual(sorted(noLinks(inc)), sorted(noLinks(plainRecords)));
    assert.deepEqual(find(inc, 'plain/').size, 0, 'a dumpdir\'s size is its listing, not content');
    assert.equal(find(inc, 'plain/').type, 'dir');
  });

  it('skips a volume label (gnu V header, pax GNU.volume.label) and refuses a multi-volume continuation', async () => {
    const dir = await caseDir();
    await writeFile(`${dir}/f`, 'x');
    for (const format of ['gnu', 'pax']) {
      await run('tar', ['-c', `--format=${format}`, '-V', 'Backup "2024"', '-f', `${dir}/label-${format}.tar`, '-C', dir, 'f']);
      assert.deepEqual((await list(`${dir}/label-${format}.tar`)).map((e) => e.name.toString('latin1')), ['f'], format);
    }
    await writeFile(`${dir}/big`, Buffer.alloc(30000, 7));
    await run('tar', ['-c', '--format=gnu', '-M', '-L', '20', '-f', `${dir}/vol1.tar`, '-f', `${dir}/vol2.tar`, '-C', dir, 'big']);
    assert.match((await rejection(list(`${dir}/vol2.tar`))).message, /continues a multi-volume set.*"M---------/);
    assert.match((await rejection(list(`${dir}/vol1.tar`))).message, /exited with status 2: tar: Unexpected EOF in archive/);
  });


});

// ---------------------------------------------------------------------------------------------
// The child process: failures, streaming, abort

const LINE = '-rw-r--r-- 0/0 1 2020-01-01 00:00:00';

/** A stand-in for tar: a shell script (the listing's lines are what the test wants to feed). */
async function fakeTar(body: string): Promise<string> {
  const file = path.join(await caseDir(), 'fake-tar');
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

describe('listWithGnuTar as a child process', () => {
  it('rejects with tar\'s own message when the archive is missing or no archive', async () => {
    const dir = await caseDir();
    assert.match((await rejection(list(`${dir}/missing.tar`))).message, /GNU tar could not list .*missing\.tar: it exited with status 2: tar: .*Cannot open: No such file or directory/);
    await writeFile(`${dir}/bad.tar.gz`, 'not gzip at all');
    assert.match((await rejection(list(`${dir}/bad.tar.gz`))).message, /bad\.tar\.gz: it exited with status 2: .*(gzip|does not look like a tar archive)/s);
  });

  it('says so when tar is not installed', async () => {
    const err = await rejection(listWithGnuTar('/x.tar', () => {}, { tarCommand: '/nonexistent/tar' }));
    assert.match(err.message, /cannot list \/x\.tar with GNU tar: running "\/nonexistent\/tar" failed .*ENOENT.*is GNU tar installed\?/);
  });

  it('runs tar in the C locale with the listing options and without TAR_OPTIONS', async () => {
    const tar = await fakeTar(`[ "$LC_ALL" = C ] && [ -z "\${TAR_OPTIONS+set}" ] || { echo "env: LC_ALL=$LC_ALL TAR_OPTIONS=$TAR_OPTIONS" >&2; exit 9; }
echo "$*" | grep -q -- '--list --verbose --numeric-owner --full-time --utc --quoting-style=c --absolute-names --force-local' || { echo "args: $*" >&2; exit 9; }
for last; do :; done; [ "$last" = /some/archive.tar.gz ] || { echo "archive: $last" >&2; exit 8; }
echo '${LINE} "a"'`);
    const saved = process.env.TAR_OPTIONS;
    process.env.TAR_OPTIONS = '--verbose';
    try {
      assert.deepEqual(await listWithGnuTar('/some/archive.tar.gz', () => {}, { tarCommand: tar }), { entries: 1 });
    } finally {
      if (saved === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = saved;
    }
  });

  it('delivers each entry while tar still runs (streaming), and ignores stderr when tar exits 0', async () => {
    const flag = path.join(await caseDir(), 'first-seen');
    const tar = await fakeTar(`echo '${LINE} "first"'
echo 'tar: a warning' >&2
i=0; while [ ! -e '${flag}' ]; do i=$((i+1)); [ $i -gt 250 ] && { echo 'the first entry was never delivered' >&2; exit 1; }; sleep 0.02; done
echo '${LINE} "second"'`);
    const names: string[] = [];
    const result = await listWithGnuTar('/a.tar', (e) => {
      names.push(e.name.toString());
      if (names.length === 1) writeFileSync(flag, '');
    }, { tarCommand: tar });
    assert.deepEqual([result, names], [{ entries: 2 }, ['first', 'second']]);
  });

  it('reassembles lines cut across reads, and refuses a last line without its newline', async () => {
    const many = await fakeTar(`i=0; while [ $i -lt 3000 ]; do echo '${LINE} "entry number '$i' with a longish name to span pipe reads"'; i=$((i+1)); done`);
    let n = 0;
    await listWithGnuTar('/a.tar', (e) => {
      assert.equal(e.name.toString(), `entry number ${n++} with a longish name to span pipe reads`);
    }, { tarCommand: many });
    assert.equal(n, 3000);
    const cut = await fakeTar(`printf '%s' '${LINE} "a"'`);
    assert.match((await rejection(listWithGnuTar('/a.tar', () => {}, { tarCommand: cut }))).message, /ends inside a line: "-rw-r--r-- 0\/0 1 2020-01-01 00:00:00 "a""$/);
  });

  it('rejects on exit status, with the entries before it delivered and stderr in the message', async () => {
    const tar = await fakeTar(`echo '${LINE} "a"'; echo '  tar: something broke  ' >&2; exit 3`);
    const names: string[] = [];
    const err = await rejection(listWithGnuTar('/a.tar', (e) => names.push(e.name.toString()), { tarCommand: tar }));
    assert.equal(err.message, 'GNU tar could not list /a.tar: it exited with status 3: tar: something broke');
    assert.deepEqual(names, ['a']);
  });

  it('rejects an unreadable line, quoting it, and kills tar', async () => {
    const tar = await fakeTar(`echo '${LINE} "a"'; printf 'what\\001 "is" this\\n'; exec sleep 30`);
    const started = Date.now();
    const err = await rejection(listWithGnuTar('/a.tar', () => {}, { tarCommand: tar }));
    assert.match(err.message, /^cannot read line 2 of GNU tar's listing of \/a\.tar: not a line of GNU tar's verbose listing .*: "what\\x01 "is" this"$/);
    assert.ok(Date.now() - started < 10_000, 'tar was killed');
  });

  it('kills tar and rejects when aborted, or when onEntry throws', async () => {
    const tar = await fakeTar(`echo '${LINE} "a"'; exec sleep 30`);
    const started = Date.now();
    const ac = new AbortController();
    const aborted = await rejection(listWithGnuTar('/a.tar', () => ac.abort(new Error('shutdown')), { tarCommand: tar, signal: ac.signal }));
    assert.equal(aborted.name, 'AbortError');
    assert.match(aborted.message, /listing \/a\.tar with GNU tar was aborted/);
    assert.equal((aborted.cause as Error).message, 'shutdown');

    const mine = new Error('consumer failed');
    assert.equal(await rejection(listWithGnuTar('/a.tar', () => { throw mine; }, { tarCommand: tar })), mine);
    assert.ok(Date.now() - started < 10_000, 'tar was killed both times');

    const already = AbortSignal.abort();
    assert.equal((await rejection(listWithGnuTar('/a.tar', () => {}, { tarCommand: '/nonexistent/tar', signal: already }))).name, 'AbortError');
  });
});
