/**
 * The extraction's early flushes (src/engine/fs/writeback.ts): `sync -f <staging>` every so many
 * extracted bytes, one at a time, none still running when the extraction returns, and a `sync`
 * that fails never fails the extraction. A wrapper named `sync` first on PATH (helpers/sync-wrapper.ts)
 * records every call (start and end) and then runs the real one, or fails.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { caseDirs } from '../helpers/case-dirs.js';
import { assertSameTree, ignoreRoot, snapshotTree } from '../helpers/tree.js';
import { syncWrapperPath } from '../helpers/sync-wrapper.js';
import { gnuTarArchive } from '../helpers/volumes.js';
import { extractArchive } from '../../src/engine/extract/extract-archive.js';
import { restoreChain } from '../../src/engine/incremental/restore-chain.js';

const silent = pino({ level: 'silent' });
const { caseDir } = caseDirs('oob-writeback-');
const MiB = 1024 * 1024;

/**
 * A case: the `sync` wrapper first on PATH (logging to `log`), and a volume of `files`
 * incompressible files of 1 MiB archived by GNU tar; `staging` does not exist yet.
 */
async function setUp(files: number, failingSync: boolean): Promise<{ log: string; vol: string; archive: string; staging: string }> {
  const dir = await caseDir();
  const log = path.join(dir, 'sync.log');
  process.env.PATH = syncWrapperPath(dir, log, { fail: failingSync, pauseSeconds: 0.2 });
  const vol = path.join(dir, 'vol');
  fs.mkdirSync(path.join(vol, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(vol, 'sub', `f${i}.bin`), randomBytes(MiB));
  const archive = path.join(dir, 'vol.tar.gz');
  await gnuTarArchive(vol, archive);
  return { log, vol, archive, staging: path.join(dir, 'staging') };
}

describe('extraction: early flushes of the staging directory', () => {
  const PATH = process.env.PATH;
  after(() => {
    process.env.PATH = PATH;
  });

  it('flushes the staging file system every writebackEveryBytes, one flush at a time, none left running on return', async () => {
    const { log, vol, archive, staging } = await setUp(6, false);
    await extractArchive(archive, staging, { logger: silent, writebackEveryBytes: MiB });
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    const starts = lines.filter((l) => l.startsWith('start '));
    assert.ok(starts.length >= 1, `at least one flush for 6 MiB at 1 MiB steps: ${lines.join(' | ')}`);
    for (const s of starts) assert.equal(s, `start -f ${staging}`);
    // One at a time: every start is followed by its end before the next start; the last end is
    // there when extractArchive returned (the wrapper sleeps before it writes "end").
    assert.deepEqual(lines, starts.flatMap(() => ['start -f ' + staging, 'end']));
    assertSameTree(await snapshotTree(vol), await snapshotTree(staging), { ignore: ignoreRoot });
  });

  it('a failing sync stops the flushes, not the extraction', async () => {
    const { log, vol, archive, staging } = await setUp(6, true);
    await extractArchive(archive, staging, { logger: silent, writebackEveryBytes: MiB });
    assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), [`start -f ${staging}`]);
    assertSameTree(await snapshotTree(vol), await snapshotTree(staging), { ignore: ignoreRoot });
  });

  it('writebackEveryBytes 0 never flushes, nor does a single-file restore (it writes a few files)', async () => {
    const { log, archive, staging } = await setUp(3, false);
    await extractArchive(archive, staging, { logger: silent, writebackEveryBytes: 0 });
    const one = `${staging}-one`;
    await extractArchive(archive, one, { logger: silent, writebackEveryBytes: MiB, select: (rel) => rel === 'sub/f0.bin' });
    assert.equal(fs.existsSync(log), false);
    assert.equal(fs.statSync(path.join(one, 'sub', 'f0.bin')).size, MiB);
  });

  it('a restore passes its interval on (RESTORE_WRITEBACK_MIB → restoreChain → the extraction)', async () => {
    const { log, vol, archive, staging } = await setUp(6, false);
    await restoreChain({ files: [archive], stagingDir: `${staging}-off`, logger: silent, writebackEveryBytes: 0 });
    assert.equal(fs.existsSync(log), false, 'no flush with 0');
    await restoreChain({ files: [archive], stagingDir: staging, logger: silent, writebackEveryBytes: MiB });
    const starts = fs.readFileSync(log, 'utf8').trim().split('\n').filter((l) => l.startsWith('start '));
    assert.ok(starts.length >= 1 && starts.every((l) => l === `start -f ${staging}`), starts.join(' | '));
    assertSameTree(await snapshotTree(vol), await snapshotTree(staging), { ignore: ignoreRoot });
  });
});
