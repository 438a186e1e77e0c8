/**
 * The paper replay of GNU tar's rename records (rename-replay.ts) and their reading from the tar
 * stream (rename-records.ts). The records of the audit's cases are the ones GNU tar 1.34 wrote
 * (`tar -tvv -G`), in its order; whether its restore applied them is what `tar -xzf -g /dev/null`
 * said (test/integration/incremental-renames.test.ts checks the whole way through the service).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RootRenameRecords } from '../../src/engine/incremental/rename-records.js';
import { replayRenames, wantedBasePaths, type BaseKind } from '../../src/engine/incremental/rename-replay.js';

const exec = promisify(execFile);

/** A base tree: directories, and files marked with a trailing "!" ("d/f!"). */
const base = (...paths: string[]) => (p: string): BaseKind => (paths.includes(p) ? 'dir' : paths.includes(`${p}!`) ? 'file' : undefined);
const r = (...pairs: [string, string][]) => pairs.map(([from, to]) => ({ from, to }));
const tree = base('P', 'P/A', 'P/B', 'T', 'T/N0', 'T/t!', 'd', 'd/A', 'd/f!');

describe('replayRenames', () => {
  it('fails where GNU tar 1.34 failed (audit D1, D2, and the documented conflicts)', () => {
    // mv P P2; rm -r P2/B; mv P2/A P2/B
    assert.match(replayRenames(r(['P', 'P2'], ['P2/A', 'P2/B']), tree)!, /rename "\.\/P2\/A" to "\.\/P2\/B", whose name is taken then/);
    // mv P P2; mv P2/A P2/tmp; mv P2/B P2/A; mv P2/tmp P2/B
    assert.match(replayRenames(r(['P', 'P2'], ['P2/B', 'P2/A'], ['P2/A', 'P2/B']), tree)!, /"\.\/P2\/B" to "\.\/P2\/A", whose name is taken/);
    // mv T/N0 N0b; mv T T3 (the child's record first, under the parent's new name)
    assert.match(replayRenames(r(['T3/N0', 'N0b'], ['T', 'T3']), tree)!, /"\.\/T3\/N0" to "\.\/N0b", which is not there then/);
    // mkdir NEWP; mv T/N0 NEWP/N0; mv T NEWP/T3
    assert.match(replayRenames(r(['NEWP/T3/N0', 'NEWP/N0'], ['T', 'NEWP/T3']), tree)!, /which is not there then/);
    // rm -r P/B; mv P/A P/B, and onto a file's name
    assert.match(replayRenames(r(['P/A', 'P/B']), tree)!, /whose name is taken/);
    assert.match(replayRenames(r(['d/A', 'd/f']), tree)!, /whose name is taken/);
    assert.match(replayRenames(r(['d/A', 'T/t/x']), tree)!, /below a file/);
    assert.match(replayRenames(r(['d', 'd/A/d']), tree)!, /into itself/);
    assert.match(replayRenames(r(['', 'd']), tree)!, /names it cannot resolve/);
  });

  it('passes what GNU tar 1.34 replayed (the audit\'s fine cases)', () => {
    for (const records of [
      r(['T', 'T3'], ['T3/N0', 'Zout']), // mv T/N0 Zout; mv T T3
      r(['P', 'P2'], ['P2/A', 'P2/A2']), // a child renamed inside a renamed parent, either order
      r(['T', 'NEWP/T3']), // into a new directory, which GNU tar makes
      r(['T/N0', 'NEWP/N0']),
      r(['T', 'T3'], ['P/A', 'T3/A']), // into a renamed directory
      r(['T', 'T3'], ['P', 'T3/P']),
      r(['P/B', 'P/C'], ['P/A', 'P/B']), // a shift in the right order
    ]) assert.equal(replayRenames(records, tree), undefined, JSON.stringify(records));
    assert.match(replayRenames(r(['P/A', 'P/B'], ['P/B', 'P/C']), tree)!, /whose name is taken/);
  });

  it('asks the base only about paths wantedBasePaths names, whatever the base and the records', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const names = ['a', 'b', 'c'];
    const somePath = () => Array.from({ length: 1 + rnd(3) }, () => names[rnd(3)]).join('/');
    for (let round = 0; round < 2000; round++) {
      const paths = Array.from({ length: rnd(12) }, () => (rnd(4) === 0 ? `${somePath()}!` : somePath()));
      const records = Array.from({ length: 1 + rnd(4) }, () => ({ from: somePath(), to: somePath() }));
      const wanted = wantedBasePaths(records);
      const kind = base(...paths);
      replayRenames(records, (p) => {
        assert.ok(wanted.has(p), `${p} not wanted for ${JSON.stringify(records)}`);
        return kind(p);
      });
    }
  });
});

describe('RootRenameRecords', () => {
  let tmp = '';
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('reads the R/T records of a real incremental, in any chunking, and nothing of the rest', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rename-records-'));
    const vol = path.join(tmp, 'vol');
    for (const d of ['T/N0', 'P/A', 'caf\u00e9']) await mkdir(path.join(vol, d), { recursive: true });
    for (let i = 0; i < 300; i++) await writeFile(path.join(vol, `top-level-name-${i}`), 'x'); // a root dumpdir over several blocks
    const snar = path.join(tmp, 'snar');
    const tar = (...more: string[]) =>
      exec('tar', ['--create', '--format=gnu', '--no-check-device', `--listed-incremental=${snar}`, '--file=-', ...more, '-C', vol, '.'], { encoding: 'buffer', maxBuffer: 1 << 26, env: { ...process.env, LC_ALL: 'C' } });
    await tar();
    await rename(path.join(vol, 'T/N0'), path.join(vol, 'N0b'));
    await rename(path.join(vol, 'T'), path.join(vol, 'T3'));
    await rename(path.join(vol, 'caf\u00e9'), path.join(vol, 'caf\u00e8'));
    const { stdout } = await tar();
    // Names as the snapshot scan gives them: one char per byte (here UTF-8's two).
    const latin1 = (s: string) => Buffer.from(s).toString('latin1');
    for (const size of [1, 7, 512, 513, stdout.length]) {
      const records = new RootRenameRecords();
      for (let i = 0; i < stdout.length; i += size) records.feed(stdout.subarray(i, i + size));
      assert.deepEqual(records.result(), { renames: r(['T3/N0', 'N0b'], ['T', 'T3'], [latin1('caf\u00e9'), latin1('caf\u00e8')]), tempDir: false }, `chunks of ${size}`);
    }
    const cut = new RootRenameRecords();
    cut.feed(stdout.subarray(0, 600));
    assert.match(cut.result() as string, /ended inside its root dumpdir/);
    const notTar = new RootRenameRecords();
    notTar.feed(Buffer.alloc(1024, 0x41));
    assert.match(notTar.result() as string, /first header cannot be read/);
  });
});
