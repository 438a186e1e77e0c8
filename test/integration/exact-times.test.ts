/**
 * Sub-second times of foreign pax archives (README "Exactness"): GNU tar `--format=posix` and
 * Python's tarfile store mtimes with a fraction (`mtime=1700000000.123456789`), and GNU tar
 * restores them to the nanosecond; so must we, on every path that sets a time: regular files (on
 * the main thread and by the writer threads), large and sparse files, directories (with their mode
 * at creation or at the end), symlinks, hard links, and mtimes before 1970 and beyond 2^32 s.
 * Like GNU tar, a restore leaves each entry's atime as creating it made it (the time of the
 * restore), whatever the archive's pax `atime`. Times are read back by stat(1), and GNU tar's own
 * extraction of the same archive is the expected result.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { extractArchive, type ExtractOptions } from '../../src/engine/extract/extract-archive.js';
import { fileTimesEngine, useFileTimesBinding } from '../../src/engine/fs/file-times.js';
import { swapIn } from '../../src/engine/swap/swap-volume.js';
import { createWorkDir } from '../../src/engine/swap/work-dir.js';
import { caseDirs } from '../helpers/case-dirs.js';

const exec = promisify(execFile);
/** stat(1) shows times in UTC. */
const UTC = { env: { ...process.env, TZ: 'UTC' } };
const silent = pino({ level: 'silent' });
const { caseDir } = caseDirs('oob-exact-times-');
const THREADS = { threads: 2, slowOpenMicros: 0, waitUntilReady: true } satisfies ExtractOptions['writers'];

interface Times {
  type: string;
  /** As stat(1) shows it, to the nanosecond. */
  mtime: string;
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint;
  atimeSec: number;
}

/** Every entry below `dir` (not the root): path, type, mtime to the nanosecond, atime in seconds. */
async function times(dir: string): Promise<Map<string, Times>> {
  const { stdout } = await exec('sh', ['-c', `cd "$1" && find . -mindepth 1 -print0 | sort -z | xargs -0 stat --format='%n|%F|%y|%Y|%X'`, 'sh', dir], UTC);
  const out = new Map<string, Times>();
  for (const line of stdout.trim().split('\n')) {
    const [name, type, mtime, mtimeSec, atime] = line.split('|');
    // %Y is rounded down, and %y's fraction counts from there (-0.5 s: -1 and .500000000).
    const nsec = BigInt(/\.(\d{9}) /.exec(mtime!)![1]!);
    out.set(name!, { type: type!, mtime: mtime!, mtimeNs: BigInt(mtimeSec!) * 1_000_000_000n + nsec, atimeSec: Number(atime) });
  }
  return out;
}

/** The mtimes of `dir`'s entries as `path type mtime` lines, for a readable comparison. */
const mtimes = (t: Map<string, Times>) => [...t].map(([p, e]) => `${p} ${e.type} ${e.mtime}`);

/**
 * A tree whose every entry has a sub-second mtime: set by touch(1) last, deepest first, so that
 * creating entries does not change them again. Files: `small-N` (writer threads), `big.bin` (above
 * the writer threads' size), `sparse.img`, a hard link, a symlink, entries before 1970 and after 2106.
 */
async function makeTree(src: string): Promise<void> {
  await exec('sh', ['-c', `set -e
    cd "$1"
    mkdir -p docs/sub ro-dir old-dir
    for i in $(seq 0 19); do echo "Befund $i" > docs/small-$i; touch -d "@1700000000.$(printf %09d $((i * 37 + 1)))" docs/small-$i; done
    head -c 300000 /dev/urandom > docs/big.bin; touch -d '@1700000000.999999999' docs/big.bin
    truncate -s 4M docs/sparse.img; echo data | dd of=docs/sparse.img bs=1 seek=2000000 conv=notrunc status=none
    touch -d '@1650000000.000000001' docs/sparse.img
    echo brief > docs/sub/letter.txt; touch -a -d '@1600000000.5' docs/sub/letter.txt; touch -m -d '@1700000000.123456789' docs/sub/letter.txt
    ln docs/sub/letter.txt docs/hard-link
    ln -s sub/letter.txt docs/symlink; touch -h -d '@1700000001.987654321' docs/symlink
    ln -s ../nowhere docs/dangling; touch -h -d '@-1.000000001' docs/dangling
    echo alt > old-dir/1969.txt; touch -d '@-100.25' old-dir/1969.txt
    echo future > old-dir/2128.txt; touch -d '@5000000000.000000002' old-dir/2128.txt
    touch -d '@-86399.999999999' old-dir
    echo ro > ro-dir/file; touch -d '@1234567890.5' ro-dir/file; chmod 555 ro-dir; touch -d '@1234567891.75' ro-dir
    touch -d '@1690000000.111111111' docs/sub; touch -d '@1690000001.222222222' docs
  `, 'sh', src]);
}

