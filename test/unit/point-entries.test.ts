/**
 * listPointDirectory / findPointPaths (point-entries.ts): a real chain made by archiveIncremental
 * (GNU tar) over a changing volume, new, changed (size and mtime), deleted files, a deleted
 * directory, directories renamed twice holding unchanged files, a renamed file, symlinks, names that
 * are not UTF-8. At each point the chain is restored by GNU tar alone (`tar -xzf -g /dev/null`, the
 * admin's way) and every directory of the restored tree is compared with the listing, page by page.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { ArchiveError } from '../../src/engine/archive-errors.js';
import type { IndexType } from '../../src/engine/entry-index/index-format.js';
import type { Listed } from '../../src/engine/entry-index/list-directory.js';
import { chainLinkOf, restoreChainOf } from '../../src/engine/incremental/chain.js';
import { archiveIncremental } from '../../src/engine/incremental/incremental-archive.js';
import { findPointPaths, listPointDirectory } from '../../src/engine/incremental/point-entries.js';

const exec = promisify(execFile);
const silent = pino({ level: 'silent' });
let tmp = '';
let vol = '';
let backup = '';
/** The chain of each point: the full, then each incremental. */
const points: string[][] = [];

/** A path of the volume as a Buffer (binary string parts, one char per byte). */
const at = (rel: string) => Buffer.from(path.join(vol, rel), 'latin1');
const write = (rel: string, data: string) => writeFile(at(rel), data);
const OLD = new Date(1_600_000_000_000);

async function archive(level: number): Promise<void> {
  const fileName = level === 0 ? 'vol_2026-12-01-0300.tar.gz' : `vol_2026-12-0${level + 1}-0300.inc.tar.gz`;
  let base;
  if (level > 0) {
    const b = await chainLinkOf(backup, points[level - 1]!.at(-1)!);
    if ('reason' in b) throw new Error(b.reason);
    base = b;
  }
  const r = await archiveIncremental({
    volume: 'vol', volumeDir: vol, backupDir: backup, fileName, level, base: base?.link, basedOn: base?.chain ?? [], gzipLevel: 1, logger: silent,
  });
  assert.deepEqual(r.warnings, []);
  points.push(await restoreChainOf(backup, fileName));
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'oob-point-entries-'));
  vol = path.join(tmp, 'vol');
  backup = path.join(tmp, 'backup');
  await mkdir(backup);
  for (const d of ['keep', 'docs', 'old/sub', 'trash/deep', 'many']) await mkdir(at(d), { recursive: true });
  for (const n of ['k1', 'k2', 'k3']) await write(`keep/${n}`, `keep ${n}`);
  await write('docs/a.txt', 'first version');
  await write('docs/b.txt', 'b');
  await write('docs/gone.txt', 'to be deleted');
  await write('docs/caf\xe9.txt', 'Latin-1 name');
  await write('old/o1.txt', 'unchanged in a renamed directory');
  await write('old/o2.txt', 'also unchanged');
  await write('old/sub/s1.txt', 'one level deeper');
  await write('trash/t1', 't1');
  await write('trash/deep/t2', 't2');
  await write('move-me.txt', 'a file that gets renamed');
  // Names that sort differently by bytes than by text: capitals, digits, a byte above 0x7f.
  for (const n of ['a', 'B', 'Z1', 'z', '\xe9', 'm10', 'm9']) await write(`many/${n}`, `many ${n}`);
  await symlink('docs/a.txt', at('link'));
  // Old times, so that a change later moves the mtime by whole seconds.
  for (const f of ['docs/a.txt', 'docs/b.txt', 'keep/k1', 'old/o1.txt', 'many/a']) await utimes(at(f), OLD, OLD);

  await archive(0);

  await appendFile(at('docs/a.txt'), ' and the second');
  await write('docs/new.txt', 'new in 1');
  await write('docs/\xe9\xe9', 'new, not UTF-8');
  await unlink(at('docs/gone.txt'));
  await rm(at('trash'), { recursive: true });
  await rename(at('old'), at('renamed'));
  await rename(at('move-me.txt'), at('moved.txt'));
  await mkdir(at('fresh'));
  await write('fresh/f.txt', 'fresh');
  await symlink('renamed/o1.txt', at('link2'));
  await unlink(at('many/m9'));
  await archive(1);

  // The same directory renamed again (its files unchanged since the full), a subdirectory moved
  // up, a directory of the first name made anew, a changed symlink.
  await rename(at('renamed'), at('again'));
  await rename(at('again/sub'), at('sub2'));
  await mkdir(at('old'));
  await write('old/o1.txt', 'a different file of an old name');
  await write('keep/k1', 'changed in 2, shorter');
  await unlink(at('link'));
  await symlink('keep/k2', at('link'));
  await write('many/m9', 'back again');
  await archive(2);
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Seen {
  name: string;
  type: IndexType;
  size?: number;
  mtimeSec?: number;
  link?: string;
}

