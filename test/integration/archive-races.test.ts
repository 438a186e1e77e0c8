/**
 * The archive of a live tree that someone changes while it is read, against what GNU tar does in
 * the same places: a directory swapped for a symlink to somewhere else (a user racing the backup,
 * which reads as root) never leads the walk out of the volume; a file rewritten in place with its
 * old mtime put back is a warning (its ctime changed); hard-linked symlinks stay one inode; an
 * mtime a few nanoseconds before a whole second is not rounded up.
 *
 * The changes are made from the archive's own progress callback, which runs synchronously right
 * after the entry's header was written: deterministic, no timing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { renameSync, symlinkSync, mkdirSync, writeFileSync, utimesSync, statSync } from 'node:fs';
import { link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { archiveVolume } from '../../src/engine/archive/archive-volume.js';
import { verifyVolumeArchive } from '../../src/engine/verify/archive-verification.js';
import { gnuTarArchive } from '../helpers/volumes.js';

const exec = promisify(execFile);
const silent = pino({ level: 'silent' });

let tmpRoot = '';
let caseNo = 0;
before(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'oob-archive-races-'));
});
after(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

async function dirs() {
  const base = path.join(tmpRoot, `case${++caseNo}`);
  const d = { vol: path.join(base, 'vol'), backup: path.join(base, 'backup'), out: path.join(base, 'out'), outside: path.join(base, 'outside') };
  for (const p of Object.values(d)) await mkdir(p, { recursive: true });
  return d;
}

/** `tar -tvzf --full-time` lines, and the extraction by GNU tar. */
async function gnuList(archive: string): Promise<string[]> {
  const { stdout } = await exec('tar', ['--numeric-owner', '--full-time', '-tvzf', archive], { env: { ...process.env, TZ: 'UTC' } });
  return stdout.split('\n').filter((l) => l !== '');
}

const archive = (vol: string, backup: string, onProgress?: (p: { entries: number }) => void) =>
  archiveVolume({ volume: 'live', volumeDir: vol, backupDir: backup, fileName: 'live.tar.gz', gzipLevel: 1, logger: silent, progressIntervalMs: 0, onProgress });

describe('archiving a tree that changes under the walk', () => {
  it('a directory swapped for a symlink to outside after it was listed: a warning, nothing from outside in the archive', async () => {
    const d = await dirs();
    mkdirSync(path.join(d.vol, 'd'));
    for (let i = 0; i < 5; i++) writeFileSync(path.join(d.vol, 'd', `doc${i}`), `patient ${i}\n`);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(d.outside, `doc${i}`), `SECRET ${i}\n`);
    writeFileSync(path.join(d.outside, 'only-outside'), 'SECRET\n');
    let swapped = false;
    // Entry 1 is "./", entry 2 "./d/": its header is written, its contents not yet read.
    const r = await archive(d.vol, d.backup, (p) => {
      if (p.entries === 2 && !swapped) {
        swapped = true;
        renameSync(path.join(d.vol, 'd'), path.join(d.vol, '..', 'd-away'));
        symlinkSync(d.outside, path.join(d.vol, 'd'));
      }
    });
    assert.ok(swapped);
    // The root changed too (d renamed away, a symlink made): GNU tar warns about it as well.
    assert.deepEqual(r.warnings, [
      '"./d": was replaced by a symlink while being archived; its contents are not in this archive (ECHANGED)',
      '".": changed while it was archived (a name added, removed or renamed in it): what came or went meanwhile may be missing or left over in this archive (ECHANGED)',
    ]);
    const listing = (await gnuList(r.path)).map((l) => l.split(' ').pop());
    assert.deepEqual(listing, ['./', './d/']);
    const { stdout } = await exec('sh', ['-c', `gzip -dc '${r.path}' | grep -c SECRET || true`]);
    assert.equal(stdout.trim(), '0');
    await verifyVolumeArchive(r.path, { logger: silent });
  });

  it('a directory replaced by another directory after it was listed: a warning, the other one is not read', async () => {
    const d = await dirs();
    mkdirSync(path.join(d.vol, 'd'));
    writeFileSync(path.join(d.vol, 'd', 'mine'), 'mine\n');
    let swapped = false;
    const r = await archive(d.vol, d.backup, (p) => {
      if (p.entries === 2 && !swapped) {
        swapped = true;
        renameSync(path.join(d.vol, 'd'), path.join(d.vol, '..', 'd-away'));
        renameSync(d.outside, path.join(d.vol, 'd'));
        writeFileSync(path.join(d.vol, 'd', 'theirs'), 'theirs\n');
      }
    });
    assert.ok(swapped);
    assert.deepEqual(r.warnings, [
      '"./d": was replaced by another directory while being archived; its contents are not in this archive (ECHANGED)',
      '".": changed while it was archived (a name added, removed or renamed in it): what came or went meanwhile may be missing or left over in this archive (ECHANGED)',
    ]);
    assert.deepEqual((await gnuList(r.path)).map((l) => l.split(' ').pop()), ['./', './d/']);
  });

  it('a file rewritten in place with its mtime put back while it is read: a warning, as GNU tar gives', async () => {
    const d = await dirs();
    const f = path.join(d.vol, 'record.db');
    writeFileSync(f, 'A'.repeat(4096));
    utimesSync(f, 1_700_000_000, 1_700_000_000);
    let rewritten = false;
    // Entry 2 is the file: open and described, its header written, its data not read yet.
    const r = await archive(d.vol, d.backup, (p) => {
      if (p.entries === 2 && !rewritten) {
        rewritten = true;
        writeFileSync(f, 'B'.repeat(4096));
        utimesSync(f, 1_700_000_000, 1_700_000_000);
      }
    });
    assert.ok(rewritten);
    assert.equal(statSync(f).mtimeMs, 1_700_000_000_000);
    assert.equal(r.warnings.length, 1, JSON.stringify(r.warnings));
    assert.match(r.warnings[0]!, /^"\.\/record\.db": changed while being read \(status changed: rewritten with its old mtime put back.*\(ECHANGED\)$/);
  });
});

