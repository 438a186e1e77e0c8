import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, chown, link, lstat, mkdir, readFile, readdir, readlink, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { caseDirs } from '../helpers/case-dirs.js';
import { tarBuffer, writeTarGz, type TestEntry } from '../helpers/tar-build.js';
import { archiveVolume } from '../../src/engine/archive/archive-volume.js';
import {
  ArchiveError,
  extractArchive,
  HostileArchiveError,
  verifyArchive,
  type ExtractProgress,
  type ExtractResult,
} from '../../src/engine/extract/extract-archive.js';
import { assertSameTree, hashFile, ignoreRoot, snapshotTree } from '../helpers/tree.js';
import { exec, gnuTarArchive, makeVolume } from '../helpers/volumes.js';

const silent = pino({ level: 'silent' });
const isRoot = process.getuid?.() === 0;

const { caseDir, root: tmpRoot } = caseDirs('oob-extract-');
let stagingNo = 0;

/** makeVolume plus the awkward parts: hard link, dangling symlink, foreign owner, setuid, long names, dir modes and mtimes, root meta. */
async function buildVolume(vol: string): Promise<void> {
  await mkdir(vol, { recursive: true });
  await makeVolume(vol, 'extract');
  const p = (rel: string) => path.join(vol, rel);
  await link(p('readme.txt'), p('nested/hard-link-to-readme'));
  await symlink('does/not/exist', p('dangling'));
  await writeFile(p('nested/owned.txt'), 'owned by 1234:5678\n');
  await chown(p('nested/owned.txt'), 1234, 5678);
  await writeFile(p('nested/setuid'), '#!/bin/sh\n');
  await chmod(p('nested/setuid'), 0o4755);
  // > 100 characters: GNU long names (GNU tar) and pax headers (our writer).
  const longDir = p(`long/${'d'.repeat(60)}/${'e'.repeat(60)}`);
  await mkdir(longDir, { recursive: true });
  await writeFile(path.join(longDir, `${'f'.repeat(120)}.txt`), 'long\n');
  await symlink(`${'e'.repeat(60)}/${'f'.repeat(120)}.txt`, p(`long/${'d'.repeat(60)}/long-target-link`));
  await mkdir(p('private'), { mode: 0o750 });
  await chmod(p('private'), 0o750);
  await writeFile(p('private/x'), 'x\n');
  await chown(p('private'), 1234, 5678);
  // Directory modes the restore cannot create directly: no write permission for the owner (it must
  // fill it first), setgid and sticky (mkdir does not set them reliably).
  await mkdir(p('read-only'));
  await writeFile(p('read-only/inside.txt'), 'inside\n');
  await chmod(p('read-only'), 0o555);
  await mkdir(p('shared'));
  await chmod(p('shared'), 0o2775);
  await mkdir(p('sticky'));
  await chmod(p('sticky'), 0o1777);
  // Directory mtimes last (creating entries bumps them); the root too.
  await utimes(p('nested/deeper'), new Date('2010-01-02T03:04:05Z'), new Date('2010-01-02T03:04:05Z'));
  await utimes(p('empty-dir'), new Date('2011-01-02T03:04:05Z'), new Date('2011-01-02T03:04:05Z'));
  await utimes(p('private'), new Date('2012-01-02T03:04:05Z'), new Date('2012-01-02T03:04:05Z'));
  await utimes(p('read-only'), new Date('2014-01-02T03:04:05Z'), new Date('2014-01-02T03:04:05Z'));
  await chmod(vol, 0o751);
  await utimes(vol, new Date('2013-01-02T03:04:05Z'), new Date('2013-01-02T03:04:05Z'));
}

/** The staging root is not the volume root: its own mode, owner and mtime are not compared (rootMeta is). */

