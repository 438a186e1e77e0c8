/**
 * The parallel gzip writer and reader (src/engine/gzip/parallel-gzip.ts, parallel-gunzip.ts) and
 * the archive/restore paths that use them: multi-member archives that GNU tar, gunzip and zcat
 * read, stored chunks for incompressible data, the member index, archives of other tools (pigz,
 * GNU tar, concatenations), and damaged indexed archives.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, link, mkdir, readFile, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { INDEXED_HEADER_LENGTH, parseIndexedHeader } from '../../src/engine/gzip/gzip-members.js';
import { looksIncompressible } from '../../src/engine/gzip/incompressible.js';
import { chooseInflateEngine } from '../../src/engine/gzip/libdeflate.js';
import { readGzipFile } from '../../src/engine/gzip/parallel-gunzip.js';
import { GzipChunkWriter } from '../../src/engine/gzip/parallel-gzip.js';
import { archiveVolume } from '../../src/engine/archive/archive-volume.js';
import { extractArchive, verifyArchive } from '../../src/engine/extract/extract-archive.js';
import { caseDirs } from '../helpers/case-dirs.js';
import { assertSameTree, hashFile, ignoreRoot, snapshotTree } from '../helpers/tree.js';
import { exec, makeVolume } from '../helpers/volumes.js';

const silent = pino({ level: 'silent' });
const isRoot = process.getuid?.() === 0;
const KiB = 1024;
const MiB = 1024 * 1024;

const { caseDir } = caseDirs('oob-pgzip-');
let hasPigz = false;

before(async () => {
  hasPigz = await exec('pigz', ['--version']).then(
    () => true,
    () => false,
  );
});

/** Compressible text that is not trivially repetitive. */
function text(bytes: number, seed = 1): Buffer {
  const words = ['Patient', 'Befund', 'Therapie', 'Kontrolle', 'mg', 'täglich', 'unauffällig', 'Blutdruck', 'seit', 'Tagen', 'Labor', 'Diagnose'];
  let x = seed;
  const parts: string[] = [];
  let len = 0;
  while (len < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = `${words[x % words.length]!}${x % 7 === 0 ? `${(x >>> 8) % 1000}` : ''}${x % 11 === 0 ? '.\n' : ' '}`;
    parts.push(w);
    len += Buffer.byteLength(w);
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** Walk the members of a gzip file by their index headers; undefined if a member has none. */
function indexedMembers(gz: Buffer): { offset: number; length: number; raw: number; stored: boolean }[] | undefined {
  const out: { offset: number; length: number; raw: number; stored: boolean }[] = [];
  for (let off = 0; off < gz.length; ) {
    const idx = parseIndexedHeader(gz.subarray(off, off + INDEXED_HEADER_LENGTH));
    if (!idx) return undefined;
    // First deflate block header: BTYPE 00 = stored.
    const btype = (gz[off + INDEXED_HEADER_LENGTH]! >> 1) & 3;
    out.push({ offset: off, length: idx.memberLength, raw: idx.rawLength, stored: btype === 0 });
    off += idx.memberLength;
  }
  return out;
}

/** A volume with text, an incompressible "image", zeros, and the awkward parts (links, owners, modes). */
async function buildVolume(vol: string): Promise<void> {
  await mkdir(vol, { recursive: true });
  await makeVolume(vol, 'pgzip');
  const p = (rel: string) => path.join(vol, rel);
  await mkdir(p('pacs/ab/cd'), { recursive: true });
  await writeFile(p('pacs/ab/cd/image.dcm'), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), text(2000), randomBytes(900 * KiB)]));
  await mkdir(p('docs'));
  for (let i = 0; i < 40; i++) await writeFile(p(`docs/doc-${i}.txt`), text(3000 + i * 500, i + 2));
  await writeFile(p('db.ibd'), Buffer.concat([text(300 * KiB, 99), Buffer.alloc(200 * KiB), text(123 * KiB, 98)]));
  await writeFile(p('sparse-zeros'), '');
  await truncate(p('sparse-zeros'), 700 * KiB);
  await link(p('docs/doc-1.txt'), p('docs/hard-link'));
  await symlink('docs/doc-2.txt', p('doc-link'));
  if (isRoot) {
    await chown(p('docs/doc-3.txt'), 1234, 5678);
    await chmod(p('docs/doc-4.txt'), 0o4755);
  }
  await chmod(p('docs/doc-5.txt'), 0o444);
  await utimes(p('docs'), new Date('2015-05-05T05:05:05Z'), new Date('2015-05-05T05:05:05Z'));
}