describe('archiving what GNU tar keeps exactly', () => {
  it('hard-linked symlinks stay one inode with two names', async () => {
    const d = await dirs();
    await symlink('/usr/share/zoneinfo/UTC', path.join(d.vol, 'localtime'));
    await link(path.join(d.vol, 'localtime'), path.join(d.vol, 'localtime2')); // link(2) does not follow
    assert.equal((await lstat(path.join(d.vol, 'localtime2'))).nlink, 2);
    const r = await archive(d.vol, d.backup);
    const lines = await gnuList(r.path);
    assert.ok(lines.some((l) => /^h.* \.\/localtime2? link to \.\/localtime2?$/.test(l)), lines.join('\n'));
    await exec('tar', ['-C', d.out, '--numeric-owner', '-xpzf', r.path]);
    const [a, b] = await Promise.all([lstat(path.join(d.out, 'localtime')), lstat(path.join(d.out, 'localtime2'))]);
    assert.ok(a.isSymbolicLink() && b.isSymbolicLink());
    assert.equal(a.ino, b.ino);
    await verifyVolumeArchive(r.path, { logger: silent });
  });

  it('an mtime of x.999999999 s is archived as x, as GNU tar stores it (also before 1970)', async () => {
    const d = await dirs();
    await writeFile(path.join(d.vol, 'late'), 'x');
    await mkdir(path.join(d.vol, 'dir'));
    await symlink('late', path.join(d.vol, 'link'));
    await writeFile(path.join(d.vol, 'old'), 'y');
    for (const n of ['late', 'dir']) await exec('touch', ['-d', '@1700000000.999999999', path.join(d.vol, n)]);
    await exec('touch', ['-h', '-d', '@1700000000.999999999', path.join(d.vol, 'link')]);
    await exec('touch', ['-d', '@-1000.999999999', path.join(d.vol, 'old')]);
    const r = await archive(d.vol, d.backup);
    const gnu = path.join(d.backup, 'gnu.tar.gz');
    await gnuTarArchive(d.vol, gnu);
    const times = async (a: string) => (await gnuList(a)).filter((l) => !l.endsWith(' ./')).map((l) => l.split(/\s+/).slice(3, 5).join(' ') + ' ' + l.split(' ').at(-1)).sort();
    const ours = await times(r.path);
    assert.deepEqual(ours, await times(gnu));
    assert.ok(ours.includes('2023-11-14 22:13:20 ./late'), ours.join('\n')); // 1700000000 = 2023-11-14 22:13:20 UTC
  });
});
