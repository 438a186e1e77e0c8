/**
 * takeChosenPaths (a single-file restore from an incremental: the chosen paths out of the restored
 * chain): real files in a temp dir; names as bytes, parent folders with the backup's metadata, a
 * hard link kept, nothing moved when a chosen path is missing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { takeChosenPaths } from '../../src/engine/incremental/take-paths.js';

const bin = (...parts: (string | Buffer)[]) => Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [Buffer.from(p)] : [Buffer.from('/'), Buffer.from(p)])));

describe('takeChosenPaths', () => {
  let tmp = '';
  let chain = '';
  const latin1Name = Buffer.from([0x42, 0xe9, 0x66, 0x75, 0x6e, 0x64]); // "Béfund" in Latin-1, not UTF-8
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'take-paths-'));
    chain = path.join(tmp, 'chain');
    await fs.mkdir(path.join(chain, 'a', 'b'), { recursive: true });
    await fs.mkdir(bin(chain, 'a', latin1Name));
    await fs.writeFile(bin(chain, 'a', latin1Name, 'x.txt'), 'twelve bytes');
    await fs.writeFile(path.join(chain, 'a', 'b', 'keep.txt'), 'stays behind');
    await fs.writeFile(path.join(chain, 'a', 'b', 'one.txt'), '1');
    await fs.link(path.join(chain, 'a', 'b', 'one.txt'), path.join(chain, 'a', 'b', 'linked.txt'));
    await fs.symlink('one.txt', path.join(chain, 'a', 'b', 'sym'));
    await fs.chmod(path.join(chain, 'a'), 0o750);
    await fs.chmod(path.join(chain, 'a', 'b'), 0o711);
    await fs.utimes(path.join(chain, 'a', 'b'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    await fs.utimes(path.join(chain, 'a'), new Date(1_100_000_000_000), new Date(1_100_000_000_000));
    await fs.chmod(chain, 0o705);
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('moves nothing when a chosen path is missing, and names it', async () => {
    const tree = path.join(tmp, 'tree-missing');
    const r = await takeChosenPaths(chain, tree, ['a/b/one.txt', 'a/b/nope.txt']);
    assert.deepEqual(r.missing, ['a/b/nope.txt']);
    assert.equal(await fs.stat(tree).catch(() => undefined), undefined);
    assert.equal(await fs.readFile(path.join(chain, 'a', 'b', 'one.txt'), 'utf8'), '1');
  });

  it('moves the chosen paths with their parents; counts files and bytes; parents get the backup\'s mode and mtime', async () => {
    const tree = path.join(tmp, 'tree');
    const folder = Buffer.concat([Buffer.from('a/'), latin1Name]).toString('latin1');
    const r = await takeChosenPaths(chain, tree, [folder, 'a/b/one.txt', 'a/b/linked.txt', 'a/b/sym']);
    assert.deepEqual(r.missing, []);
    assert.equal(r.files, 3);
    assert.equal(r.bytes, 12 + 1 + 1);
    assert.equal(r.rootMode, 0o705);
    assert.equal(await fs.readFile(bin(tree, 'a', latin1Name, 'x.txt'), 'utf8'), 'twelve bytes');
    const one = await fs.stat(path.join(tree, 'a', 'b', 'one.txt'));
    assert.equal(one.ino, (await fs.stat(path.join(tree, 'a', 'b', 'linked.txt'))).ino, 'hard link kept');
    assert.equal(await fs.readlink(path.join(tree, 'a', 'b', 'sym')), 'one.txt');
    const b = await fs.stat(path.join(tree, 'a', 'b'));
    assert.equal(b.mode & 0o7777, 0o711);
    assert.equal(b.mtimeMs, 1_000_000_000_000);
    const a = await fs.stat(path.join(tree, 'a'));
    assert.equal(a.mode & 0o7777, 0o750);
    assert.equal(a.mtimeMs, 1_100_000_000_000);
    assert.equal((await fs.stat(tree)).mode & 0o7777, 0o705);
    assert.deepEqual((await fs.readdir(path.join(tree, 'a', 'b'))).sort(), ['linked.txt', 'one.txt', 'sym'], 'unchosen keep.txt stays behind');
    assert.deepEqual(await fs.readdir(path.join(chain, 'a', 'b')), ['keep.txt']);
  });
});
