/**
 * removeTreeAsync runs as root on trees the share's users can write to while they are removed (a
 * volume's previous data, a forged work directory): a directory swapped for a symlink to another
 * volume after it was listed must not lead the removal there. Deterministically (the test-only
 * `onListed` hook swaps right after a listing, the window the race needs), through the parallel
 * `rm -rf` lanes, and in a real race with a concurrent process. GNU rm's own behaviour on symlink
 * operands is pinned too, since the lanes rely on it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs, { constants as fsc } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { removeTreeAsync } from '../../src/engine/fs/remove-tree.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-remove-tree-race-'));
const latin1 = (p: string) => Buffer.from(p).toString('latin1');
const py = (script: string, ...args: string[]) => execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8' });

/** A directory outside every tree that is removed, with files at two levels: what a symlink swapped in points to. */
function victim(name: string): string {
  const v = path.join(root, name);
  fs.mkdirSync(path.join(v, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(v, 'keep.txt'), 'still here');
  fs.writeFileSync(path.join(v, 'sub', 'keep2.txt'), 'still here');
  return v;
}
function assertIntact(v: string): void {
  assert.equal(fs.readFileSync(path.join(v, 'keep.txt'), 'utf8'), 'still here', `${v}/keep.txt`);
  assert.equal(fs.readFileSync(path.join(v, 'sub', 'keep2.txt'), 'utf8'), 'still here', `${v}/sub/keep2.txt`);
}
/** `mv <dir>/<name> <stash>; ln -s <target> <dir>/<name>` as a share user would (names as bytes, no Node fs). */
function swapForSymlink(dir: string, name: string, stash: string, target: string): void {
  py('import os, sys; d, n = sys.argv[1].encode(), sys.argv[2].encode("latin1"); os.rename(os.path.join(d, n), sys.argv[3]); os.symlink(sys.argv[4], os.path.join(d, n))', dir, name, stash, target);
}

describe('removeTreeAsync against a symlink swapped in while it runs', () => {
  after(() => execFileSync('rm', ['-rf', '--', root]));

  it('a directory replaced by a symlink after it was listed is unlinked, not followed, also beyond PATH_MAX and under a Latin-1 name', async () => {
    const tree = path.join(root, 'listed');
    const outside = victim('victim-listed');
    const deep = Array.from({ length: 25 }, () => 'd'.repeat(200)).join('/');
    py(`
import os, sys
t = sys.argv[1].encode()
os.makedirs(os.path.join(t, b'a')); os.makedirs(os.path.join(t, b'x', b'sub'))
for i in range(10): open(os.path.join(t, b'a', b'f%d' % i), 'w').close()
open(os.path.join(t, b'x', b'dummy'), 'w').close(); open(os.path.join(t, b'x', b'sub', b'file'), 'w').close()
os.chdir(t)
for _ in range(25): os.mkdir(b'd' * 200); os.chdir(b'd' * 200)
os.makedirs(os.path.join(b'Ordner_\\xe9', b'inner')); open(os.path.join(b'Ordner_\\xe9', b'inner', b'f'), 'w').close()
`, tree);
    const deepParent = `${latin1(tree)}/${deep}`;
    const swapped: string[] = [];
    await removeTreeAsync(latin1(tree), {
      onListed(dir, phase) {
        if (phase !== 'remove') return;
        if (dir === latin1(tree) && !swapped.includes('x')) {
          swapForSymlink(tree, 'x', path.join(root, 'stash-x'), outside);
          swapped.push('x');
        }
        if (dir === deepParent && !swapped.includes('deep')) {
          // Beyond PATH_MAX: the share user's rename, from inside the deep directory.
          execFileSync('bash', ['-c', `cd "$1" && for i in $(seq 1 25); do cd "$2"; done && mv $'Ordner_\\xe9' "$3" && ln -s "$4" $'Ordner_\\xe9'`, 'bash', tree, 'd'.repeat(200), path.join(root, 'stash-deep'), outside]);
          swapped.push('deep');
        }
      },
    });
    assert.deepEqual(swapped, ['x', 'deep'], 'both swaps happened between a listing and the descent');
    assert.equal(fs.existsSync(tree), false);
    assertIntact(outside);
    // What the user moved away before we went into it was never reached either.
    assert.ok(fs.existsSync(path.join(root, 'stash-x', 'sub', 'file')));
    assert.ok(fs.existsSync(path.join(root, 'stash-deep', 'inner', 'f')));
  });

  it('the rm -rf lanes get paths from our descriptors: neither a swapped parent nor a swapped subtree leads them out', async () => {
    const tree = path.join(root, 'lanes');
    // d1 becomes a symlink to a directory holding the same names as d1 (what rm -rf <tree>/d1/s0 would follow).
    const sameNames = path.join(root, 'victim-same-names');
    py(`
import os, sys
t, v = sys.argv[1], sys.argv[2]
for d in range(4):
    for s in range(6):
        os.makedirs(os.path.join(t, 'd%d' % d, 's%d' % s))
        for i in range(5): open(os.path.join(t, 'd%d' % d, 's%d' % s, 'f%d' % i), 'w').close()
for s in range(6):
    os.makedirs(os.path.join(v, 's%d' % s)); open(os.path.join(v, 's%d' % s, 'keep.txt'), 'w').write('still here')
`, tree, sameNames);
    const outside = victim('victim-lanes');
    const bin = path.join(root, 'bin-logging');
    const input = path.join(root, 'xargs.input');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'xargs'), `#!/bin/sh\ntee -a '${input}' | /usr/bin/xargs "$@"\n`, { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`; // this test file is its own process: nothing else spawns meanwhile
    try {
      await removeTreeAsync(latin1(tree), {
        onListed(dir, phase) {
          if (phase !== 'lanes') return;
          if (dir === `${tree}/d1`) swapForSymlink(tree, 'd1', path.join(root, 'stash-d1'), sameNames);
          if (dir === `${tree}/d2`) swapForSymlink(path.join(tree, 'd2'), 's3', path.join(root, 'stash-s3'), outside);
        },
      });
    } finally {
      process.env.PATH = saved;
    }
    assert.equal(fs.existsSync(tree), false);
    assertIntact(outside);
    for (let s = 0; s < 6; s++) assert.equal(fs.readFileSync(path.join(sameNames, `s${s}`, 'keep.txt'), 'utf8'), 'still here');
    // rm took d1's subtrees in the directory that was listed, wherever it has been moved to.
    assert.deepEqual(fs.readdirSync(path.join(root, 'stash-d1')), []);
    const operands = fs.readFileSync(input, 'latin1').split('\0').filter(Boolean);
    assert.ok(operands.length >= 20, `the lanes ran: ${operands.length} operands`);
    for (const p of operands) {
      assert.match(p, new RegExp(`^/proc/${process.pid}/fd/\\d+/[^/]+$`), 'a name in a directory of ours, never a trailing "/"');
    }
  });

  it('GNU rm -rf unlinks a symlink operand, also through /proc/<pid>/fd; with a trailing "/" it would empty the target', () => {
    const dir = path.join(root, 'rm-operands');
    fs.mkdirSync(dir);
    const outside = victim('victim-rm');
    fs.symlinkSync(outside, path.join(dir, 'plain'));
    fs.symlinkSync(outside, path.join(dir, 'via-fd'));
    const fd = fs.openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      execFileSync('rm', ['-rf', '--one-file-system', '--', path.join(dir, 'plain'), `/proc/${process.pid}/fd/${fd}/via-fd`]);
    } finally {
      fs.closeSync(fd);
    }
    assert.deepEqual(fs.readdirSync(dir), []);
    assertIntact(outside);
    // Why no operand may end in "/": rm resolves `link/` to the target and removes what is in it.
    const other = victim('victim-trailing-slash');
    fs.symlinkSync(other, path.join(dir, 'slash'));
    execFileSync('rm', ['-rf', '--', `${path.join(dir, 'slash')}/`]);
    assert.deepEqual(fs.readdirSync(other), [], 'rm -rf link/ emptied the target (if rm stops doing that, the rule is merely harmless)');
  });

  it('a real race: a concurrent process swaps directories for symlinks while the removal is busy in a large one', async () => {
    const tree = path.join(root, 'race');
    const outside = victim('victim-race');
    const stash = path.join(root, 'stash-race');
    fs.mkdirSync(stash);
    // x0..x7, then a directory of 5,000 files (too many names to share out: no lanes, our removal
    // alone) under a name that readdir lists before at least two of them, whatever order this file
    // system lists names in: those are listed with it and still there while the removal is busy in it.
    const { big, later } = JSON.parse(py(`
import os, sys, json
t = sys.argv[1]
for i in range(8):
    x = os.path.join(t, 'x%d' % i); os.makedirs(x); open(os.path.join(x, 'dummy'), 'w').close()
for k in range(200):
    big = 'a%d' % k; os.mkdir(os.path.join(t, big))
    order = os.listdir(t)
    later = order[order.index(big) + 1:]
    if len(later) >= 2: break
    os.rmdir(os.path.join(t, big))
for i in range(5000): open(os.path.join(t, big, 'f%05d' % i), 'w').close()
print(json.dumps({'big': big, 'later': later}))
`, tree)) as { big: string; later: string[] };
    assert.ok(later.length >= 2, 'directories listed after the large one');
    // As a share user would: wait until the large directory shrinks, then swap every x that is still there.
    const racer = spawn('python3', ['-c', `
import os, sys, json, time
t, big, v, stash = sys.argv[1:5]
a = os.path.join(t, big)
print('ready', flush=True)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        if len(os.listdir(a)) < 5000: break
    except FileNotFoundError:
        break
swapped = []
for x in sorted(n for n in os.listdir(t) if n.startswith('x')):
    try:
        os.rename(os.path.join(t, x), os.path.join(stash, x))
    except OSError:
        continue
    os.symlink(v, os.path.join(t, x)); swapped.append(x)
print(json.dumps(swapped), flush=True)
`, tree, big, outside, stash], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    racer.stdout.setEncoding('utf8');
    const ended = new Promise<void>((resolve) => racer.once('close', () => resolve()));
    await new Promise<void>((resolve) => racer.stdout.on('data', (s: string) => ((out += s), out.includes('ready\n') && resolve())));
    const removal = await removeTreeAsync(latin1(tree)).then(() => undefined, (err: unknown) => err);
    await ended;
    const swapped: string[] = JSON.parse(out.split('\n')[1]!);
    assertIntact(outside);
    assert.equal(removal, undefined, String(removal));
    assert.equal(fs.existsSync(tree), false);
    assert.ok(later.some((x) => swapped.includes(x)), `a directory listed before the swap was swapped (${swapped.join(' ')}; listed after ${big}: ${later.join(' ')})`);
  });
});
