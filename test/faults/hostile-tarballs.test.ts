/**
 * Fault: hostile tarballs in BACKUP_DIR (copied in by hand, or by someone who can write there),
 * each restored through the API (POST /api/restores + confirm, as an admin would). Every one must
 * be refused as a whole (symlinks that point anywhere are not hostile on their own: GNU tar
 * restores them, and so do we; what is refused is writing through one): the restore fails, the volume is byte-identical afterwards, and nothing
 * anywhere in the test's directory tree outside BACKUP_DIR changed (a bait directory next to the
 * volumes is where the escapes aim), nor at the absolute paths the archives name.
 *
 * The archives are built byte by byte (test/helpers/tar-raw.ts), so they hold exactly what no
 * honest tool writes.
 */
import assert from 'node:assert/strict';
import { lstat, mkdir, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { verifyVolumeArchive } from '../../src/engine/verify/archive-verification.js';
import { createLogger } from '../../src/runtime/logger.js';
import { assertSameSnapshot, backupNames, pySnapshot, requestAndConfirm, restoreFinished, type SnapEntry } from '../helpers/faults.js';
import { makeFixture, startService, type Fixture, type Service } from '../helpers/service.js';
import { paxBody, paxEntry, rawArchive, rawEntry, type RawFields } from '../helpers/tar-raw.js';
import { exec, makeVolume } from '../helpers/volumes.js';

const VOLUME = 'lucindadata';
const silent = createLogger('silent');
const MTIME = 1704067200; // 2024-01-01

const root = () => rawEntry({ name: './', type: '5', mode: 0o755, mtime: MTIME });
const file = (name: string | Buffer, body = 'x\n', more: Partial<RawFields> = {}) => rawEntry({ name, type: '0', mtime: MTIME, ...more }, body);
const dir = (name: string) => rawEntry({ name, type: '5', mode: 0o755, mtime: MTIME });
const symlink = (name: string, target: string | Buffer) => rawEntry({ name, type: '2', linkname: target, mode: 0o777, mtime: MTIME });
const hardlink = (name: string, target: string) => rawEntry({ name, type: '1', linkname: target, mtime: MTIME });
/** An entry named by a pax header (the ustar name is a harmless placeholder). */
const paxNamed = (name: string | Buffer, body = 'x\n') => Buffer.concat([paxEntry([['path', name]]), file('./placeholder', body)]);
/** A GNU long name entry (`././@LongLink`, type L) naming the entry after it. */
const gnuLongNamed = (name: Buffer) =>
  Buffer.concat([
    rawEntry({ name: '././@LongLink', type: 'L', format: 'gnu' }, Buffer.concat([name, Buffer.from([0])])),
    rawEntry({ name: name.subarray(0, 99), type: '0', format: 'gnu', mtime: MTIME }, 'x\n'),
  ]);
/** The pax record `<len> key=value\n` as it would appear inside another record's value. */
const record = (key: string, value: string) => paxBody([[key, value]]).toString('latin1');

describe('hostile tarballs restored through the API', () => {
  let fx: Fixture;
  let svc: Service;
  let outside: string;
  const vol = () => path.join(fx.volumesDir, VOLUME);
  /** Everything under the test's root but BACKUP_DIR (where the archives are put). */
  const world = async () => (await pySnapshot(fx.root)).filter((e) => !/^6261636b7570(2f|$)/.test(e.path));

  /** name → the archive's tar stream (gzipped when written), and what its refusal says. */
  let cases: { name: string; tar: Buffer | (() => Buffer); gzipped?: Buffer; reason: RegExp }[];

  before(async () => {
    fx = await makeFixture();
    await makeVolume(vol(), VOLUME);
    outside = path.join(fx.root, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'bait.txt'), 'must not change\n');
    const out = (rel: string) => path.relative(vol(), path.join(outside, rel)); // ../../outside/<rel>
    const abs = (rel: string) => path.join(outside, rel);
    cases = [
      { name: 'absolute path', tar: rawArchive(root(), file(abs('abs-pwned'))), reason: /is absolute/ },
      { name: '".." path', tar: rawArchive(root(), file(out('dotdot-pwned'))), reason: /"\.\." component/ },
      { name: '".." inside a path (./a/../../x)', tar: rawArchive(root(), dir('./a/'), file(`./a/../../${out('x')}`)), reason: /"\.\." component/ },
      { name: 'symlink to an absolute directory, then a file below it', tar: rawArchive(root(), symlink('./l', outside), file('./l/pwned')), reason: /goes through the symlink "l"/ },
      { name: 'symlink up and out, then a file below it', tar: rawArchive(root(), symlink('./up', '../..'), file('./up/outside/pwned')), reason: /goes through the symlink "up"/ },
      {
        name: 'symlink chain d -> ., e -> d/.., then a hard link through it',
        tar: rawArchive(root(), symlink('./d', '.'), symlink('./e', 'd/..'), hardlink('./pw', './e/bait.txt')),
        reason: /goes through the symlink "e"/,
      },
      { name: 'hard link to /etc/passwd', tar: rawArchive(root(), hardlink('./pw', '/etc/passwd')), reason: /is absolute/ },
      { name: 'hard link to ../../outside/bait.txt', tar: rawArchive(root(), hardlink('./bait', out('bait.txt'))), reason: /"\.\." component/ },
      { name: 'hard link to an entry not extracted before', tar: rawArchive(root(), hardlink('./pw', 'later'), file('./later')), reason: /not extracted before/ },
      { name: 'character device /dev/null', tar: rawArchive(root(), rawEntry({ name: './null', type: '3', mtime: MTIME })), reason: /character device/ },
      { name: 'block device', tar: rawArchive(root(), rawEntry({ name: './sda', type: '4', mtime: MTIME })), reason: /block device/ },
      { name: 'FIFO', tar: rawArchive(root(), rawEntry({ name: './fifo', type: '6', mtime: MTIME })), reason: /FIFO/ },
      { name: 'file below a symlink of the archive', tar: rawArchive(root(), dir('./sub/'), symlink('./inner', 'sub'), file('./inner/x')), reason: /through the symlink/ },
      { name: 'the root entry is a symlink', tar: rawArchive(symlink('.', outside)), reason: /archive root|absolute/ },
      { name: 'NUL in a pax path', tar: rawArchive(root(), paxNamed('./evil\0name')), reason: /NUL byte/ },
      {
        name: 'a pax path record smuggled in a file name',
        tar: rawArchive(root(), paxNamed(`./notes\n${record('path', `../../${out('smuggled-pwned')}`)}`)),
        reason: /"\.\." component/,
      },
      { name: 'pax path overriding a harmless ustar name', tar: rawArchive(root(), paxNamed(out('pax-pwned'))), reason: /"\.\." component/ },
      {
        name: 'two pax headers in a row, the last one hostile (GNU tar applies only the last)',
        tar: rawArchive(root(), paxEntry([['path', './harmless']]), paxEntry([['path', out('second-pax-pwned')]]), file('./placeholder')),
        reason: /"\.\." component/,
      },
      { name: 'pax global header with a hostile path', tar: rawArchive(root(), paxEntry([['path', out('global-pwned')]], 'g'), file('./placeholder')), reason: /"\.\." component/ },
      { name: 'huge pax header (16 MiB)', tar: () => rawArchive(root(), paxEntry([['comment', 'c'.repeat(16 * 1024 * 1024)]]), file('./x')), reason: /extended header of \d+ bytes/ },
      {
        name: 'huge GNU long name (16 MiB)',
        tar: () => rawArchive(root(), rawEntry({ name: '././@LongLink', type: 'L', format: 'gnu' }, 'n'.repeat(16 * 1024 * 1024)), rawEntry({ name: './x', format: 'gnu' })),
        reason: /extended header of \d+ bytes/,
      },
      // 512 MiB of zeros, 0.5 MiB gzipped: to GNU tar an empty archive (it ends at the first zero blocks).
      { name: 'decompression bomb-like zero stream (512 MiB of zeros)', tar: Buffer.alloc(0), gzipped: zeroStream(512), reason: /no entries/ },
    ];
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('refuses each one as a whole: the restore fails, the volume and everything outside BACKUP_DIR are unchanged', async (t) => {
    for (const [i, c] of cases.entries()) {
      const stamp = `2020-01-01-${String(Math.floor(i / 60)).padStart(2, '0')}${String(i % 60).padStart(2, '0')}`;
      await writeFile(path.join(fx.backupDir, `${VOLUME}_${stamp}.tar.gz`), c.gzipped ?? gzipSync(typeof c.tar === 'function' ? c.tar() : c.tar));
    }
    svc = await startService('start', fx.env);
    const passwd = await stat('/etc/passwd');
    const refusals: string[] = [];
    for (const [i, c] of cases.entries()) {
      const stamp = `2020-01-01-${String(Math.floor(i / 60)).padStart(2, '0')}${String(i % 60).padStart(2, '0')}`;
      const before: SnapEntry[] = await world();
      const backupBefore = await backupNames(fx.backupDir);
      const r = await requestAndConfirm(svc.url, { stamp, volumes: [VOLUME] });
      const done = await restoreFinished(svc.url, r.id, 120_000);
      assert.equal(done.state, 'failed', `${c.name}: the restore ${done.state}`);
      assert.match(done.failedReason, /nothing was changed/, `${c.name}: ${done.failedReason}`);
      assert.match(done.failedReason, c.reason, `${c.name}: ${done.failedReason}`);
      assertSameSnapshot(before, await world(), `${c.name}: something changed outside BACKUP_DIR`);
      assert.deepEqual(await backupNames(fx.backupDir), backupBefore, `${c.name}: BACKUP_DIR changed`);
      refusals.push(`${c.name}: ${done.failedReason.replace(/^.*nothing was changed: /, '')}`);
    }
    const after = await stat('/etc/passwd');
    assert.deepEqual([after.size, after.mtimeMs, after.ino], [passwd.size, passwd.mtimeMs, passwd.ino]);
    await assert.rejects(lstat(path.join(outside, 'abs-pwned')), /ENOENT/);
    t.diagnostic(`${cases.length} hostile tarballs, ${refusals.length} refused before live data was touched:`);
    for (const r of refusals) t.diagnostic(`  ${r}`);
    assert.equal(refusals.length, cases.length);
  });

  it('verification refuses an archive without any entry (the zero stream above, a tar of nothing), not an empty volume\'s', async () => {
    const d = path.join(fx.root, 'no-entries');
    await mkdir(path.join(d, 'empty-volume'), { recursive: true });
    await writeFile(path.join(d, 'zeros.tar.gz'), zeroStream(64));
    await writeFile(path.join(d, 'nothing.tar.gz'), gzipSync(Buffer.alloc(10240)));
    for (const f of ['zeros.tar.gz', 'nothing.tar.gz']) {
      await assert.rejects(verifyVolumeArchive(path.join(d, f), { logger: silent }), /holds no entries.*no backup of a volume/);
    }
    // GNU tar's archive of an empty volume holds its root "./": a valid backup of an empty volume.
    await exec('tar', ['-C', path.join(d, 'empty-volume'), '-czf', path.join(d, 'empty.tar.gz'), '.']);
    assert.equal((await verifyVolumeArchive(path.join(d, 'empty.tar.gz'), { logger: silent })).entries, 1);
  });

  it('symlinks pointing anywhere are data: restored exactly as GNU tar restores them, nothing written through them', async () => {
    // What a real volume holds (an absolute `localtime`, a link to a sibling volume) and what
    // chains of links make of it: all restored as symlinks; no entry is written through one.
    const tar = rawArchive(
      root(),
      symlink('./localtime', '/usr/share/zoneinfo/UTC'),
      symlink('./bait', path.join(outside, 'bait.txt')),
      symlink('./up', '../..'),
      dir('./a/'),
      dir('./a/b/'),
      symlink('./a/b/up', '../../../outside'),
      symlink('./d', '.'),
      symlink('./e', 'd/..'),
      dir('./x/'),
      symlink('./x/d', '..'),
      symlink('./x/e', 'd/..'),
      dir('./sub/'),
      symlink('./sub/s', '../x'),
      hardlink('./s2', './sub/s'),
      Buffer.concat([paxEntry([['linkpath', '/']]), symlink('./l', 'harmless')]),
      file('./data.txt', 'kept\n'),
    );
    const stamp = '2020-01-02-0100';
    const archive = path.join(fx.backupDir, `${VOLUME}_${stamp}.tar.gz`);
    await writeFile(archive, gzipSync(tar));
    const gnu = path.join(fx.root, 'gnu-tar-symlinks');
    await mkdir(gnu);
    await exec('tar', ['-C', gnu, '--numeric-owner', '-xpzf', archive]);
    const worldBefore = await world();
    const r = await requestAndConfirm(svc.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const done = await restoreFinished(svc.url, r.id);
    assert.equal(done.state, 'completed', done.failedReason);
    const restored = await pySnapshot(vol());
    assertSameSnapshot(await pySnapshot(gnu), restored, "the restored volume and GNU tar's extraction");
    assert.equal((await readlink(path.join(vol(), 'localtime'))), '/usr/share/zoneinfo/UTC');
    assert.equal((await readlink(path.join(vol(), 'l'))), '/');
    assert.equal((await lstat(path.join(vol(), 's2'))).ino, (await lstat(path.join(vol(), 'sub', 's'))).ino, 'the hard link to a symlink is one inode');
    // Outside the volume (and its GNU tar twin) nothing changed.
    const elsewhere = (snap: SnapEntry[]) => snap.filter((e) => !isUnder(e.path, ['volumes', 'gnu-tar-symlinks']));
    assert.ok(elsewhere(worldBefore).length > 0);
    assertSameSnapshot(
      elsewhere(worldBefore),
      elsewhere(await world()),
      'outside the volume',
    );
  });

  it('crafted names that stay inside are read as GNU tar reads them and restored exactly, nothing outside', async () => {
    // A newline-splitting reader (node-tar) reads this pax value as path "notes" followed by a
    // record path=../escape, and writes to ../escape; GNU tar and the service read one name.
    const smuggled = `./notes\n${record('path', '../escape')}`;
    const tar = rawArchive(
      root(),
      Buffer.concat([paxEntry([['path', `${smuggled.slice(0, smuggled.lastIndexOf('/'))}/`]]), dir('./placeholder/')]),
      paxNamed(smuggled, 'inside\n'),
      // A GNU long name is a C string: GNU tar ends it at the first NUL, and so does the service;
      // the hostile tail after the NUL is never a name.
      gnuLongNamed(Buffer.from(`./${'n'.repeat(120)}\0/../../outside/nul-pwned`)),
    );
    const stamp = '2020-01-02-0000';
    const archive = path.join(fx.backupDir, `${VOLUME}_${stamp}.tar.gz`);
    await writeFile(archive, gzipSync(tar));
    const gnu = path.join(fx.root, 'gnu-tar-extract');
    await mkdir(gnu);
    await exec('tar', ['-C', gnu, '--numeric-owner', '-xpzf', archive]);
    const outsideBefore = await pySnapshot(outside);
    const r = await requestAndConfirm(svc.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const done = await restoreFinished(svc.url, r.id);
    assert.equal(done.state, 'completed', done.failedReason);
    const restored = await pySnapshot(vol());
    assertSameSnapshot(await pySnapshot(gnu), restored, "the restored volume and GNU tar's extraction");
    assert.equal(restored.length, 4, JSON.stringify(restored.map((e) => Buffer.from(e.path, 'hex').toString('latin1'))));
    assertSameSnapshot(outsideBefore, await pySnapshot(outside), 'the bait directory');
    for (const p of [path.join(fx.volumesDir, 'escape'), path.join(fx.root, 'escape'), path.join(outside, 'nul-pwned')]) await assert.rejects(lstat(p), /ENOENT/);
  });
});

/** Whether a snapshot path (hex bytes, relative to the test's root) is one of `dirs` or below one. */
function isUnder(hexPath: string, dirs: string[]): boolean {
  return dirs.some((d) => {
    const h = Buffer.from(d).toString('hex');
    return hexPath === h || hexPath.startsWith(`${h}2f`);
  });
}

/** `mib` MiB of zero bytes, gzipped, built without holding them all at once. */
function zeroStream(mib: number): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024));
  return Buffer.concat(Array.from({ length: mib / 64 }, () => member));
}
