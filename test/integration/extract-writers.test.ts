/**
 * The writer threads of a restore (src/engine/extract/extract-writers.ts): many small files through them
 * give the same tree as the main thread alone; names that repeat or clash keep tar's order; a
 * thread's failure rejects the restore with the file's name; after a rejection nothing more is
 * written.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { caseDirs } from '../helpers/case-dirs.js';
import { writeTarGz, type TestEntry } from '../helpers/tar-build.js';
import { extractArchive, HostileArchiveError, verifyArchive, type ExtractOptions } from '../../src/engine/extract/extract-archive.js';
import { FILES_PER_CHECK } from '../../src/engine/extract/slow-open.js';
import { MAX_POOLED_FILE } from '../../src/engine/extract/extract-writers.js';
import { assertSameTree, ignoreRoot, snapshotTree } from '../helpers/tree.js';
import { exec, gnuTarArchive } from '../helpers/volumes.js';

const silent = pino({ level: 'silent' });
const THREADS = { threads: 2, slowOpenMicros: 0, waitUntilReady: true } satisfies ExtractOptions['writers'];

const { caseDir } = caseDirs('oob-writers-');

/**
 * This process's threads. A restore writes into staging with synchronous calls on the calling
 * thread and from its writer threads: once those threads have ended, nothing can write any more.
 */
const threads = () => readdirSync('/proc/self/task').length;

/**
 * In a new case directory, a volume of 40 directories of 15 files (0 bytes to above
 * MAX_POOLED_FILE; 7 are larger), with modes and mtimes that must survive, and its GNU tar archive.
 */
async function documentsArchive(): Promise<{ d: string; vol: string; archive: string; files: number }> {
  const d = await caseDir();
  const vol = path.join(d, 'vol');
  let n = 0;
  for (let d = 0; d < 40; d++) {
    const dir = path.join(vol, `patient-${d}`, d % 3 === 0 ? 'befunde' : 'briefe');
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < 15; f++, n++) {
      const size = n % 97 === 0 ? MAX_POOLED_FILE + 1000 : (n * 7919) % 20_000;
      const file = path.join(dir, `dok-${f}-ä.txt`);
      await writeFile(file, Buffer.alloc(size, `patient ${d} document ${f}\n`));
      await chmod(file, [0o644, 0o600, 0o640, 0o755][n % 4]!);
      await utimes(file, new Date(1_600_000_000_000 + n * 1000), new Date(1_600_000_000_000 + n * 60_000));
    }
  }
  const archive = path.join(d, 'docs.tar.gz');
  await gnuTarArchive(vol, archive);
  return { d, vol, archive, files: n };
}

