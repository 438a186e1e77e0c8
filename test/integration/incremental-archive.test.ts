/**
 * Incremental archives in GNU tar's listed-incremental format (issue 16), engine level, real files:
 * a full and two incrementals of a changing tree (new, modified, deleted files, a renamed
 * directory, a non-UTF-8 name), restored both by GNU tar alone (`tar -xzf <file> -g /dev/null`,
 * the admin's way) and by restoreChain, each compared with the tree; our restore of a chain GNU tar
 * made by itself; a damaged snapshot or a replaced base refuses to continue the chain.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { archiveIncremental } from '../../src/engine/incremental/incremental-archive.js';
import { chainLinkOf, restoreChainOf, type ArchiveRef } from '../../src/engine/incremental/chain.js';
import { restoreChain } from '../../src/engine/incremental/restore-chain.js';
import { assertSameTree, ignoreRoot, snapshotTree } from '../helpers/tree.js';

const exec = promisify(execFile);
const silent = pino({ level: 'silent' });
let tmp = '';
let vol = '';
let backup = '';

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'oob-incremental-'));
  vol = path.join(tmp, 'vol');
  backup = path.join(tmp, 'backup');
  await mkdir(path.join(vol, 'pacs', '2026'), { recursive: true });
  await mkdir(path.join(vol, 'docs', 'old'), { recursive: true });
  await mkdir(backup);
  for (let i = 0; i < 20; i++) await writeFile(path.join(vol, 'pacs', '2026', `img${i}.dcm`), `image ${i} `.repeat(500));
  for (let i = 0; i < 10; i++) await writeFile(path.join(vol, 'docs', 'old', `letter${i}.odt`), `letter ${i}`);
  await writeFile(Buffer.from(path.join(vol, 'docs', 'Br\xfcckner.txt'), 'latin1'), 'latin-1 name');
  await symlink('old/letter1.odt', path.join(vol, 'docs', 'latest'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const archive = (fileName: string, level: number, base?: { link: Parameters<typeof archiveIncremental>[0]['base']; chain: ArchiveRef[] }) =>
  archiveIncremental({
    volume: 'vol', volumeDir: vol, backupDir: backup, fileName, level, base: base?.link, basedOn: base?.chain ?? [],
    gzipLevel: 1, logger: silent,
  });

async function baseOf(file: string) {
  const b = await chainLinkOf(backup, file);
  if ('reason' in b) throw new Error(b.reason);
  return b;
}

/** GNU tar alone, the admin's way: every file of the chain with -g /dev/null, in order. */
async function gnuTarRestore(files: string[], into: string): Promise<void> {
  await mkdir(into);
  for (const f of files) await exec('tar', ['-xzf', path.join(backup, f), '-g', '/dev/null', '-C', into]);
}

