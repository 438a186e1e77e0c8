/**
 * The entry index's paging: one directory level, sorted by bytes, every name once (its last
 * occurrence, as tar extracts it), directories known only from entries below them included,
 * however the archive orders its entries and however small the page.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { EntryFields } from '../../src/engine/entry-digest.js';
import { listDirectory, type Listed } from '../../src/engine/entry-index/list-directory.js';
import { StaleIndexError } from '../../src/engine/entry-index/index-reader.js';
import { EntryIndexWriter } from '../../src/engine/entry-index/index-writer.js';
import { selectPaths } from '../../src/engine/entry-index/select-paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-index-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const SHA = 'a'.repeat(64);
const expected = { size: 1000, sha256: SHA };

function entry(type: EntryFields['type'], name: string, size = 0, link?: string): EntryFields {
  return { type, name, link, size, mode: 0o644, uid: 0, gid: 0, mtimeSec: 1_700_000_000, mtimeNsec: 0 };
}

function writeIndex(entries: EntryFields[]): string {
  const file = path.join(dir, `i${Math.random().toString(16).slice(2)}.entries.gz`);
  const w = new EntryIndexWriter(file);
  for (const e of entries) w.add(e);
  w.finish(expected.size, SHA);
  return file;
}

/** Deterministic shuffle. */
function shuffled<T>(list: T[], seed = 7): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function allPages(file: string, d: string, limit: number): Promise<{ names: Listed[]; pages: number }> {
  const names: Listed[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await listDirectory(file, expected, d, { after, limit });
    assert.equal(page.found, true);
    assert.ok(page.entries.length <= limit);
    names.push(...page.entries);
    pages++;
    if (page.nextAfter === undefined) return { names, pages };
    after = page.nextAfter;
  }
}

describe('entry index listing', () => {
  const names = Array.from({ length: 300 }, (_, i) => `f${String(i).padStart(3, '0')}`);
  const entries = shuffled([
    entry('dir', './'),
    ...names.map((n, i) => entry('file', `./d/${n}`, i)),
    entry('file', './d/f007', 9999), // a later occurrence replaces the first
    entry('file', './d/sub/deep.txt', 1), // "sub" exists only through this
    entry('file', './other.txt', 3),
    entry('file', Buffer.from('./d/\xfc', 'latin1').toString('latin1'), 5),
  ]);
  const file = writeIndex(entries);

  for (const limit of [1, 7, 200, 1000]) {
    it(`pages with limit ${limit}: sorted by bytes, each name once, its last occurrence`, async () => {
      const { names: got, pages } = await allPages(file, 'd', limit);
      const want = [...names, 'sub', '\xfc'].sort();
      assert.deepEqual(got.map((e) => e.name), want);
      assert.equal(pages, Math.max(1, Math.ceil(want.length / limit)));
      const f007 = got.find((e) => e.name === 'f007')!;
      assert.equal(f007.size, entries.filter((e) => e.name === './d/f007').at(-1)!.size, 'the occurrence that comes last in the archive');
      const sub = got.find((e) => e.name === 'sub')!;
      assert.deepEqual([sub.type, sub.mtimeSec], ['d', null], 'a directory known from below: its time is unknown');
    });
  }

  it('pages folders known only from entries below them, with tiny pages', async () => {
    const subs = Array.from({ length: 50 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const f = writeIndex(shuffled(subs.flatMap((d) => [entry('file', `./m/${d}/x`, 1), entry('file', `./m/${d}/y`, 1)]), 3));
    const { names: got, pages } = await allPages(f, 'm', 3);
    assert.deepEqual(got.map((e) => e.name), subs);
    assert.equal(pages, 17);
  });

  it('says found: false for a missing directory and for a file', async () => {
    assert.equal((await listDirectory(file, expected, 'nothing', { limit: 10 })).found, false);
    assert.equal((await listDirectory(file, expected, 'other.txt', { limit: 10 })).found, false);
  });

  it('refuses an index of another archive', async () => {
    await assert.rejects(listDirectory(file, { size: 1001, sha256: SHA }, '', { limit: 10 }), StaleIndexError);
    await assert.rejects(listDirectory(file, { size: 1000, sha256: 'b'.repeat(64) }, '', { limit: 10 }), StaleIndexError);
  });

  it('selects chosen paths, folders known from below, and hard link targets outside them', async () => {
    const f = writeIndex([
      entry('dir', './'),
      entry('file', './a/first.txt', 4),
      entry('hardlink', './b/second.txt', 0, './a/first.txt'),
      entry('file', './b/c/x', 10),
    ]);
    const s = await selectPaths(f, expected, ['b', 'nope']);
    assert.deepEqual([...s.found], [['b', 'd']]);
    assert.deepEqual([...s.linkTargets], ['a/first.txt']);
    assert.equal(s.bytes, 10);
  });
});