describe('extractArchive: writer threads', () => {
  it('restores 600 documents in 40 directories like the main thread does, with threads started at once, when open() is slow, or never', async () => {
    const { d, vol, archive, files } = await documentsArchive();
    const source = await snapshotTree(vol);

    const settings = {
      main: { threads: 0 },
      default: undefined,
      // "Slow" after two windows of FILES_PER_CHECK opens (any open takes longer than a nanosecond), or never.
      slow: { threads: 2, slowOpenMicros: 0.001, waitUntilReady: true },
      fast: { threads: 2, slowOpenMicros: 1e9 },
      forced: THREADS,
    };
    const threaded: Record<string, number> = {};
    for (const [name, writers] of Object.entries(settings)) {
      const staging = path.join(d, `staging-${name}`);
      const r = await extractArchive(archive, staging, { logger: silent, ...(writers ? { writers } : {}) });
      assertSameTree(source, await snapshotTree(staging), { ignore: ignoreRoot });
      assert.equal(r.files, files);
      threaded[name] = r.threadedFiles;
    }
    // Every file up to MAX_POOLED_FILE (7 are larger) went through the threads when forced; after
    // the 2 x FILES_PER_CHECK timed ones (the larger ones among them are not timed) when "slow".
    assert.deepEqual({ ...threaded, default: 0 }, { main: 0, default: 0, slow: files - 7 - 2 * FILES_PER_CHECK, fast: 0, forced: files - 7 });
    assert.ok(threaded.default! <= files - 7 - 2 * FILES_PER_CHECK, `${threaded.default}`);
  });

  it('restores owners at and beyond 2^31 (NFS\'s nobody, high subuid ranges) through the threads too', { skip: process.geteuid?.() !== 0 && 'needs root' }, async () => {
    const d = await caseDir();
    const vol = path.join(d, 'vol');
    await mkdir(vol);
    const owners = [[2147483648, 4294967294], [4294967294, 2147483647], [1000, 1000]] as const;
    for (const [i, [uid, gid]] of owners.entries()) {
      await writeFile(path.join(vol, `f${i}`), `owned by ${uid}:${gid}\n`);
      await exec('chown', [`${uid}:${gid}`, path.join(vol, `f${i}`)]);
    }
    const archive = path.join(d, 'owners.tar.gz');
    await gnuTarArchive(vol, archive);
    for (const writers of [{ threads: 0 }, THREADS] as const) {
      const staging = path.join(d, `staging-${writers.threads}`);
      const r = await extractArchive(archive, staging, { logger: silent, writers });
      if (writers.threads) assert.equal(r.threadedFiles, owners.length);
      for (const [i, [uid, gid]] of owners.entries()) {
        const st = await lstat(path.join(staging, `f${i}`));
        assert.deepEqual([st.uid, st.gid], [uid, gid], `f${i} with ${writers.threads} threads`);
      }
    }
  });

  it('keeps tar order for names that repeat or clash', async () => {
    const d = await caseDir();
    const archive = await writeTarGz(path.join(d, 'x.tar.gz'), [
      { path: './dir/', type: 'Directory', mode: 0o755 },
      { path: './dir/twice.txt', type: 'File', body: 'first\n' },
      { path: './dir/other.txt', type: 'File', body: 'other\n' },
      { path: './dir/twice.txt', type: 'File', body: 'second\n' },
      // a file, then a directory of that name: the directory replaces it
      { path: './dir/becomes-dir', type: 'File', body: 'file\n' },
      { path: './dir/becomes-dir/', type: 'Directory', mode: 0o755 },
      { path: './dir/becomes-dir/inside.txt', type: 'File', body: 'inside\n' },
      // a file, then a hard link of another name to it (the link needs the file on disk)
      { path: './dir/target.txt', type: 'File', body: 'target\n' },
      { path: './dir/link.txt', type: 'Link', linkpath: './dir/target.txt' },
    ]);
    const staging = path.join(d, 'staging');
    const r = await extractArchive(archive, staging, { logger: silent, writers: THREADS });
    assert.ok(r.threadedFiles >= 4, `${r.threadedFiles}`);
    assert.equal(await readFile(path.join(staging, 'dir/twice.txt'), 'utf8'), 'second\n');
    assert.ok((await lstat(path.join(staging, 'dir/becomes-dir'))).isDirectory());
    assert.equal(await readFile(path.join(staging, 'dir/becomes-dir/inside.txt'), 'utf8'), 'inside\n');
    assert.equal((await lstat(path.join(staging, 'dir/link.txt'))).ino, (await lstat(path.join(staging, 'dir/target.txt'))).ino);
  });

  it('refuses a file that would replace a directory made for an earlier entry, as the main thread does', async () => {
    const d = await caseDir();
    // "a/b" exists only because "a/b/c.txt" needed it (the archive does not list it).
    const archive = await writeTarGz(path.join(d, 'x.tar.gz'), [
      { path: 'a/b/c.txt', type: 'File', body: 'c\n' },
      { path: 'a/b', type: 'File', body: 'not a directory\n' },
    ]);
    for (const writers of [{ threads: 0 }, THREADS] as const) {
      const staging = path.join(d, `staging-${writers.threads}`);
      await assert.rejects(extractArchive(archive, staging, { logger: silent, writers }), (err: Error) => {
        assert.ok(err instanceof HostileArchiveError, String(err));
        assert.match(err.message, /"a\/b": would replace a directory of the same name extracted before/);
        return true;
      });
    }
  });

  it('replaces an empty directory by a later entry of its name, as GNU tar does (an archive appended to with tar -r)', async () => {
    const d = await caseDir();
    const src = path.join(d, 'src');
    await mkdir(path.join(src, 'a'), { recursive: true });
    await mkdir(path.join(src, 'l'));
    await mkdir(path.join(src, 'f'));
    const tar = path.join(d, 'appended.tar');
    await exec('tar', ['-C', src, '-cf', tar, './a', './l', './f']);
    await rm(path.join(src, 'a'), { recursive: true });
    await rm(path.join(src, 'l'), { recursive: true });
    await writeFile(path.join(src, 'a'), 'a file now\n');
    await exec('ln', ['-s', 'a', path.join(src, 'l')]);
    await exec('tar', ['-C', src, '-rf', tar, './a', './l']);
    await exec('gzip', [tar]);
    const gnu = path.join(d, 'gnu');
    await mkdir(gnu);
    await exec('tar', ['-C', gnu, '-xpzf', `${tar}.gz`]);
    for (const writers of [{ threads: 0 }, THREADS] as const) {
      const staging = path.join(d, `staging-${writers.threads}`);
      await extractArchive(`${tar}.gz`, staging, { logger: silent, writers });
      assertSameTree(await snapshotTree(gnu), await snapshotTree(staging), { ignore: ignoreRoot });
      assert.equal(await readFile(path.join(staging, 'a'), 'utf8'), 'a file now\n');
    }
  });

  it('rejects the restore when a thread cannot create a file, naming it, and writes nothing afterwards', async () => {
    const d = await caseDir();
    const entries: TestEntry[] = [{ path: './docs/', type: 'Directory', mode: 0o755 }];
    for (let i = 0; i < 300; i++) entries.push({ path: `./docs/${i}.txt`, type: 'File', body: `document ${i}\n`.repeat(50) });
    const tooLong = `./docs/${'x'.repeat(300)}.txt`; // a name component longer than 255 bytes
    entries.push({ path: './docs/long', type: 'File', body: 'x\n', pax: { path: tooLong } });
    for (let i = 300; i < 900; i++) entries.push({ path: `./docs/${i}.txt`, type: 'File', body: `document ${i}\n`.repeat(50) });
    const archive = await writeTarGz(path.join(d, 'x.tar.gz'), entries);
    await verifyArchive(archive, { logger: silent }); // the archive itself is fine

    const staging = path.join(d, 'staging');
    const before = threads();
    await assert.rejects(extractArchive(archive, staging, { logger: silent, writers: THREADS }), (err: Error) => {
      assert.match(err.message, new RegExp(`^cannot extract "${tooLong.replace(/\./g, '\\.')}": ENAMETOOLONG`));
      return true;
    });
    // Once the restore has rejected, nothing writes into the staging directory any more: its
    // writer threads have ended.
    assert.equal(threads(), before, 'a writer thread outlived the rejection');
    const n = (await readdir(path.join(staging, 'docs'))).length;
    assert.ok(n < 900, `${n}`);
  });

  it('start their compiled module when compiled (as in the Docker image), without tsx', async () => {
    const { d, vol, archive, files } = await documentsArchive();
    // Inside the project, so that the compiled code finds its packages (and package.json's "type").
    const repo = path.resolve(import.meta.dirname, '../..');
    const out = path.join(repo, 'node_modules/.cache', `oob-test-build-${process.pid}`);
    try {
      const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
      const sources = ['src/engine/extract/extract-archive.ts', 'src/engine/extract/extract-writer-thread.ts'].map((f) => path.join(repo, f));
      await exec(process.execPath, [tsc, '--outDir', out, '--rootDir', path.join(repo, 'src'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', ...sources]);
      const script = `
        const { extractArchive } = await import(${JSON.stringify(path.join(out, 'engine/extract/extract-archive.js'))});
        const { pino } = await import('pino');
        const r = await extractArchive(process.argv[1], process.argv[2], { logger: pino({ level: 'silent' }), writers: ${JSON.stringify(THREADS)} });
        console.log(JSON.stringify({ files: r.files, threadedFiles: r.threadedFiles }));`;
      const staging = path.join(d, 'staging');
      // Plain node, no tsx loader: the thread must be the compiled .js file.
      const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script, archive, staging], { cwd: repo, env: { ...process.env, NODE_OPTIONS: '' } });
      assert.deepEqual(JSON.parse(stdout), { files, threadedFiles: files - 7 });
      assertSameTree(await snapshotTree(vol), await snapshotTree(staging), { ignore: ignoreRoot });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('stops on abort, and nothing is written after the rejection', async () => {
    const { d, archive } = await documentsArchive();
    const ac = new AbortController();
    const staging = path.join(d, 'staging');
    const before = threads();
    await assert.rejects(
      extractArchive(archive, staging, { logger: silent, writers: THREADS, signal: ac.signal, onProgress: () => ac.abort() }),
      /aborted/,
    );
    assert.equal(threads(), before, 'a writer thread outlived the rejection');
  });
});