/** An archive made by Python's tarfile in pax format: its times are floats (`str(float)`: fewer digits). */
async function pythonArchive(file: string): Promise<void> {
  await exec('python3', ['-c', `
import io, sys, tarfile
def add(t, name, mtime, type=tarfile.REGTYPE, data=b'', **kw):
    ti = tarfile.TarInfo(name); ti.type = type; ti.mtime = mtime; ti.mode = kw.pop('mode', 0o644)
    for k, v in kw.items(): setattr(ti, k, v)
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data) if data else None)
with tarfile.open(sys.argv[1], 'w:gz', format=tarfile.PAX_FORMAT) as t:
    add(t, 'docs', 1690000001.25, tarfile.DIRTYPE, mode=0o755)
    add(t, 'docs/a.txt', 1700000000.123456789, data=b'a\\n')
    add(t, 'docs/b.txt', -0.5, data=b'b\\n')
    add(t, 'docs/c.txt', -100.25, data=b'c\\n', pax_headers={'atime': '1600000000.5'})
    add(t, 'docs/link', 1700000001.987654321, tarfile.SYMTYPE, linkname='a.txt', mode=0o777)
    add(t, 'docs/hard', 1700000002.5, tarfile.LNKTYPE, linkname='docs/a.txt')
    # str(float) near the epoch has an exponent ('-1e-09', '1e-05'): GNU tar reads the number before it.
    add(t, 'docs/epoch-before.txt', -1e-09, data=b'e\\n')
    add(t, 'docs/epoch-after.txt', 1e-05, data=b'f\\n')
`, file]);
}

async function gnuExtract(archive: string, dir: string): Promise<void> {
  await mkdir(dir);
  await exec('tar', ['-C', dir, '-xpzf', archive, '--numeric-owner']);
}

async function ourExtract(archive: string, dir: string, writers?: ExtractOptions['writers']): Promise<{ threadedFiles: number; startSec: number }> {
  const startSec = Math.floor(Date.now() / 1000);
  const r = await extractArchive(archive, dir, { logger: silent, writers: writers ?? { threads: 0 } });
  return { threadedFiles: r.threadedFiles, startSec };
}

/** Like GNU tar, the atime is the time of the restore: not the mtime, not the archive's atime. */
function assertAtimesOfRestore(t: Map<string, { atimeSec: number }>, startSec: number): void {
  // The kernel's clock for file times is coarse (a few ms behind): one second of slack.
  for (const [p, e] of t) assert.ok(e.atimeSec >= startSec - 1, `${p}: atime ${e.atimeSec} is before the restore (${startSec})`);
}