/** The children of each directory of a restored tree, as a listing should show them (names as binary strings). */
async function walk(root: string): Promise<Map<string, Seen[]>> {
  const out = new Map<string, Seen[]>();
  async function visit(rel: string): Promise<void> {
    const abs = Buffer.from(rel === '' ? root : path.join(root, rel), 'latin1');
    const names = (await readdir(abs, { encoding: 'buffer' })).map((n) => n.toString('latin1')).sort();
    const seen: Seen[] = [];
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const p = Buffer.from(path.join(root, child), 'latin1');
      const st = await lstat(p);
      if (st.isDirectory()) seen.push({ name, type: 'd' });
      else if (st.isFile()) seen.push({ name, type: 'f', size: st.size, mtimeSec: Math.floor(st.mtimeMs / 1000) });
      else if (st.isSymbolicLink()) seen.push({ name, type: 'l', link: (await readlink(p, { encoding: 'buffer' })).toString('latin1') });
      else seen.push({ name, type: 'o' });
    }
    out.set(rel, seen);
    for (const s of seen) if (s.type === 'd') await visit(rel === '' ? s.name : `${rel}/${s.name}`);
  }
  await visit('');
  return out;
}

/** Every page of `dir` at the point of `chain`, `limit` at a time. */
async function allPages(chain: string[], dir: string, limit: number): Promise<Listed[]> {
  const out: Listed[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await listPointDirectory(backup, chain, dir, { after, limit, logger: silent });
    assert.equal(page.found, true, `directory ${JSON.stringify(dir)} found`);
    assert.ok(page.entries.length <= limit);
    out.push(...page.entries);
    if (page.nextAfter === undefined) return out;
    assert.equal(page.nextAfter, page.entries.at(-1)?.name);
    after = page.nextAfter;
  }
  throw new Error('the pages do not end');
}

function shown(e: Listed): Seen {
  const s: Seen = { name: e.name, type: e.type };
  if (e.type === 'f') Object.assign(s, { size: e.size, mtimeSec: e.mtimeSec });
  if (e.type === 'l') s.link = e.link;
  return s;
}

async function gnuRestore(chain: string[], into: string): Promise<void> {
  await mkdir(into);
  for (const f of chain) await exec('tar', ['-xzf', path.join(backup, f), '-g', '/dev/null', '-C', into]);
}