describe('listed-incremental chain', () => {
  const trees: Map<string, import('../helpers/tree.js').TreeEntry>[] = [];

  it('writes a full, then incrementals that hold only the changes', async () => {
    const full = await archive('vol_2026-12-01-0300.tar.gz', 0);
    assert.equal(full.level, 0);
    trees.push(await snapshotTree(vol));
    assert.equal(full.volumeEntries, trees[0]!.size - 1, 'the snapshot lists every entry below the root');

    // A night's change: new images, a modified and a deleted letter, a renamed directory.
    for (let i = 20; i < 22; i++) await writeFile(path.join(vol, 'pacs', '2026', `img${i}.dcm`), `new image ${i}`);
    await appendFile(path.join(vol, 'docs', 'old', 'letter2.odt'), ' amended');
    await unlink(path.join(vol, 'docs', 'old', 'letter3.odt'));
    await rename(path.join(vol, 'docs', 'old'), path.join(vol, 'docs', 'archive'));
    const inc1 = await archive('vol_2026-12-02-0300.inc.tar.gz', 1, await baseOf(full.file));
    assert.equal(inc1.level, 1);
    assert.deepEqual(inc1.basedOn, [full.file]);
    trees.push(await snapshotTree(vol));

    const { stdout } = await exec('tar', ['-tzf', path.join(backup, inc1.file)]);
    const members = stdout.split('\n').filter((l) => !l.endsWith('/') && l !== '');
    assert.deepEqual(members.sort(), ['./docs/archive/letter2.odt', './pacs/2026/img20.dcm', './pacs/2026/img21.dcm'],
      'the incremental holds the new and modified files only');

    await unlink(path.join(vol, 'pacs', '2026', 'img0.dcm'));
    await writeFile(path.join(vol, 'pacs', '2026', 'img1.dcm'), 'replaced');
    // A sparse file (a VM disk image, a preallocated database file): 64 MiB, one byte of data.
    const fh = await open(path.join(vol, 'sparse.img'), 'w');
    await fh.truncate(64 << 20);
    await fh.write(Buffer.from('x'), 0, 1, 40_000_000);
    await fh.close();
    const inc2 = await archive('vol_2026-12-03-0300.inc.tar.gz', 2, await baseOf(inc1.file));
    assert.deepEqual(inc2.basedOn, [full.file, inc1.file]);
    trees.push(await snapshotTree(vol));
    assert.equal(inc2.volumeEntries, trees[2]!.size - 1, 'at every level: the whole volume, deletions counted out');
    assert.deepEqual(await restoreChainOf(backup, inc2.file), [full.file, inc1.file, inc2.file]);
    assert.ok(inc2.size < full.size / 2, `incremental ${inc2.size} bytes vs full ${full.size}`);
  });

  it('GNU tar alone restores each point of the chain, deletions and the rename included', async () => {
    const chains = [['vol_2026-12-01-0300.tar.gz'], ['vol_2026-12-01-0300.tar.gz', 'vol_2026-12-02-0300.inc.tar.gz'],
      ['vol_2026-12-01-0300.tar.gz', 'vol_2026-12-02-0300.inc.tar.gz', 'vol_2026-12-03-0300.inc.tar.gz']];
    for (const [i, files] of chains.entries()) {
      const into = path.join(tmp, `gnu-${i}`);
      await gnuTarRestore(files, into);
      assertSameTree(trees[i]!, await snapshotTree(into), { ignore: ignoreRoot });
    }
    // Holes as holes: the incremental stores the sparse file as GNU tar's sparse entry.
    assert.ok((await stat(path.join(tmp, 'gnu-2', 'sparse.img'))).blocks * 512 < 1 << 20, 'restored sparse');
  });

  it('our restore applies the chain into a staging directory exactly', async () => {
    const files = await restoreChainOf(backup, 'vol_2026-12-03-0300.inc.tar.gz');
    const staging = path.join(tmp, 'ours');
    const r = await restoreChain({ files: files.map((f) => path.join(backup, f)), stagingDir: staging, logger: silent, writers: { threads: 0 } });
    assertSameTree(trees[2]!, await snapshotTree(staging), { ignore: ignoreRoot });
    assert.equal(r.rootMeta?.mode, trees[2]!.get('.')!.mode);
    const sparse = await stat(path.join(staging, 'sparse.img'));
    assert.equal(sparse.size, 64 << 20);
    assert.ok(sparse.blocks * 512 < 1 << 20, `restored sparse: ${sparse.blocks * 512} bytes allocated`);
  });

  it('restores a chain GNU tar made by itself', async () => {
    const gnu = path.join(tmp, 'gnu-made');
    await mkdir(gnu);
    const snar = path.join(gnu, 'snar');
    await exec('tar', ['-czf', path.join(gnu, 'l0.tar.gz'), '-g', snar, '-C', vol, '.']);
    await writeFile(path.join(vol, 'pacs', 'new.dcm'), 'after GNU level 0');
    await unlink(path.join(vol, 'docs', 'archive', 'letter4.odt'));
    await exec('tar', ['-czf', path.join(gnu, 'l1.tar.gz'), '-g', snar, '-C', vol, '.']);
    const staging = path.join(tmp, 'ours-of-gnu');
    await restoreChain({ files: [path.join(gnu, 'l0.tar.gz'), path.join(gnu, 'l1.tar.gz')], stagingDir: staging, logger: silent, writers: { threads: 0 } });
    assertSameTree(await snapshotTree(vol), await snapshotTree(staging), { ignore: ignoreRoot });
  });

  it('a device number that changed (a Docker volume mounted anew) does not make the next run a full', async () => {
    // The snapshot as it would read had the volume been on another device when it was taken.
    const base = await baseOf('vol_2026-12-03-0300.inc.tar.gz');
    const dev = String((await stat(vol)).dev);
    const snar = path.join(backup, 'vol_2026-12-03-0300.inc.tar.gz.snar');
    const original = await readFile(snar);
    const moved = Buffer.from(original.toString('latin1').split(`\0${dev}\0`).join(`\0${Number(dev) + 7}\0`), 'latin1');
    assert.notDeepEqual(moved, original, 'the snapshot records the device');
    const copy = path.join(tmp, 'moved.snar');
    await writeFile(copy, moved);
    // GNU tar on its own would take every directory for a new one and archive every file again …
    await exec('tar', ['-czf', path.join(tmp, 'plain.tar.gz'), '-g', copy, '-C', vol, '.']);
    const plain = (await exec('tar', ['-tzf', path.join(tmp, 'plain.tar.gz')])).stdout.split('\n').filter((l) => l && !l.endsWith('/'));
    assert.ok(plain.length > 20, `plain GNU tar re-archived ${plain.length} files`);
    // … ours compares directories by inode alone: only what changed since (the file the test of
    // GNU tar's own chain added) is archived.
    await writeFile(snar, moved);
    try {
      const sha = createHash('sha256').update(moved).digest('hex');
      const r = await archiveIncremental({
        volume: 'vol', volumeDir: vol, backupDir: backup, fileName: 'vol_2026-12-04-0300.inc.tar.gz', level: 3,
        base: { ...base.link, snapshotSha256: sha }, basedOn: base.chain, gzipLevel: 1, logger: silent,
      });
      const { stdout } = await exec('tar', ['-tzf', r.path]);
      assert.deepEqual(stdout.split('\n').filter((l) => l && !l.endsWith('/')), ['./pacs/new.dcm']);
    } finally {
      await writeFile(snar, original);
      for (const suffix of ['', '.sha256', '.manifest.json', '.snar']) await rm(path.join(backup, `vol_2026-12-04-0300.inc.tar.gz${suffix}`), { force: true });
    }
  });

  it('a damaged snapshot or a changed base ends the chain (the next archive is a full)', async () => {
    const snarPath = path.join(backup, 'vol_2026-12-03-0300.inc.tar.gz.snar');
    const good = await readFile(snarPath);
    await writeFile(snarPath, Buffer.concat([good, Buffer.from('x')]));
    const damaged = await chainLinkOf(backup, 'vol_2026-12-03-0300.inc.tar.gz');
    assert.match('reason' in damaged ? damaged.reason : '', /snapshot .* does not match its checksum/);
    // A caller holding the checksum from before gets a refusal, not an archive missing changes.
    await writeFile(snarPath, good);
    const link = await baseOf('vol_2026-12-03-0300.inc.tar.gz');
    await writeFile(snarPath, Buffer.concat([good, Buffer.from('x')]));
    await assert.rejects(
      archive('vol_2026-12-05-0300.inc.tar.gz', 3, link),
      /snapshot of vol_2026-12-03-0300\.inc\.tar\.gz does not match its checksum/,
    );
    assert.deepEqual((await readdir(backup)).filter((n) => n.includes('12-05')), []);
    await writeFile(snarPath, good);

    const sidecar = path.join(backup, 'vol_2026-12-01-0300.tar.gz.sha256');
    const text = await readFile(sidecar, 'utf8');
    await writeFile(sidecar, `${'0'.repeat(64)}${text.slice(64)}`);
    const changed = await chainLinkOf(backup, 'vol_2026-12-03-0300.inc.tar.gz');
    assert.match('reason' in changed ? changed.reason : '', /vol_2026-12-01-0300\.tar\.gz, which this archive needs, has changed/);
    await assert.rejects(restoreChainOf(backup, 'vol_2026-12-03-0300.inc.tar.gz'), /cannot be restored/);
    await writeFile(sidecar, text);
  });
});

