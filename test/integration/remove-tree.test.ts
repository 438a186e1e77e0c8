/**
 * removeTreeAsync, which removes a volume's previous data after a restore: names as bytes, paths
 * beyond PATH_MAX, directories larger than one listing batch, symlinks removed and never followed,
 * and the event loop free meanwhile (the restore's job locks are renewed from it). A tree of many
 * directories is shared out among several `rm -rf` (through `xargs -0`); without xargs the removal
 * of its own does all of it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { removeTreeAsync } from '../../src/engine/fs/remove-tree.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-remove-tree-'));
const latin1 = (p: string) => Buffer.from(p).toString('latin1');

describe('removeTreeAsync', () => {
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('removes names that are not UTF-8, paths beyond PATH_MAX and 5,000 files in one directory', async () => {
    const tree = path.join(root, 'tree');
    // Built by bash and Python, independent of the code under test.
    execFileSync('python3', ['-c', `
import os, sys
t = sys.argv[1]
os.makedirs(os.path.join(t, 'many'))
for i in range(5000): open(os.path.join(t, 'many', 'f%05d' % i), 'w').close()
os.makedirs(os.path.join(t.encode(), b'Bericht_M\\xfcller'))
open(os.path.join(t.encode(), b'Bericht_M\\xfcller', b'\\xe4rztlich.txt'), 'w').write('x')
`, tree]);
    execFileSync('bash', ['-c', `cd "$1" && for i in $(seq 1 25); do d=$(printf 'd%.0s' $(seq 1 200)); mkdir "$d" && cd "$d"; done && echo deep > file`, 'bash', tree]);
    await removeTreeAsync(latin1(tree));
    assert.equal(fs.existsSync(tree), false);
  });

  it('removes a symlink, never what it points to', async () => {
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'keep.txt'), 'still here');
    const tree = path.join(root, 'links');
    fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
    fs.symlinkSync(outside, path.join(tree, 'sub', 'to-outside'));
    fs.symlinkSync(path.join(outside, 'keep.txt'), path.join(tree, 'file-link'));
    await removeTreeAsync(latin1(tree));
    assert.equal(fs.existsSync(tree), false);
    assert.equal(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'still here');
  });

  it('leaves the event loop free while it removes (a synchronous removal runs no callback until done)', async () => {
    const tree = path.join(root, 'busy');
    execFileSync('python3', ['-c', `
import os, sys
for d in range(20):
    p = os.path.join(sys.argv[1], 'd%02d' % d); os.makedirs(p)
    for i in range(200): open(os.path.join(p, 'f%03d' % i), 'w').close()
`, tree]);
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    try {
      await removeTreeAsync(latin1(tree));
    } finally {
      clearInterval(tick);
    }
    assert.equal(fs.existsSync(tree), false);
    assert.ok(turns > 0, 'timers ran while 4,000 files were removed');
  });

  /**
   * `name`: a tree of 40 directories with names that are not UTF-8 and symlinks to a directory
   * outside it, which holds keep.txt.
   */
  function manyDirs(name: string): { tree: string; outside: string } {
    const tree = path.join(root, name);
    const outside = path.join(root, `outside-${name}`);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'keep.txt'), 'still here');
    execFileSync('python3', ['-c', `
import os, sys
t, outside = sys.argv[1].encode(), sys.argv[2].encode()
for d in range(40):
    p = os.path.join(t, b'd%02d' % d); os.makedirs(p)
    for i in range(50): open(os.path.join(p, b'f%02d' % i), 'w').close()
os.makedirs(os.path.join(t, b'd07', b'Bericht_M\\xfcller'))
open(os.path.join(t, b'd07', b'Bericht_M\\xfcller', b'\\xe4rztlich.txt'), 'w').write('x')
os.symlink(outside, os.path.join(t, b'd03', b'to-outside'))
os.symlink(outside, os.path.join(t, b'top-link'))
os.makedirs(os.path.join(t, b'Ordner_\\xe9'))
open(os.path.join(t, b'Ordner_\\xe9', b'f'), 'w').close()
`, tree, outside]);
    return { tree, outside };
  }

  /** Runs `fn` with PATH set to `dirs` first (the test file is its own process: nothing else spawns meanwhile). */
  async function withPath<T>(dirs: string, fn: () => Promise<T>): Promise<T> {
    const saved = process.env.PATH;
    process.env.PATH = dirs;
    try {
      return await fn();
    } finally {
      process.env.PATH = saved;
    }
  }

  it('shares a tree of many directories out among several rm -rf, names as bytes, symlinks not followed', async () => {
    const { tree, outside } = manyDirs('lanes');
    // An xargs that notes each start and the paths it is given, then runs the real one.
    const bin = path.join(root, 'bin-logging');
    const log = path.join(root, 'xargs.log');
    const input = path.join(root, 'xargs.input');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'xargs'), `#!/bin/sh\necho started >> '${log}'\ntee -a '${input}' | /usr/bin/xargs "$@"\n`, { mode: 0o755 });
    await withPath(`${bin}:${process.env.PATH}`, () => removeTreeAsync(latin1(tree)));
    assert.equal(fs.existsSync(tree), false);
    assert.equal(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'still here');
    const starts = fs.readFileSync(log, 'utf8').trim().split('\n').length;
    assert.ok(starts >= 2 && starts <= 8, `${starts} xargs started, expected 2 to 8 lanes`);
    // The name that is not UTF-8 reached rm as its bytes (the removal after the lanes would hide a mangled one),
    // relative to a directory descriptor of ours, not as a path through the tree (remove-tree-race.test.ts).
    const given = fs.readFileSync(input);
    assert.ok(given.includes(Buffer.concat([Buffer.from('/Ordner_'), Buffer.of(0xe9, 0)])), 'the Latin-1 name went to rm byte for byte');
    assert.ok(given.toString('latin1').split('\0').filter(Boolean).every((p) => p.startsWith(`/proc/${process.pid}/fd/`)), given.toString('latin1'));
  });

  it('removes the whole tree on its own when xargs cannot be started', async () => {
    const { tree, outside } = manyDirs('no-xargs');
    const empty = path.join(root, 'bin-empty');
    fs.mkdirSync(empty);
    await withPath(empty, () => removeTreeAsync(latin1(tree)));
    assert.equal(fs.existsSync(tree), false);
    assert.equal(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'still here');
  });

  it('does nothing for a path that does not exist', async () => {
    await removeTreeAsync(latin1(path.join(root, 'never-was')));
  });
});