async function assertRestored(vol: string, staging: string, r: ExtractResult): Promise<void> {
  assertSameTree(await snapshotTree(vol), await snapshotTree(staging), { ignore: ignoreRoot });
  const root = await stat(vol);
  assert.ok(r.rootMeta, 'rootMeta');
  assert.equal(r.rootMeta.mode, root.mode & 0o7777);
  assert.equal(r.rootMeta.uid, root.uid);
  assert.equal(r.rootMeta.gid, root.gid);
  assert.equal(r.rootMeta.mtimeSec, Math.floor(root.mtimeMs / 1000));
  // Still one inode.
  const [a, b] = await Promise.all([stat(path.join(staging, 'readme.txt')), stat(path.join(staging, 'nested/hard-link-to-readme'))]);
  assert.equal(a.ino, b.ino);
  assert.equal((await stat(staging)).mode & 0o7777, 0o700);
}


async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.match(err.message, re);
    return true;
  });
}

const ROOT_ENTRY: TestEntry = { path: './', type: 'Directory', mode: 0o755 };

/** Small files written on the calling thread, or every one of them through the writer threads (extract-writers.ts). */
const MODES = [
  ['main thread', { writers: { threads: 0 } }],
  ['writer threads', { writers: { threads: 2, slowOpenMicros: 0, waitUntilReady: true } }],
] as const;

