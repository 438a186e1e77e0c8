import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, truncateSync, unlinkSync } from 'node:fs';
import {
  chmod,
  chown,
  link,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { archiveVolume, partialPath, type ArchiveProgress } from '../../src/engine/archive/archive-volume.js';
import { waitFor } from '../helpers/service.js';
import { hashFile, snapshotTree } from '../helpers/tree.js';

const exec = promisify(execFile);
const silent = pino({ level: 'silent' });
const isRoot = process.getuid?.() === 0;
const MiB = 1024 * 1024;

let tmpRoot = '';
let caseNo = 0;

before(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'oob-archive-volume-'));
});
after(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

/** A fresh volume dir, backup dir and extraction dir per test. */
async function dirs() {
  const base = path.join(tmpRoot, `case${++caseNo}`);
  const d = { vol: path.join(base, 'vol'), backup: path.join(base, 'backup'), out: path.join(base, 'out') };
  for (const p of Object.values(d)) await mkdir(p, { recursive: true });
  return d;
}

async function tarList(archive: string): Promise<string[]> {
  const { stdout } = await exec('tar', ['-tzf', archive], { maxBuffer: 64 * MiB });
  return stdout.split('\n').filter((l) => l !== '');
}

async function tarExtract(archive: string, out: string): Promise<void> {
  await exec('tar', ['-xzf', archive, '-C', out, '--same-owner', '--same-permissions', '--numeric-owner']);
}

/** Names in the backup dir; nothing else (no .partial) may be there. */
async function backupFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Our process must not keep anything under `dir` open (file handles closed on abort too). */
async function openFdsUnder(dir: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith(dir + path.sep));
}