describe('sub-second times of foreign pax archives, restored as GNU tar restores them', { skip: !fileTimesEngine().exact && 'the file times binding is not built' }, () => {
  let d: string;
  let gnuPax: string;
  let gnuTimes: Map<string, Times>;

  before(async () => {
    d = await caseDir();
    const src = path.join(d, 'src');
    await mkdir(src);
    await makeTree(src);
    gnuPax = path.join(d, 'gnu-posix.tar.gz');
    await exec('tar', ['-C', src, '--format=posix', '--sparse', '-czf', gnuPax, 'docs', 'ro-dir', 'old-dir']);
    const startSec = Math.floor(Date.now() / 1000);
    await gnuExtract(gnuPax, path.join(d, 'gnu-out'));
    gnuTimes = await times(path.join(d, 'gnu-out'));
    // The fixture holds what it should: GNU tar restores the source's mtimes, and atimes of the moment.
    assert.deepEqual(mtimes(gnuTimes), mtimes(await times(src)));
    assertAtimesOfRestore(gnuTimes, startSec);
    assert.ok(mtimes(gnuTimes).includes('./docs/symlink symbolic link 2023-11-14 22:13:21.987654321 +0000'), mtimes(gnuTimes).join('\n'));
  });

  it("GNU tar's --format=posix archive: every mtime to the nanosecond, on the main thread", async () => {
    const out = path.join(d, 'ours-main');
    const { startSec } = await ourExtract(gnuPax, out);
    const ours = await times(out);
    assert.deepEqual(mtimes(ours), mtimes(gnuTimes));
    assertAtimesOfRestore(ours, startSec);
  });

  it('the same through the writer threads', async () => {
    const out = path.join(d, 'ours-threads');
    const { threadedFiles, startSec } = await ourExtract(gnuPax, out, THREADS);
    assert.ok(threadedFiles >= 20, `only ${threadedFiles} files went through the writer threads`);
    const ours = await times(out);
    assert.deepEqual(mtimes(ours), mtimes(gnuTimes));
    assertAtimesOfRestore(ours, startSec);
  });

  it("the volume root gets the archive's ./ mtime to the nanosecond through the swap", async () => {
    const src = path.join(d, 'root-src');
    await mkdir(src);
    await exec('sh', ['-c', 'echo x > "$1/a" && touch -d @1700000000.1 "$1/a" && touch -d @1690000002.333333333 "$1"', 'sh', src]);
    const archive = path.join(d, 'root.tar.gz');
    await exec('tar', ['-C', src, '--format=posix', '-czf', archive, '.']);
    await gnuExtract(archive, path.join(d, 'root-gnu'));
    const volume = path.join(d, 'root-volume');
    await mkdir(volume);
    const staging = await createWorkDir(volume, 'r1');
    const r = await extractArchive(archive, staging.path, { logger: silent, writers: { threads: 0 } }).finally(() => staging.close());
    assert.equal(r.rootMeta?.mtimeNsec, 333333333);
    await swapIn(volume, { id: 'r1', rootMeta: r.rootMeta, logger: silent });
    const rootTime = async (dir: string) => (await exec('stat', ['--format=%y', dir], UTC)).stdout.trim();
    assert.equal(await rootTime(volume), await rootTime(path.join(d, 'root-gnu')));
    assert.equal(await rootTime(volume), '2023-07-22 04:26:42.333333333 +0000');

    // A ./ beyond what a Date holds (10^13 s): GNU tar restores it (the file system clamps it).
    const far = path.join(d, 'root-far.tar.gz');
    await exec('python3', ['-c', `import tarfile, sys
with tarfile.open(sys.argv[1], 'w:gz', format=tarfile.GNU_FORMAT) as t:
    i = tarfile.TarInfo('./'); i.type = tarfile.DIRTYPE; i.mode = 0o755; i.mtime = 10**13; t.addfile(i)
    i = tarfile.TarInfo('./a'); i.mtime = 1700000000; t.addfile(i)`, far]);
    await gnuExtract(far, path.join(d, 'root-far-gnu'));
    const farVolume = path.join(d, 'root-far-volume');
    await mkdir(farVolume);
    const farStaging = await createWorkDir(farVolume, 'r2');
    const rf = await extractArchive(far, farStaging.path, { logger: silent, writers: { threads: 0 } }).finally(() => farStaging.close());
    assert.equal(rf.rootMeta?.mtimeSec, 10 ** 13);
    await swapIn(farVolume, { id: 'r2', rootMeta: rf.rootMeta, logger: silent });
    assert.equal(await rootTime(farVolume), await rootTime(path.join(d, 'root-far-gnu')));
  });

  it("Python tarfile's pax archive (float times, before 1970, a pax atime): as GNU tar restores it", async () => {
    const archive = path.join(d, 'python-pax.tar.gz');
    await pythonArchive(archive);
    await gnuExtract(archive, path.join(d, 'python-gnu'));
    const expected = await times(path.join(d, 'python-gnu'));
    assert.ok(mtimes(expected).includes('./docs/b.txt regular file 1969-12-31 23:59:59.500000000 +0000'), mtimes(expected).join('\n'));
    assert.ok(mtimes(expected).some((l) => l.startsWith('./docs/epoch-before.txt ')), 'GNU tar extracts the exponent times');
    for (const writers of [undefined, THREADS]) {
      const out = path.join(d, `python-ours-${writers ? 'threads' : 'main'}`);
      const { startSec } = await ourExtract(archive, out, writers);
      const ours = await times(out);
      assert.deepEqual(mtimes(ours), mtimes(expected));
      assertAtimesOfRestore(ours, startSec);
    }
  });

  describe('without the binding (not built)', () => {
    before(() => useFileTimesBinding(false));
    after(() => useFileTimesBinding(true));

    it("sets mtimes through Node's utimes family, as before the binding: up to 1 ms early, atime = mtime", async () => {
      const out = path.join(d, 'ours-no-binding');
      await ourExtract(gnuPax, out);
      const ours = await times(out);
      assert.deepEqual([...ours.keys()], [...gnuTimes.keys()]);
      for (const [p, want] of gnuTimes) {
        const early = want.mtimeNs - ours.get(p)!.mtimeNs;
        assert.ok(early >= 0n && early < 1_000_000n, `${p}: ${ours.get(p)!.mtime} for ${want.mtime}`);
      }
      const { stdout } = await exec('stat', ['--format=%x|%y', path.join(out, 'docs/sub/letter.txt')], UTC);
      const [atime, mtime] = stdout.trim().split('|');
      assert.equal(atime, mtime);
    });
  });
});