describe('extractArchive / verifyArchive: round trips', () => {
  for (const [mode, writers] of MODES) {
    it(`reproduces a volume archived by GNU tar (${mode})`, { skip: !isRoot && 'needs root (chown)' }, async () => {
      const d = await caseDir();
      const vol = path.join(d, 'vol');
      await buildVolume(vol);
      const archive = path.join(d, 'gnu.tar.gz');
      await gnuTarArchive(vol, archive);
      const sha = await hashFile(archive);

      const v = await verifyArchive(archive, { expectedSha256: sha, logger: silent });
      assert.equal(v.sha256, sha);
      const staging = path.join(d, 'staging');
      const calls: ExtractProgress[] = [];
      const r = await extractArchive(archive, staging, { ...writers, expectedSha256: sha, logger: silent, onProgress: (p) => calls.push(p) });
      assert.equal(r.sha256, sha);
      assert.deepEqual({ ...r, rootMeta: undefined, threadedFiles: 0 }, { ...v, rootMeta: undefined });
      // All but data.bin (200 kB, written by the main thread) and the hard link went through the threads.
      assert.equal(r.threadedFiles, writers.writers.threads > 0 ? 8 : 0);
      await assertRestored(vol, staging, r);

      const size = (await stat(archive)).size;
      assert.deepEqual(calls.at(-1), { bytesDone: size, bytesTotal: size, entries: r.entries });
      const listed = (await exec('tar', ['-tzf', archive])).stdout.split('\n').filter(Boolean);
      assert.equal(r.entries, listed.length);
      // readme, data.bin, zero-bytes, secret.cnf, hard link, owned, setuid, long file, private/x, read-only/inside.txt
      assert.equal(r.files, 10);
    });

    it(`reproduces a volume archived by our own writer (pax headers) (${mode})`, { skip: !isRoot && 'needs root (chown)' }, async () => {
      const d = await caseDir();
      const vol = path.join(d, 'vol');
      await buildVolume(vol);
      const backup = path.join(d, 'backup');
      await mkdir(backup);
      const a = await archiveVolume({ volume: 'vol', volumeDir: vol, backupDir: backup, fileName: 'vol.tar.gz', gzipLevel: 6, logger: silent });
      const staging = path.join(d, 'staging');
      const r = await extractArchive(a.path, staging, { ...writers, expectedSha256: a.sha256, logger: silent });
      assert.equal(r.sha256, a.sha256);
      assert.equal(r.entries, a.entries);
      assert.equal(r.bytes, a.bytesRead); // a hard link's content is stored (and counted) once
      await assertRestored(vol, staging, r);
    });

    it(`sets the archived modes under a default POSIX ACL, as GNU tar -p does (${mode})`, async () => {
      // A share's directory with a default ACL (acl(5)): the umask no longer applies, the ACL takes
      // bits away from every mode asked for at creation (an audit found 0755 -> 0750, 0644 -> 0640).
      const d = await caseDir();
      const vol = path.join(d, 'vol');
      await mkdir(path.join(vol, 'patients/2026'), { recursive: true });
      const modes: [string, number][] = [['patients/brief.txt', 0o644], ['patients/2026/scan.pdf', 0o664], ['patients/open.txt', 0o666], ['patients/own.txt', 0o600], ['patients/2026', 0o775], ['patients', 0o755]];
      for (const [rel, m] of modes) {
        if (rel.includes('.')) await writeFile(path.join(vol, rel), `${rel}\n`);
        await chmod(path.join(vol, rel), m);
      }
      const archive = path.join(d, 'gnu.tar.gz');
      await gnuTarArchive(vol, archive);
      const share = path.join(d, 'share');
      await mkdir(share);
      await exec('setfacl', ['-d', '-m', 'u::rwx,g::r-x,o::---', share]);
      const staging = path.join(share, 'staging');
      await extractArchive(archive, staging, { ...writers, logger: silent });
      const gnu = path.join(share, 'gnu');
      await mkdir(gnu);
      await exec('tar', ['-xzpf', archive, '-C', gnu]);
      for (const [rel, m] of modes) {
        assert.equal(((await lstat(path.join(gnu, rel))).mode & 0o7777).toString(8), m.toString(8), `GNU tar: ${rel}`);
        assert.equal(((await lstat(path.join(staging, rel))).mode & 0o7777).toString(8), m.toString(8), rel);
      }
      assert.deepEqual((await readdir(staging)).filter((n) => n.startsWith('.oob-')), [], 'no probe left behind');
    });

    it('accepts a tar stream without the end-of-archive blocks, as GNU tar does', async () => {
      const d = await caseDir();
      const archive = path.join(d, 'noeof.tar.gz');
      await writeFile(archive, gzipSync(tarBuffer([ROOT_ENTRY, { path: './a.txt', type: 'File', body: 'hello\n' }], { eof: false })));
      const r = await extractArchive(archive, path.join(d, 'staging'), { logger: silent });
      assert.equal(r.files, 1);
      assert.equal(await readFile(path.join(d, 'staging/a.txt'), 'utf8'), 'hello\n');
    });

    it(`creates parent directories the archive does not list, and replaces an earlier entry without following it (${mode})`, async () => {
      const d = await caseDir();
      const archive = await writeTarGz(path.join(d, 'x.tar.gz'), [
        { path: 'a/b/c.txt', type: 'File', body: 'c\n' },
        { path: 't', type: 'File', body: 'orig\n' },
        { path: 's', type: 'SymbolicLink', linkpath: 't' },
        { path: 's', type: 'File', body: 'new\n' },
      ]);
      const staging = path.join(d, 'staging');
      const r = await extractArchive(archive, staging, { ...writers, logger: silent });
      assert.equal(r.rootMeta, undefined);
      assert.equal(await readFile(path.join(staging, 'a/b/c.txt'), 'utf8'), 'c\n');
      assert.equal(await readFile(path.join(staging, 't'), 'utf8'), 'orig\n');
      assert.ok((await lstat(path.join(staging, 's'))).isFile());
      assert.equal(await readFile(path.join(staging, 's'), 'utf8'), 'new\n');
    });
  }

  it('has no decompression ratio limit by default; maxDecompressionRatio refuses', async () => {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await mkdir(vol);
    await writeFile(path.join(vol, 'ibdata1'), '');
    await truncate(path.join(vol, 'ibdata1'), 64 * 1024 * 1024); // zeros: compresses ~1000x
    const archive = path.join(d, 'zeros.tar.gz');
    await gnuTarArchive(vol, archive);
    await verifyArchive(archive, { logger: silent });
    await assert.rejects(verifyArchive(archive, { logger: silent, maxDecompressionRatio: 100 }), /decompresses by more than 100x/);
  });

  it('stops on abort', async () => {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await buildVolume(vol);
    const archive = path.join(d, 'a.tar.gz');
    await gnuTarArchive(vol, archive);
    await assert.rejects(extractArchive(archive, path.join(d, 'staging'), { logger: silent, signal: AbortSignal.abort() }), /abort/i);
    const ac = new AbortController();
    const p = extractArchive(archive, path.join(d, 'staging2'), {
      logger: silent,
      onProgress: () => ac.abort(),
      signal: ac.signal,
    });
    await assert.rejects(p, /aborted/);
  });

  for (const [mode, writers] of MODES) {
    it(`never makes its staging directory again once someone removed it (a frozen restore that wakes up) (${mode})`, async () => {
      const d = await caseDir();
      // Files whose directories the archive does not list: each needs its parents made.
      const entries: TestEntry[] = [ROOT_ENTRY, ...Array.from({ length: 40 }, (_, i): TestEntry => ({ path: `./dir${i}/doc${i}`, type: 'File', body: `doc ${i}\n` }))];
      const archive = await writeTarGz(path.join(d, 'x.tar.gz'), entries);
      const staging = path.join(d, 'vol', '.oob-restore-x', 'tree');
      await mkdir(path.dirname(staging), { recursive: true });
      let removed = false;
      const p = extractArchive(archive, staging, {
        ...writers,
        logger: silent,
        onEntry: (e) => {
          if (!removed && e.name === './dir3/doc3') {
            removed = true;
            rmSync(path.dirname(staging), { recursive: true, force: true }); // what the other worker's recovery did
          }
        },
      });
      await assert.rejects(p, /ENOENT/);
      assert.ok(removed);
      assert.deepEqual(await readdir(path.join(d, 'vol')), [], 'nothing made again in the volume');
    });
  }

  it('refuses an existing staging directory', async () => {
    const d = await caseDir();
    const archive = await writeTarGz(path.join(d, 'x.tar.gz'), [ROOT_ENTRY]);
    await mkdir(path.join(d, 'staging'));
    await assert.rejects(extractArchive(archive, path.join(d, 'staging'), { logger: silent }), /staging directory .* already exists/);
  });
});