async function buildVolume(vol: string): Promise<void> {
  const p = (rel: string) => path.join(vol, rel);
  await chmod(vol, 0o751);
  await mkdir(p('db/sub/deep'), { recursive: true });
  await writeFile(p('db/ibdata1'), randomBytes(3 * MiB));
  await writeFile(p('db/sub/deep/note.txt'), 'deep\n');
  // Only top-level names are excluded: this one must be archived.
  await mkdir(p('db/sub/.oob-restore-nested'));
  await writeFile(p('db/sub/.oob-restore-nested/keep.txt'), 'keep\n');

  await mkdir(p('docs'));
  await writeFile(p('docs/secret.txt'), 'secret\n');
  await chmod(p('docs/secret.txt'), 0o600);
  await writeFile(p('docs/run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(p('docs/run.sh'), 0o755);
  await writeFile(p('docs/owned.txt'), 'owned by 1234:5678\n');
  await chown(p('docs/owned.txt'), 1234, 5678);
  await writeFile(p('docs/empty.txt'), '');
  await link(p('docs/secret.txt'), p('docs/hard.txt'));

  await mkdir(p('private'), { mode: 0o750 });
  await chmod(p('private'), 0o750);
  await writeFile(p('private/x.txt'), 'x\n');
  await chown(p('private'), 1234, 5678);

  await mkdir(p('links'));
  await symlink('../docs/secret.txt', p('links/rel'));
  await symlink('does/not/exist', p('links/dangling'));

  await mkdir(p('emptydir'));

  await mkdir(p('old'));
  await writeFile(p('old/file.txt'), 'old\n');
  await utimes(p('old/file.txt'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  // After filling it, or creating the file would bump it again.
  await utimes(p('old'), new Date('2010-01-02T03:04:05Z'), new Date('2010-01-02T03:04:05Z'));

  await mkdir(p('.oob-restore-x'));
  await writeFile(p('.oob-restore-x/staged.bin'), randomBytes(1000));
}

describe('archiveVolume', () => {
  // That GNU tar restores our archives exactly (modes, owners, times, links, names as bytes) is
  // proven once, in exact-archives.test.ts; here: the writer's files, listing and progress.
  it('archives a volume into an archive with sidecars, a manifest, a listing like tar -C vol . and progress', { skip: !isRoot && 'needs root (chown)' }, async () => {
    const d = await dirs();
    await buildVolume(d.vol);
    const fileName = 'vol_2026-11-21-0315.tar.gz';
    const calls: ArchiveProgress[] = [];

    const r = await archiveVolume({
      volume: 'vol',
      volumeDir: d.vol,
      backupDir: d.backup,
      fileName,
      gzipLevel: 6,
      logger: silent,
      onProgress: (p) => calls.push(p),
    });

    const archive = path.join(d.backup, fileName);
    assert.equal(r.file, fileName);
    assert.equal(r.path, archive);
    assert.deepEqual(await backupFiles(d.backup), [fileName, `${fileName}.entries.gz`, `${fileName}.manifest.json`, `${fileName}.sha256`]);
    assert.equal(existsSync(partialPath(d.backup, fileName)), false);
    assert.equal((await stat(archive)).size, r.size);
    assert.equal(await hashFile(archive), r.sha256);
    assert.equal((await stat(archive)).mode & 0o777, 0o640);
    assert.deepEqual(r.warnings, []);

    const { stdout } = await exec('sha256sum', ['-c', `${fileName}.sha256`], { cwd: d.backup });
    assert.equal(stdout.trim(), `${fileName}: OK`);

    const manifest = JSON.parse(await readFile(`${archive}.manifest.json`, 'utf8'));
    assert.equal(manifest.volume, 'vol');
    assert.equal(manifest.file, fileName);
    assert.equal(manifest.size, r.size);
    assert.equal(manifest.sha256, r.sha256);
    assert.equal(manifest.entries, r.entries);
    assert.equal(manifest.bytesRead, r.bytesRead);
    assert.equal(manifest.durationMs, r.durationMs);
    assert.equal(manifest.warnings, 0);
    assert.equal(manifest.tool, 'oob-backup');
    assert.equal(new Date(manifest.createdAt).toISOString(), manifest.createdAt);

    // Listing: relative "./" entries like `tar -C vol -czf x .`, exclusion applied at top level only.
    const listing = await tarList(archive);
    assert.ok(r.entries > 0);
    assert.equal(listing.length, r.entries);
    assert.equal(listing[0], './');
    for (const e of listing) assert.match(e, /^\.\//, `entry ${e} is not relative`);
    // A user's own file with the prefix our restore uses is data like any other: archived.
    assert.ok(listing.includes('./.oob-restore-x/staged.bin'), 'a user file named like our staging was left out');
    assert.ok(listing.includes('./db/sub/.oob-restore-nested/keep.txt'));
    assert.ok(listing.includes('./emptydir/'));

    // Progress: denominator = file bytes read once per inode (hard.txt is a link to secret.txt).
    let total = 0;
    for (const [k, e] of await snapshotTree(d.vol)) if (e.type === 'file' && k !== 'docs/hard.txt') total += e.size;
    assert.ok(calls.length >= 1);
    for (const c of calls) assert.equal(c.bytesTotal, total);
    const last = calls.at(-1);
    assert.deepEqual(last, { bytesDone: total, bytesTotal: total, entries: r.entries });
    assert.equal(r.bytesRead, total);
  });

  it('rejects a missing volume directory and leaves nothing behind', async () => {
    const d = await dirs();
    const missing = path.join(d.vol, 'nope');
    await assert.rejects(
      archiveVolume({ volume: 'elexisdb', volumeDir: missing, backupDir: d.backup, fileName: 'e.tar.gz', gzipLevel: 6, logger: silent }),
      (err: Error) => {
        assert.equal(err.message, `volume "elexisdb": directory ${missing} does not exist`);
        return true;
      },
    );
    assert.deepEqual(await backupFiles(d.backup), []);
  });

  it('rejects a volume path that is not a directory', async () => {
    const d = await dirs();
    const file = path.join(d.vol, 'file');
    await writeFile(file, 'x');
    await assert.rejects(
      archiveVolume({ volume: 'elexisdb', volumeDir: file, backupDir: d.backup, fileName: 'e.tar.gz', gzipLevel: 6, logger: silent }),
      /volume "elexisdb": .* is not a directory/,
    );
    assert.deepEqual(await backupFiles(d.backup), []);
  });

  it('never overwrites an existing archive', async () => {
    const d = await dirs();
    await writeFile(path.join(d.vol, 'a.txt'), 'a');
    const existing = path.join(d.backup, 'v.tar.gz');
    await writeFile(existing, 'precious');
    const before = await stat(existing);
    await assert.rejects(
      archiveVolume({ volume: 'v', volumeDir: d.vol, backupDir: d.backup, fileName: 'v.tar.gz', gzipLevel: 6, logger: silent }),
      /volume "v": archive .* already exists/,
    );
    assert.equal(await readFile(existing, 'utf8'), 'precious');
    assert.equal((await stat(existing)).mtimeMs, before.mtimeMs);
    assert.deepEqual(await backupFiles(d.backup), ['v.tar.gz']);
  });

  it('replaces a stale .partial left by a crashed attempt', async () => {
    const d = await dirs();
    await writeFile(path.join(d.vol, 'a.txt'), 'a');
    await writeFile(partialPath(d.backup, 'v.tar.gz'), 'half an archive');
    await writeFile(path.join(d.backup, 'v.tar.gz.sha256.0123456789ab.partial'), 'junk'); // writeFileAtomic's temp file
    await writeFile(path.join(d.backup, 'v.tar.gz.entries.gz.0123456789ab.partial'), 'junk'); // a dead writer's entry index
    const r = await archiveVolume({ volume: 'v', volumeDir: d.vol, backupDir: d.backup, fileName: 'v.tar.gz', gzipLevel: 1, logger: silent });
    assert.deepEqual(await backupFiles(d.backup), ['v.tar.gz', 'v.tar.gz.entries.gz', 'v.tar.gz.manifest.json', 'v.tar.gz.sha256']);
    assert.deepEqual(await tarList(r.path), ['./', './a.txt']);
  });

  it('aborts mid-way: rejects, removes the .partial, closes its files', async () => {
    const d = await dirs();
    await writeFile(path.join(d.vol, 'big.bin'), randomBytes(50 * MiB));
    const ac = new AbortController();
    let abortedAt = -1;
    await assert.rejects(
      archiveVolume({
        volume: 'big',
        volumeDir: d.vol,
        backupDir: d.backup,
        fileName: 'big.tar.gz',
        gzipLevel: 6,
        logger: silent,
        signal: ac.signal,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (p.bytesDone > 0 && abortedAt < 0) {
            abortedAt = p.bytesDone;
            ac.abort();
          }
        },
      }),
      /volume "big": .*aborted/,
    );
    assert.ok(abortedAt > 0 && abortedAt < 50 * MiB, 'abort did not happen mid-way');
    assert.deepEqual(await backupFiles(d.backup), []);
    // The source generator closes its files in its finally blocks, right after the rejection.
    await waitFor(async () => (await openFdsUnder(path.dirname(d.vol))).length === 0, 5000, 'its files to be closed');
  });

  it('rejects at once when the signal is already aborted', async () => {
    const d = await dirs();
    await writeFile(path.join(d.vol, 'a.txt'), 'a');
    await assert.rejects(
      archiveVolume({ volume: 'v', volumeDir: d.vol, backupDir: d.backup, fileName: 'v.tar.gz', gzipLevel: 6, logger: silent, signal: AbortSignal.abort() }),
      /volume "v": .*aborted/,
    );
    assert.deepEqual(await backupFiles(d.backup), []);
  });

  it('skips files that vanish during archiving, with warnings', async () => {
    const d = await dirs();
    const names = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}`);
    await mkdir(path.join(d.vol, 'd'));
    for (const n of names) await writeFile(path.join(d.vol, 'd', n), n);
    const logged: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => void logged.push(JSON.parse(s)) });

    // Entries: 1 = "./", 2 = "./d/", 3 = the first file of d (already open). Node's Dir reads names
    // in batches of 32, so the other 19 names are listed already and their lstat/open now fail.
    let unlinked = false;
    const r = await archiveVolume({
      volume: 'live',
      volumeDir: d.vol,
      backupDir: d.backup,
      fileName: 'live.tar.gz',
      gzipLevel: 6,
      logger,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.entries === 3 && !unlinked) {
          unlinked = true;
          for (const n of names) unlinkSync(path.join(d.vol, 'd', n));
        }
      },
    });

    assert.ok(unlinked);
    // The file open at the time was unlinked while being read: its ctime changed (GNU tar: "file
    // changed as we read it"); the others vanished.
    const vanishedOnes = r.warnings.filter((w) => / vanished /.test(w));
    assert.ok(vanishedOnes.length > 0, 'expected vanished-file warnings');
    for (const w of r.warnings) assert.match(w, /^"\.\/d\/f\d\d": (vanished .*\(ENOENT\)|changed while being read.*\(ECHANGED\))$|^"\.\/d": changed while it was archived \(a name added, removed or renamed in it\).*\(ECHANGED\)$/);
    // The directory the files were removed from says so, as GNU tar does ("file changed as we read it").
    assert.ok(r.warnings.some((w) => w.startsWith('"./d": changed while it was archived')), r.warnings.join('\n'));
    const listing = await tarList(r.path);
    // Whatever was archived plus whatever vanished accounts for every file.
    assert.equal(listing.length - 2 + vanishedOnes.length, names.length);
    assert.equal(r.entries, listing.length);
    const manifest = JSON.parse(await readFile(`${r.path}.manifest.json`, 'utf8'));
    assert.equal(manifest.warnings, r.warnings.length);
    const warnLogs = logged.filter((l) => l.code === 'ENOENT');
    assert.equal(warnLogs.length, vanishedOnes.length);
    assert.equal(warnLogs[0]?.volume, 'live');
    assert.match(String(warnLogs[0]?.path), /^\.\/d\/f\d\d$/);
    await exec('sha256sum', ['-c', 'live.tar.gz.sha256'], { cwd: d.backup });
  });

  it('fails, naming the entry escaped, when an entry exists but cannot be read (never a silent skip)', { skip: !isRoot && 'needs root to switch to another user' }, async () => {
    const d = await dirs();
    // A Latin-1 directory name (bytes, not the UTF-8 "ü"): the message must show it escaped.
    const at = (rel: string) => Buffer.from(`${d.vol}/${rel}`, 'latin1');
    await mkdir(at('Akten_M\xfcller'));
    await writeFile(path.join(d.vol, 'readable.txt'), 'ok\n');
    await writeFile(at('Akten_M\xfcller/secret.txt'), 'x\n');
    for (const locked of ['Akten_M\xfcller', 'Akten_M\xfcller/secret.txt']) {
      await chmod(at('Akten_M\xfcller'), 0o755);
      await chmod(at(locked), 0o000);
      await chmod(path.dirname(path.dirname(d.vol)), 0o755); // the mkdtemp root is 0700
      await chmod(path.dirname(d.vol), 0o755);
      await chmod(d.vol, 0o755);
      await chmod(d.backup, 0o777);
      await rm(path.join(d.backup, 'vol.tar.gz'), { force: true });
      const child = path.join(import.meta.dirname, '../helpers/archive-child.ts');
      const { stdout } = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', child, d.vol, d.backup], {
        cwd: path.join(import.meta.dirname, '../..'),
        env: { ...process.env, HOME: '/tmp' },
      });
      const r = JSON.parse(stdout) as { ok: boolean; error?: string };
      assert.equal(r.ok, false, `archiving with an unreadable ${locked} must fail, not skip it`);
      assert.match(r.error!, /Akten_M\\xfcller/, 'the entry is named, escaped');
      // The reason once, with its code, and not the descriptor path the walk opened it by (an audit found "EACCES EACCES: …, open '/proc/self/fd/22/b'").
      assert.match(r.error!, /: cannot (open|open directory|read directory) "\.\/Akten_M\\xfcller(\/secret\.txt)?": permission denied \(EACCES\)$/, r.error);
      assert.deepEqual(await readdir(d.backup), [], 'no archive and no leftovers');
    }
  });

  it("stores a hard link whose inode changed after its first name was archived with its own content, not as a link", async () => {
    // The same path as an inode freed and given to a new file during the archive (an audit made one
    // on a fresh ext4): the second name's dev:ino matches, its ctime does not.
    const d = await dirs();
    const content = randomBytes(4 * MiB);
    await mkdir(path.join(d.vol, 'a'));
    await mkdir(path.join(d.vol, 'b'));
    await writeFile(path.join(d.vol, 'a/x'), content);
    await link(path.join(d.vol, 'a/x'), path.join(d.vol, 'b/y'));
    let changed = false;
    const r = await archiveVolume({
      volume: 'links', volumeDir: d.vol, backupDir: d.backup, fileName: 'l.tar.gz', gzipLevel: 1, logger: silent, progressIntervalMs: 0,
      onProgress: (p) => {
        if (!changed && p.bytesDone > 0) {
          changed = true;
          chmodSync(path.join(d.vol, 'a/x'), 0o600);
        }
      },
    });
    assert.ok(changed);
    assert.ok(r.warnings.some((w) => /^"\.\/b\/y": hard link of "\.\/a\/x" whose inode changed during the archive: stored with its own content/.test(w)), JSON.stringify(r.warnings));
    const listing = (await exec('tar', ['-tvzf', r.path])).stdout;
    assert.doesNotMatch(listing, / link to /, listing);
    await tarExtract(r.path, d.out);
    const y = await stat(path.join(d.out, 'b/y'));
    assert.equal(y.nlink, 1);
    assert.ok((await readFile(path.join(d.out, 'b/y'))).equals(content));
  });

  it('zero-pads a file that shrinks while being read and keeps the archive valid', async () => {
    const d = await dirs();
    const big = path.join(d.vol, 'big.bin');
    const original = randomBytes(8 * MiB);
    await writeFile(big, original);
    let cut = -1;
    const r = await archiveVolume({
      volume: 'shrink',
      volumeDir: d.vol,
      backupDir: d.backup,
      fileName: 's.tar.gz',
      gzipLevel: 1,
      logger: silent,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (cut < 0 && p.bytesDone > 0) {
          cut = p.bytesDone;
          truncateSync(big, 0);
        }
      },
    });
    assert.ok(cut > 0 && cut < original.length);
    assert.equal(r.warnings.length, 1);
    // As GNU tar counts it: the bytes that were missing.
    assert.match(r.warnings[0] ?? '', new RegExp(`^"\\./big\\.bin": shrank by ${8 * MiB - cut} bytes while being read \\(${cut} of 8388608 read\\), padded with zeros \\(ESHRUNK\\)$`));
    await tarExtract(r.path, d.out);
    const restored = await readFile(path.join(d.out, 'big.bin'));
    assert.equal(restored.length, original.length);
    assert.ok(restored.subarray(0, cut).equals(original.subarray(0, cut)));
    assert.ok(restored.subarray(cut).every((b) => b === 0));
  });

  it('cuts a file that grows while being read at its size when opened', async () => {
    const d = await dirs();
    const big = path.join(d.vol, 'log.bin');
    const original = randomBytes(4 * MiB + 100);
    await writeFile(big, original);
    let grown = false;
    const r = await archiveVolume({
      volume: 'grow',
      volumeDir: d.vol,
      backupDir: d.backup,
      fileName: 'g.tar.gz',
      gzipLevel: 1,
      logger: silent,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (!grown && p.bytesDone > 0) {
          grown = true;
          appendFileSync(big, randomBytes(10_000));
        }
      },
    });
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0] ?? '', /^"\.\/log\.bin": changed while being read .*\(ECHANGED\)$/);
    await tarExtract(r.path, d.out);
    assert.ok((await readFile(path.join(d.out, 'log.bin'))).equals(original));
  });
});