describe('incremental mode and what a volume should not hold', () => {
  it('leaves out exactly the top-level names it is told to, with a warning (a restore\'s leftover)', async () => {
    const v = path.join(tmp, 'leftover');
    const out = path.join(tmp, 'leftover-backup');
    await mkdir(path.join(v, '.oob-restore-r1', 'old'), { recursive: true });
    await mkdir(path.join(v, 'sub', '.oob-restore-r1'), { recursive: true });
    await writeFile(path.join(v, '.oob-restore-r1', 'old', 'replaced.txt'), 'previous data');
    await writeFile(path.join(v, 'sub', '.oob-restore-r1', 'kept.txt'), 'the admin\'s own folder of that name');
    await mkdir(out);
    const why = 'left out: the previous data that restore r1 replaced and could not remove';
    const r = await archiveIncremental({
      volume: 'leftover', volumeDir: v, backupDir: out, fileName: 'leftover_2026-12-01-0300.tar.gz', level: 0, basedOn: [], gzipLevel: 1, logger: silent,
      leaveOut: [{ name: '.oob-restore-r1', why }],
    });
    assert.deepEqual(r.warnings, [`".oob-restore-r1": ${why} (ELEFTOUT)`]);
    const { stdout } = await exec('tar', ['-tzf', r.path]);
    const files = stdout.split('\n').filter((l) => l && !l.endsWith('/'));
    assert.deepEqual(files, ['./sub/.oob-restore-r1/kept.txt']);
  });

  it('a socket is left out with a warning; a FIFO fails the archive with its name, leaving nothing behind', async () => {
    const v = path.join(tmp, 'odd');
    const out = path.join(tmp, 'odd-backup');
    await mkdir(v);
    await mkdir(out);
    await writeFile(path.join(v, 'a.txt'), 'a');
    await exec('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(v, 'mysqld.sock')]);
    const r = await archiveIncremental({ volume: 'odd', volumeDir: v, backupDir: out, fileName: 'odd_2026-12-01-0300.tar.gz', level: 0, basedOn: [], gzipLevel: 1, logger: silent });
    assert.deepEqual(r.warnings, ['"./mysqld.sock": socket ignored']);
    const manifest = JSON.parse(await readFile(`${r.path}.manifest.json`, 'utf8'));
    assert.deepEqual([manifest.warnings, manifest.level], [1, 0]);

    await exec('mkfifo', [path.join(v, 'pipe')]);
    await assert.rejects(
      archiveIncremental({ volume: 'odd', volumeDir: v, backupDir: out, fileName: 'odd_2026-12-02-0300.tar.gz', level: 0, basedOn: [], gzipLevel: 1, logger: silent }),
      (err: Error) => /^volume "odd": /.test(err.message) && /pipe/.test(err.message) && /FIFO|fifo/.test(err.message),
    );
    assert.deepEqual((await readdir(out)).filter((n) => n.includes('12-02')), [], 'no partial archive or snapshot left');
  });
});

describe('a hostile incremental', () => {
  it('rename records that point outside (../, /) stay inside the staging directory', async () => {
    const v = path.join(tmp, 'hostile-vol');
    const out = path.join(tmp, 'hostile-backup');
    const area = path.join(tmp, 'hostile-area');
    await mkdir(path.join(v, 'x'), { recursive: true });
    await mkdir(out);
    await mkdir(area);
    await writeFile(path.join(v, 'x', 'f'), 'data');
    const full = await archiveIncremental({ volume: 'h', volumeDir: v, backupDir: out, fileName: 'h_2026-12-01-0300.tar.gz', level: 0, basedOn: [], gzipLevel: 1, logger: silent });
    // An incremental whose root dumpdir renames ./x to ../escaped and /…/abs (made by Python's tarfile).
    const evil = path.join(out, 'h_2026-12-02-0300.inc.tar.gz');
    const py = [
      'import tarfile, io, sys',
      'body = b"Dx\\0R./x\\0T../escaped\\0R./x\\0T" + sys.argv[2].encode() + b"\\0\\0"',
      'ti = tarfile.TarInfo("./"); ti.type = b"D"; ti.size = len(body); ti.mode = 0o755',
      't = tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT); t.addfile(ti, io.BytesIO(body)); t.close()',
    ].join('\n');
    await exec('python3', ['-c', py, evil, path.join(area, 'abs')]);
    const staging = path.join(area, 'staging');
    await restoreChain({ files: [full.path, evil], stagingDir: staging, logger: silent, writers: { threads: 0 } }).catch(() => undefined);
    assert.deepEqual(await readdir(area), ['staging'], 'nothing beside the staging directory');
    assert.deepEqual((await readdir(tmp)).filter((n) => n.includes('escaped') || n === 'abs'), []);
  });
});

describe('an incremental archive that is stopped', () => {
  it('kills GNU tar, leaves no partial archive or snapshot, and the next attempt writes the archive', async () => {
    const v = path.join(tmp, 'stopped');
    const out = path.join(tmp, 'stopped-backup');
    await mkdir(path.join(v, 'd'), { recursive: true });
    await mkdir(out);
    for (let i = 0; i < 40; i++) await writeFile(path.join(v, 'd', `f${i}`), Buffer.alloc(256 * 1024, i));
    const abort = new AbortController();
    const o = { volume: 's', volumeDir: v, backupDir: out, fileName: 's_2026-12-01-0300.tar.gz', level: 0, basedOn: [], gzipLevel: 1, logger: silent, gzipParallel: false };
    await assert.rejects(
      archiveIncremental({ ...o, signal: abort.signal, progressIntervalMs: 0, onProgress: (p) => p.bytesDone > 0 && abort.abort(new Error('shutdown')) }),
      /aborted/,
    );
    assert.deepEqual(await readdir(out), [], 'nothing left behind');
    const r = await archiveIncremental(o);
    assert.deepEqual((await readdir(out)).sort(), [r.file, `${r.file}.manifest.json`, `${r.file}.sha256`, `${r.file}.snar`]);
  });
});