describe('extractArchive / verifyArchive: damaged archives', () => {
  async function goodArchive(): Promise<{ d: string; archive: string; sha: string; bytes: Buffer }> {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await mkdir(vol);
    await makeVolume(vol, 'damaged');
    const archive = path.join(d, 'good.tar.gz');
    await gnuTarArchive(vol, archive);
    return { d, archive, sha: await hashFile(archive), bytes: await readFile(archive) };
  }

  async function expectRejected(d: string, archive: string, re: RegExp, expectedSha256?: string) {
    for (const sha of [undefined, expectedSha256]) {
      const o = { logger: silent, expectedSha256: sha };
      await assert.rejects(verifyArchive(archive, o), (err: Error) => {
        assert.match(err.message, re);
        return true;
      });
      const staging = path.join(d, `staging-${++stagingNo}`);
      await assert.rejects(extractArchive(archive, staging, o), (err: Error) => {
        assert.match(err.message, re);
        return true;
      });
    }
  }

  it('rejects a flipped byte as corrupt', async () => {
    const { d, sha, bytes } = await goodArchive();
    const bad = Buffer.from(bytes);
    const mid = Math.floor(bad.length / 2);
    bad[mid] = bad[mid]! ^ 0xff;
    const archive = path.join(d, 'flipped.tar.gz');
    await writeFile(archive, bad);
    await expectRejected(d, archive, /^archive is corrupt: /, sha);
  });

  it('rejects an archive cut at 60% as truncated', async () => {
    const { d, sha, bytes } = await goodArchive();
    const archive = path.join(d, 'cut.tar.gz');
    await writeFile(archive, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expectRejected(d, archive, /^archive is truncated: the gzip data of cut\.tar\.gz ends unexpectedly/, sha);
  });

  it('rejects a complete gzip of a tar cut inside a file or inside a header', async () => {
    const d = await caseDir();
    const tar = tarBuffer([ROOT_ENTRY, { path: './big', type: 'File', body: randomBytes(10_000) }, { path: './after', type: 'File', body: 'x' }]);
    const inFile = path.join(d, 'in-file.tar.gz');
    await writeFile(inFile, gzipSync(tar.subarray(0, 512 * 6)));
    await expectRejected(d, inFile, /^archive is truncated: /);
    const inHeader = path.join(d, 'in-header.tar.gz');
    await writeFile(inHeader, gzipSync(tar.subarray(0, 512 * 22 + 100))); // root + big (1 + 20 blocks), then part of a header
    await expectRejected(d, inHeader, /^archive is truncated: the tar data .* ends in the middle of a block/);
  });

  it('rejects a tar header checksum error', async () => {
    const d = await caseDir();
    const tar = tarBuffer([ROOT_ENTRY, { path: './a', type: 'File', body: 'a' }, { path: './b', type: 'File', body: 'b' }]);
    tar[512 * 3 + 10] = 0x41; // inside the name field of ./b
    const archive = path.join(d, 'cksum.tar.gz');
    await writeFile(archive, gzipSync(tar));
    await expectRejected(d, archive, /^archive is corrupt: tar header checksum error .* after entry "\.\/a"/);
  });

  it('rejects a truncated second gzip member', async () => {
    const d = await caseDir();
    const tar = tarBuffer([ROOT_ENTRY, { path: './a', type: 'File', body: randomBytes(5000) }]);
    const second = gzipSync(tar.subarray(2048));
    const archive = path.join(d, 'multi-cut.tar.gz');
    await writeFile(archive, Buffer.concat([gzipSync(tar.subarray(0, 2048)), second.subarray(0, second.length - 10)]));
    await expectRejected(d, archive, /^archive is truncated: /);
  });

  it('rejects a good archive with the wrong expected checksum', async () => {
    const { d, archive, sha } = await goodArchive();
    const wrong = '0'.repeat(64);
    const re = new RegExp(`^checksum mismatch: expected ${wrong}, got ${sha}`);
    await rejectsWith(verifyArchive(archive, { logger: silent, expectedSha256: wrong }), re);
    await assert.rejects(extractArchive(archive, path.join(d, 'staging'), { logger: silent, expectedSha256: wrong }), (err: Error) => {
      assert.ok(err instanceof ArchiveError && err.kind === 'checksum');
      assert.match(err.message, re);
      return true;
    });
    // Upper case sidecars are fine.
    await verifyArchive(archive, { logger: silent, expectedSha256: sha.toUpperCase() });
  });

  it('rejects a file that is not gzip or not tar', async () => {
    const d = await caseDir();
    const notGzip = path.join(d, 'plain.tar.gz');
    await writeFile(notGzip, tarBuffer([ROOT_ENTRY]));
    await rejectsWith(verifyArchive(notGzip, { logger: silent }), /^archive is corrupt: gzip data error/);
    const notTar = path.join(d, 'text.tar.gz');
    await writeFile(notTar, gzipSync(Buffer.from('hello world\n'.repeat(100))));
    await rejectsWith(verifyArchive(notTar, { logger: silent }), /^archive is (corrupt|truncated)/);
  });
});

describe('extractArchive / verifyArchive: hostile archives', () => {
  /** late: refused only when the whole archive is known, so later entries were written (into staging). */
  const cases: { name: string; entries: TestEntry[]; reason: RegExp; late?: boolean }[] = [
    { name: '../escape', entries: [{ path: '../escape', type: 'File', body: 'x' }], reason: /"\.\." component/ },
    { name: '/abs/path', entries: [{ path: '/abs/path', type: 'File', body: 'x' }], reason: /is absolute/ },
    { name: './a/../../x', entries: [{ path: './a/', type: 'Directory' }, { path: './a/../../x', type: 'File', body: 'x' }], reason: /"\.\." component/ },
    {
      name: 'symlink to /etc, then a file below it',
      entries: [{ path: './link', type: 'SymbolicLink', linkpath: '/etc' }, { path: './link/passwd', type: 'File', body: 'x' }],
      reason: /goes through the symlink "link"/,
    },
    {
      name: 'harmless symlink, then a file below it',
      entries: [
        { path: './sub/', type: 'Directory' },
        { path: './inner', type: 'SymbolicLink', linkpath: 'sub' },
        { path: './inner/x', type: 'File', body: 'x' },
      ],
      reason: /goes through the symlink "inner"/,
    },
    {
      name: 'symlink up and out, then a file below it',
      entries: [{ path: './l2', type: 'SymbolicLink', linkpath: '../..' }, { path: './l2/x', type: 'File', body: 'x' }],
      reason: /goes through the symlink "l2"/,
    },
    { name: 'hard link to /etc/passwd', entries: [{ path: './pw', type: 'Link', linkpath: '/etc/passwd' }], reason: /is absolute/ },
    { name: 'hard link to ../x', entries: [{ path: './pw', type: 'Link', linkpath: '../x' }], reason: /"\.\." component/ },
    { name: 'hard link to an entry not extracted', entries: [{ path: './pw', type: 'Link', linkpath: 'later' }, { path: './later', type: 'File', body: 'x' }], reason: /not extracted before/ },
    { name: 'character device', entries: [{ path: './null', type: 'CharacterDevice', devmaj: 1, devmin: 3 }], reason: /character device/ },
    { name: 'block device', entries: [{ path: './sda', type: 'BlockDevice', devmaj: 8, devmin: 0 }], reason: /block device/ },
    { name: 'FIFO', entries: [{ path: './fifo', type: 'FIFO' }], reason: /FIFO/ },
    { name: 'NUL in a pax name', entries: [{ path: './x', type: 'File', body: 'x', pax: { path: './evil\0name' } }], reason: /NUL byte/ },
    { name: 'root entry that is a symlink', entries: [{ path: '.', type: 'SymbolicLink', linkpath: 'x' }], reason: /archive root/ },
  ];

  for (const c of cases) for (const [mode, writers] of MODES) {
      it(`refuses ${c.name} (${mode})`, async () => {
        const d = await caseDir();
        const vol = path.join(d, 'vol');
        await mkdir(vol);
        await writeFile(path.join(vol, 'data'), 'volume data\n');
        const archive = await writeTarGz(path.join(d, 'hostile.tar.gz'), [
          ROOT_ENTRY,
          { path: './fine.txt', type: 'File', body: 'fine\n' },
          ...c.entries,
          { path: './trailer.txt', type: 'File', body: 'after\n' },
        ]);
        const passwd = await stat('/etc/passwd');
        const before = { top: (await readdir(tmpRoot())).sort(), d: (await readdir(d)).sort(), vol: (await readdir(vol)).sort() };

        const check = (err: unknown) => {
          assert.ok(err instanceof HostileArchiveError, `${String(err)}`);
          assert.match(err.message, /^hostile archive entry .*; the whole archive is refused$/);
          assert.match(err.message, c.reason);
          return true;
        };
        await assert.rejects(verifyArchive(archive, { logger: silent }), check);
        const staging = path.join(vol, '.oob-restore-test');
        await assert.rejects(extractArchive(archive, staging, { ...writers, logger: silent }), check);
        // The entries after the hostile one were never written (the archive is refused at once).
        if (!c.late) await assert.rejects(lstat(path.join(staging, 'trailer.txt')), /ENOENT/);
        await rm(staging, { recursive: true, force: true }); // what the caller does

        assert.deepEqual({ top: (await readdir(tmpRoot())).sort(), d: (await readdir(d)).sort(), vol: (await readdir(vol)).sort() }, before);
        assert.equal(await readFile(path.join(vol, 'data'), 'utf8'), 'volume data\n');
        const after = await stat('/etc/passwd');
        assert.equal(after.mtimeMs, passwd.mtimeMs);
        assert.equal(after.size, passwd.size);
        await assert.rejects(lstat('/abs/path'), /ENOENT/);
      });
  }

  for (const [mode, writers] of MODES) {
    it(`restores symlinks that point anywhere as symlinks, GNU tar's way (${mode})`, async () => {
      const d = await caseDir();
      const entries: TestEntry[] = [
        ROOT_ENTRY,
        { path: './localtime', type: 'SymbolicLink', linkpath: '/usr/share/zoneinfo/UTC' },
        { path: './l2', type: 'SymbolicLink', linkpath: '../..' },
        { path: './a/b/', type: 'Directory' },
        { path: './a/b/up', type: 'SymbolicLink', linkpath: '../../../x' },
        { path: './d', type: 'SymbolicLink', linkpath: '.' },
        { path: './e', type: 'SymbolicLink', linkpath: 'd/..' },
        { path: './sub/', type: 'Directory' },
        { path: './sub/s', type: 'SymbolicLink', linkpath: '../x' },
        { path: './s2', type: 'Link', linkpath: './sub/s' },
      ];
      const archive = await writeTarGz(path.join(d, 'links.tar.gz'), entries);
      await verifyArchive(archive, { logger: silent });
      const staging = path.join(d, 'staging');
      await extractArchive(archive, staging, { ...writers, logger: silent });
      for (const e of entries.filter((x) => x.type === 'SymbolicLink')) assert.equal(await readlink(path.join(staging, e.path)), e.linkpath);
      assert.equal((await lstat(path.join(staging, 's2'))).ino, (await lstat(path.join(staging, 'sub/s'))).ino);
      // Nothing was made outside the staging directory.
      assert.deepEqual((await readdir(d)).sort(), ['links.tar.gz', 'staging']);
    });

    it(`takes a hard link to its own name (GNU tar, a path named twice) as the file itself (${mode})`, async () => {
      const d = await caseDir();
      const src = path.join(d, 'src');
      await mkdir(path.join(src, 'sub'), { recursive: true });
      await writeFile(path.join(src, 'sub', 'file'), 'once\n');
      const archive = path.join(d, 'twice.tar.gz');
      await exec('tar', ['-C', d, '-czf', archive, 'src', 'src/sub/file']);
      const { stdout } = await exec('tar', ['-tvzf', archive]);
      assert.match(stdout, /src\/sub\/file link to src\/sub\/file/);
      await verifyArchive(archive, { logger: silent });
      const staging = path.join(d, 'staging');
      const r = await extractArchive(archive, staging, { ...writers, logger: silent });
      assert.equal(r.files, 1);
      assert.equal(await readFile(path.join(staging, 'src/sub/file'), 'utf8'), 'once\n');
      assert.equal((await lstat(path.join(staging, 'src/sub/file'))).nlink, 1);
    });

    it(`accepts symlinks and hard links that stay inside (${mode})`, async () => {
      const d = await caseDir();
      const archive = await writeTarGz(path.join(d, 'ok.tar.gz'), [
        ROOT_ENTRY,
        { path: './a/b/', type: 'Directory' },
        { path: './a/b/file', type: 'File', body: 'f\n' },
        { path: './a/b/up', type: 'SymbolicLink', linkpath: '../../a/b/file' },
        { path: './a/dotdot', type: 'SymbolicLink', linkpath: 'b/../b/file' },
        { path: './top', type: 'SymbolicLink', linkpath: 'a/b' },
        { path: './hl', type: 'Link', linkpath: './a/b/file' },
        { path: './a/b/hl-to-link', type: 'Link', linkpath: 'a/b/up' },
      ]);
      await verifyArchive(archive, { logger: silent });
      const staging = path.join(d, 'staging');
      const r = await extractArchive(archive, staging, { ...writers, logger: silent });
      assert.equal(r.files, 2);
      assert.equal(await readFile(path.join(staging, 'top/up'), 'utf8'), 'f\n');
      assert.equal(await readFile(path.join(staging, 'a/b/hl-to-link'), 'utf8'), 'f\n');
      assert.equal((await stat(path.join(staging, 'hl'))).ino, (await stat(path.join(staging, 'a/b/file'))).ino);
    });
  }
});