describe('the volume at a point of an incremental chain', () => {
  for (const level of [0, 1, 2]) {
    it(`lists every directory of point ${level} as GNU tar restores it, page by page`, async () => {
      const chain = points[level]!;
      assert.equal(chain.length, level + 1);
      const into = path.join(tmp, `restored-${level}`);
      await gnuRestore(chain, into);
      const tree = await walk(into);
      for (const [dir, children] of tree) {
        const listed = await allPages(chain, dir, 2);
        for (const e of listed) assert.equal(e.path, dir === '' ? e.name : `${dir}/${e.name}`);
        assert.deepEqual(listed.map(shown), children, `directory ${JSON.stringify(dir)} at point ${level}`);
      }
      // One large page gives the same.
      assert.deepEqual((await allPages(chain, '', 1000)).map(shown), tree.get(''));

      // findPointPaths: every path of the restored tree with its type, in one call, and absent ones.
      const present = new Map<string, IndexType>();
      for (const [dir, children] of tree) for (const c of children) present.set(dir === '' ? c.name : `${dir}/${c.name}`, c.type);
      const absent = ['nope', 'docs/nope', 'nope/deeper', 'docs/a.txt/below', 'many/m9/x'].filter((p) => !present.has(p));
      const found = await findPointPaths(backup, chain, [...present.keys(), ...absent], { logger: silent });
      assert.deepEqual(new Map([...found].sort()), new Map([...present].sort()));
    });
  }

  it('says what changed between the points', async () => {
    const [p0, p1, p2] = [points[0]!, points[1]!, points[2]!];
    const types = (chain: string[], paths: string[]) => findPointPaths(backup, chain, paths, { logger: silent }).then((m) => Object.fromEntries(m));
    const paths = ['trash', 'trash/deep/t2', 'docs/gone.txt', 'old/o1.txt', 'renamed/o1.txt', 'again/o1.txt', 'again/sub/s1.txt', 'sub2/s1.txt', 'move-me.txt', 'moved.txt', 'docs/caf\xe9.txt', 'link'];
    assert.deepEqual(await types(p0, paths), { trash: 'd', 'trash/deep/t2': 'f', 'docs/gone.txt': 'f', 'old/o1.txt': 'f', 'move-me.txt': 'f', 'docs/caf\xe9.txt': 'f', link: 'l' });
    assert.deepEqual(await types(p1, paths), { 'renamed/o1.txt': 'f', 'moved.txt': 'f', 'docs/caf\xe9.txt': 'f', link: 'l' });
    assert.deepEqual(await types(p2, paths), { 'old/o1.txt': 'f', 'again/o1.txt': 'f', 'sub2/s1.txt': 'f', 'moved.txt': 'f', 'docs/caf\xe9.txt': 'f', link: 'l' });

    // A deleted directory, a file, a missing path are no directories to list.
    for (const [chain, dir] of [[p1, 'trash'], [p2, 'trash/deep'], [p2, 'docs/a.txt'], [p2, 'renamed'], [p2, 'nope']] as const) {
      assert.deepEqual(await listPointDirectory(backup, chain, dir, { limit: 5, logger: silent }), { found: false, entries: [], nextAfter: undefined });
    }
    // An unchanged file in a directory renamed twice: the full's data, under today's path.
    const [o1] = (await listPointDirectory(backup, p2, 'again', { limit: 1, logger: silent })).entries;
    assert.deepEqual({ ...o1 }, { type: 'f', path: 'again/o1.txt', name: 'o1.txt', size: 32, mtimeSec: OLD.getTime() / 1000, link: undefined });
    // The old name reused by a new directory holds the new file only.
    assert.deepEqual((await allPages(p2, 'old', 2)).map((e) => [e.name, e.size]), [['o1.txt', 31]]);
  });

  it('refuses a snapshot that is damaged or does not match its manifest', async () => {
    const top = points[2]!.at(-1)!;
    const snar = path.join(backup, `${top}.snar`);
    const good = await readFile(snar);
    const renamed = Buffer.from(good);
    renamed[good.indexOf('Nk3') + 2] = '4'.charCodeAt(0); // still a well-formed snapshot
    const refused = (pattern: RegExp) => (err: Error) => err instanceof ArchiveError && pattern.test(err.message);
    try {
      await writeFile(snar, renamed);
      await assert.rejects(listPointDirectory(backup, points[2]!, 'keep', { limit: 5, logger: silent }), refused(/does not match the checksum in its manifest/));
      await writeFile(snar, Buffer.concat([good, Buffer.from('x')]));
      await assert.rejects(findPointPaths(backup, points[2]!, ['keep/k3'], { logger: silent }), refused(/is truncated/));
    } finally {
      await writeFile(snar, good);
    }
    assert.equal((await listPointDirectory(backup, points[2]!, 'keep', { limit: 5, logger: silent })).entries.length, 3);
  });
});