describe('GzipChunkWriter', () => {
  async function compress(data: Buffer, o: { parallel: boolean; level?: number; chunkSize?: number; pieces?: number }) {
    const parts: Buffer[] = [];
    const z = new GzipChunkWriter({ level: o.level ?? 6, parallel: o.parallel, chunkSize: o.chunkSize ?? 64 * KiB, onOutput: (p) => parts.push(...p.map((b) => Buffer.from(b))) });
    // Mix the two ways of feeding it: write() and space()/commit().
    const step = Math.ceil(data.length / (o.pieces ?? 7));
    for (let off = 0, i = 0; off < data.length; off += step, i++) {
      const piece = data.subarray(off, off + step);
      if (i % 2 === 0) z.write(piece);
      else {
        for (let done = 0; done < piece.length; ) {
          const space = z.space();
          const n = Math.min(space.length, piece.length - done);
          piece.copy(space, 0, done, done + n);
          z.commit(n);
          done += n;
        }
      }
      await z.ready();
    }
    const stats = await z.end();
    return { gz: Buffer.concat(parts), stats };
  }

  it('writes indexed members in order that zlib and gunzip read as one stream', async () => {
    const data = Buffer.concat([text(300 * KiB), randomBytes(200 * KiB), text(77 * KiB, 5)]);
    const { gz, stats } = await compress(data, { parallel: true });
    assert.ok(gunzipSync(gz).equals(data));
    const members = indexedMembers(gz);
    assert.ok(members, 'every member carries its index');
    assert.equal(members.length, Math.ceil(data.length / (64 * KiB)));
    assert.equal(stats.chunks, members.length);
    assert.equal(members.reduce((a, m) => a + m.raw, 0), data.length);
    assert.equal(stats.bytesOut, gz.length);
    // The random part (and only that) is stored.
    assert.ok(stats.stored >= 2 && stats.stored <= 4, `stored ${stats.stored}`);
    // (zlib itself may start a member of the mixed chunk with a stored block too.)
    assert.ok(members.filter((m) => m.stored).length >= stats.stored);
    const d = await caseDir();
    await writeFile(path.join(d, 'x.gz'), gz);
    await exec('gzip', ['-t', path.join(d, 'x.gz')]);
    const { stdout } = await exec('sh', ['-c', `gunzip -c '${path.join(d, 'x.gz')}' | sha256sum`]);
    assert.equal(stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'));
  });

  it('sequential mode writes one plain gzip member', async () => {
    const data = text(500 * KiB);
    const { gz, stats } = await compress(data, { parallel: false });
    assert.ok(gunzipSync(gz).equals(data));
    assert.equal(stats.stored, 0);
    assert.equal(gz[3], 0, 'no FEXTRA: a plain zlib member');
    assert.equal(indexedMembers(gz), undefined);
  });

  it('level 0 stores everything; empty input gives empty output', async () => {
    const data = text(150 * KiB);
    const { gz } = await compress(data, { parallel: true, level: 0 });
    assert.ok(gunzipSync(gz).equals(data));
    assert.ok(indexedMembers(gz)?.every((m) => m.stored));
    const empty = await compress(Buffer.alloc(0), { parallel: true });
    assert.equal(empty.gz.length, 0);
  });

  it('looksIncompressible: random yes; text, zeros, counters and half-random chunks no', () => {
    assert.equal(looksIncompressible(randomBytes(MiB)), true);
    assert.equal(looksIncompressible(text(MiB)), false);
    assert.equal(looksIncompressible(Buffer.alloc(MiB)), false);
    // A flat byte histogram that deflate still compresses.
    const counter = Buffer.alloc(MiB);
    for (let i = 0; i < counter.length; i++) counter[i] = i & 0xff;
    assert.equal(looksIncompressible(counter), false);
    assert.equal(looksIncompressible(Buffer.concat([randomBytes(MiB / 2), text(MiB / 2)])), false);
    // A DICOM-like header inside random data does not change the verdict.
    const img = randomBytes(MiB);
    text(3000).copy(img, 200 * KiB);
    assert.equal(looksIncompressible(img), true);
    assert.equal(looksIncompressible(randomBytes(32 * KiB)), false, 'too small to judge: compress');
  });

  it('abort() stops all output, also of chunks still being compressed', async () => {
    // Each zlib handle calls back once its compression on the thread pool is done: after every
    // handle's call-back, no compression is left that could still deliver output.
    const handles = new Set<number>();
    const doneAfterAbort = new Set<number>();
    let aborted = false;
    const hook = createHook({
      init: (id, type) => void (type === 'ZLIB' && handles.add(id)),
      before: (id) => void (aborted && handles.has(id) && doneAfterAbort.add(id)),
    }).enable();
    try {
      let calls = 0;
      const z = new GzipChunkWriter({ level: 9, parallel: true, chunkSize: 64 * KiB, maxInFlight: 4, onOutput: () => calls++ });
      z.write(text(256 * KiB));
      const before = calls;
      z.abort();
      aborted = true;
      assert.equal(handles.size, 4, 'four chunks in flight');
      for (const deadline = Date.now() + 10_000; doneAfterAbort.size < handles.size; ) {
        assert.ok(Date.now() < deadline, `${doneAfterAbort.size} of ${handles.size} compressions finished`);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(calls, before);
    } finally {
      hook.disable();
    }
  });

  it('an exception in onOutput fails the writer', async () => {
    const z = new GzipChunkWriter({
      level: 1,
      parallel: true,
      chunkSize: 64 * KiB,
      onOutput: () => {
        throw new Error('disk full');
      },
    });
    z.write(text(200 * KiB));
    await assert.rejects(z.end(), /disk full/);
  });
});

describe('readGzipFile', () => {
  async function readAll(file: string, maxInFlight?: number) {
    const out: Buffer[] = [];
    const hash = createHash('sha256');
    const r = await readGzipFile(file, { onCompressed: (b) => hash.update(b), onData: (b) => out.push(b), maxInFlight });
    return { data: Buffer.concat(out), sha: hash.digest('hex'), ...r };
  }

  for (const engine of ['libdeflate', 'zlib'] as const)
  it(`reads indexed members concurrently (${engine}), plain members by streaming, and a mix of both`, async (t) => {
    chooseInflateEngine(engine);
    t.after(() => chooseInflateEngine('auto'));
    const d = await caseDir();
    const a = Buffer.concat([text(400 * KiB), randomBytes(100 * KiB)]);
    const parts: Buffer[] = [];
    const z = new GzipChunkWriter({ level: 4, parallel: true, chunkSize: 64 * KiB, onOutput: (p) => parts.push(...p.map((b) => Buffer.from(b))) });
    z.write(a);
    await z.end();
    const indexed = Buffer.concat(parts);
    const b = text(100 * KiB, 7);
    const mixed = Buffer.concat([indexed, gzipSync(b), gzipSync(a.subarray(0, 1000))]);
    const cases: [string, Buffer, Buffer, number][] = [
      ['indexed', indexed, a, 8],
      ['plain', Buffer.concat([gzipSync(a.subarray(0, 1234)), gzipSync(a.subarray(1234))]), a, 0],
      ['mixed', mixed, Buffer.concat([a, b, a.subarray(0, 1000)]), 8],
      ['trailing zeros', Buffer.concat([indexed, Buffer.alloc(3000)]), a, 8],
    ];
    for (const [name, gz, want, members] of cases) {
      const f = path.join(d, `${name}.gz`);
      await writeFile(f, gz);
      for (const inFlight of [1, 3]) {
        const r = await readAll(f, inFlight);
        assert.ok(r.data.equals(want), name);
        assert.equal(r.sha, createHash('sha256').update(gz).digest('hex'), name);
        assert.equal(r.bytesRead, gz.length, name);
        assert.equal(r.indexedMembers, members, name);
      }
    }
  });
});

describe('archive and restore with the parallel gzip', () => {
  it('many members (small chunks): GNU tar and our restore reproduce the volume; gunzip -t passes', { skip: !isRoot && 'needs root (chown)' }, async () => {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await buildVolume(vol);
    const backup = path.join(d, 'backup');
    await mkdir(backup);
    const a = await archiveVolume({ volume: 'vol', volumeDir: vol, backupDir: backup, fileName: 'vol.tar.gz', gzipLevel: 6, gzipChunkSize: 64 * KiB, logger: silent });
    const gz = await readFile(a.path);
    const members = indexedMembers(gz);
    assert.ok(members && members.length > 20, `members: ${members?.length}`);
    assert.ok(members.some((m) => m.stored), 'the random image data is stored');
    assert.ok(members.some((m) => !m.stored));
    await exec('gzip', ['-t', a.path]);
    assert.equal(await hashFile(a.path), a.sha256);
    const { stdout } = await exec('sha256sum', ['-c', 'vol.tar.gz.sha256'], { cwd: backup });
    assert.equal(stdout.trim(), 'vol.tar.gz: OK');

    const source = await snapshotTree(vol);
    const gnuOut = path.join(d, 'gnu');
    await mkdir(gnuOut);
    await exec('tar', ['-xzf', a.path, '-C', gnuOut, '--same-owner', '--same-permissions', '--numeric-owner']);
    assertSameTree(source, await snapshotTree(gnuOut));
    const listing = (await exec('tar', ['-tzf', a.path])).stdout.split('\n').filter(Boolean);
    assert.equal(listing.length, a.entries);
    for (const e of listing) assert.match(e, /^\.\//);

    const staging = path.join(d, 'staging');
    const r = await extractArchive(a.path, staging, { expectedSha256: a.sha256, logger: silent });
    assert.equal(r.entries, a.entries);
    assert.equal(r.bytes, a.bytesRead);
    assertSameTree(source, await snapshotTree(staging), { ignore: ignoreRoot });
    assert.equal((await stat(path.join(staging, 'docs/doc-1.txt'))).ino, (await stat(path.join(staging, 'docs/hard-link'))).ino);
    assert.equal((await stat(path.join(staging, 'docs/doc-4.txt'))).mode & 0o7777, 0o4755);
    assert.equal((await stat(path.join(staging, 'docs/doc-5.txt'))).mode & 0o7777, 0o444);
  });

  it('sequential mode (GZIP_PARALLEL=0) writes one member that GNU tar restores', { skip: !isRoot && 'needs root (chown)' }, async () => {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await buildVolume(vol);
    const backup = path.join(d, 'backup');
    await mkdir(backup);
    const a = await archiveVolume({ volume: 'vol', volumeDir: vol, backupDir: backup, fileName: 'vol.tar.gz', gzipLevel: 6, gzipParallel: false, logger: silent });
    const gz = await readFile(a.path);
    assert.equal(gz[3], 0, 'no FEXTRA');
    await exec('gzip', ['-t', a.path]);
    const out = path.join(d, 'gnu');
    await mkdir(out);
    await exec('tar', ['-xzf', a.path, '-C', out, '--same-owner', '--same-permissions', '--numeric-owner']);
    assertSameTree(await snapshotTree(vol), await snapshotTree(out));
    const r = await extractArchive(a.path, path.join(d, 'staging'), { expectedSha256: a.sha256, logger: silent });
    assertSameTree(await snapshotTree(vol), await snapshotTree(path.join(d, 'staging')), { ignore: ignoreRoot });
    assert.equal(r.entries, a.entries);
  });

  // GNU tar -czf's own archives (one gzip member): exact-archives.test.ts and extract-archive.test.ts.
  it('restores archives made by tar | pigz (and gzip members cut mid-entry, as other tools may write)', { skip: !isRoot && 'needs root (chown)' }, async () => {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await buildVolume(vol);
    const source = await snapshotTree(vol);
    const archives: string[] = [];
    const multi = path.join(d, 'multi.tar.gz');
    if (hasPigz) {
      // -b 32: 32 KiB blocks; -i: independent blocks, the pigz flavour of several members.
      await exec('sh', ['-c', `tar -C '${vol}' -cf - . | pigz -6 -b 32 > '${multi}'`]);
      archives.push(multi);
      const independent = path.join(d, 'pigz-i.tar.gz');
      await exec('sh', ['-c', `tar -C '${vol}' -cf - . | pigz -6 -i -b 32 > '${independent}'`]);
      archives.push(independent);
    }
    // Emulated multi-member archive: gzip members cut at odd offsets (inside headers and data).
    const plain = path.join(d, 'x.tar');
    await exec('tar', ['-C', vol, '-cf', plain, '.']);
    const tarBytes = await readFile(plain);
    const members: Buffer[] = [];
    for (let off = 0, i = 0; off < tarBytes.length; i++) {
      const n = 7_001 + ((i * 104_729) % 300_000);
      members.push(gzipSync(tarBytes.subarray(off, off + n), { level: i % 10 }));
      off += n;
    }
    const emulated = path.join(d, 'emulated.tar.gz');
    await writeFile(emulated, Buffer.concat(members));
    archives.push(emulated);
    for (const archive of archives) {
      await exec('gzip', ['-t', archive]);
      const sha = await hashFile(archive);
      const v = await verifyArchive(archive, { expectedSha256: sha, logger: silent });
      const staging = path.join(d, `staging-${path.basename(archive)}`);
      const r = await extractArchive(archive, staging, { expectedSha256: sha, logger: silent });
      assert.deepEqual({ ...r, rootMeta: undefined, threadedFiles: 0 }, { ...v, rootMeta: undefined });
      assertSameTree(source, await snapshotTree(staging), { ignore: ignoreRoot });
    }
  });

  for (const engine of ['libdeflate', 'zlib'] as const)
  it(`refuses damaged indexed archives with the usual errors (${engine})`, async (t) => {
    chooseInflateEngine(engine);
    t.after(() => chooseInflateEngine('auto'));
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await mkdir(vol);
    await makeVolume(vol, 'damaged');
    await writeFile(path.join(vol, 'text.txt'), text(600 * KiB));
    const backup = path.join(d, 'backup');
    await mkdir(backup);
    const a = await archiveVolume({ volume: 'vol', volumeDir: vol, backupDir: backup, fileName: 'vol.tar.gz', gzipLevel: 6, gzipChunkSize: 64 * KiB, logger: silent });
    const good = await readFile(a.path);
    const members = indexedMembers(good);
    assert.ok(members && members.length > 5);
    const m3 = members[3]!;

    const check = async (name: string, bytes: Buffer, re: RegExp) => {
      const f = path.join(d, name);
      await writeFile(f, bytes);
      await assert.rejects(verifyArchive(f, { logger: silent }), (err: Error) => {
        assert.match(err.message, re, name);
        return true;
      });
      await assert.rejects(extractArchive(f, path.join(d, `staging-${name}`), { logger: silent }), (err: Error) => {
        assert.match(err.message, re, name);
        return true;
      });
    };
    const flipped = Buffer.from(good);
    flipped[m3.offset + Math.floor(m3.length / 2)]! ^= 0x55;
    await check('flipped.tar.gz', flipped, /^archive is corrupt: gzip data error/);
    await check('cut.tar.gz', good.subarray(0, Math.floor(good.length * 0.6)), /^archive is truncated: the gzip data of cut\.tar\.gz ends unexpectedly/);
    // Cut exactly between two members: valid gzip, but the tar stream stops inside an entry.
    await check('cut-at-member.tar.gz', good.subarray(0, m3.offset), /^archive is truncated: /);
    // An index that lies about the member's length.
    const lying = Buffer.from(good);
    lying.writeUInt32LE(m3.raw + 1, m3.offset + 20);
    await check('lying-raw.tar.gz', lying, /^archive is corrupt: /);
    const lyingLen = Buffer.from(good);
    lyingLen.writeUInt32LE(m3.length - 100, m3.offset + 16);
    await check('lying-len.tar.gz', lyingLen, /^archive is (corrupt|truncated): /);
    // A wrong checksum is still a checksum error.
    await assert.rejects(verifyArchive(a.path, { logger: silent, expectedSha256: '0'.repeat(64) }), /checksum mismatch/);
  });
});
