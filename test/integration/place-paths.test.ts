/**
 * The file work of single-file restores without the service: swapping chosen paths in place and
 * rolling them back (on failure, and by the recovery after a crash), and the entry index being
 * rebuilt when it is damaged or describes another archive, refused for a hostile archive.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { HostileArchiveError } from '../../src/engine/archive-errors.js';
import { withEntryIndex } from '../../src/engine/entry-index/entry-index.js';
import { listDirectory } from '../../src/engine/entry-index/list-directory.js';
import { swapPaths } from '../../src/engine/swap/place-paths.js';
import { recoverInterruptedRestores } from '../../src/engine/swap/recovery.js';
import { SWAPPED_MARKER, workDirName } from '../../src/engine/swap/work-dir.js';
import { parseArchiveName } from '../../src/core/names.js';
import { verifyBackup } from '../../src/jobs/verify-backup.js';
import { snapshotTree } from '../helpers/tree.js';
import { exec } from '../helpers/volumes.js';
import { madeWorkDir } from '../helpers/work-dir.js';

const silent = pino({ level: 'silent' });
const ID = '11111111-2222-4333-8444-555555555555';
const temps: string[] = [];
after(async () => Promise.all(temps.map((d) => fs.rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-place-'));
  temps.push(d);
  return d;
}

/** A live volume and a work directory whose tree holds new versions of a.txt, docs/b.txt and the new docs/sub/c.txt. */
async function staged(): Promise<{ vol: string; paths: string[] }> {
  const vol = await tempDir();
  await fs.mkdir(path.join(vol, 'docs'));
  await fs.writeFile(path.join(vol, 'a.txt'), 'live a\n');
  await fs.writeFile(path.join(vol, 'docs/b.txt'), 'live b\n');
  await fs.writeFile(path.join(vol, 'docs/other.txt'), 'not chosen\n');
  const tree = await madeWorkDir(vol, ID);
  await fs.mkdir(path.join(tree, 'docs/sub'), { recursive: true });
  await fs.writeFile(path.join(tree, 'a.txt'), 'restored a\n');
  await fs.writeFile(path.join(tree, 'docs/b.txt'), 'restored b\n');
  await fs.writeFile(path.join(tree, 'docs/sub/c.txt'), 'restored c\n');
  return { vol, paths: ['a.txt', 'docs/b.txt', 'docs/sub/c.txt'] };
}

const withoutWork = async (vol: string) => new Map([...(await snapshotTree(vol))].filter(([p]) => !p.startsWith(workDirName(ID)) && p !== '.' && p !== 'docs'));

describe('swapping chosen paths in place', () => {
  it('replaces exactly the chosen paths and creates missing parents', async () => {
    const { vol, paths } = await staged();
    const r = await swapPaths(vol, ID, paths);
    assert.deepEqual(r, { replaced: 2, added: 1 });
    assert.equal(await fs.readFile(path.join(vol, 'a.txt'), 'utf8'), 'restored a\n');
    assert.equal(await fs.readFile(path.join(vol, 'docs/sub/c.txt'), 'utf8'), 'restored c\n');
    assert.equal(await fs.readFile(path.join(vol, 'docs/other.txt'), 'utf8'), 'not chosen\n');
  });

  it('puts every path back when it fails half way', async () => {
    const { vol, paths } = await staged();
    const before = await withoutWork(vol);
    await assert.rejects(swapPaths(vol, ID, paths, { failAfter: 2 }), /every path was put back/);
    assert.deepEqual(await withoutWork(vol), before);
    assert.deepEqual((await fs.readdir(vol)).sort(), ['a.txt', 'docs'], 'no work directory, no created parent');
  });

  it('is rolled back by the recovery when the process died before the commit marker', async () => {
    const { vol, paths } = await staged();
    const before = await withoutWork(vol);
    await swapPaths(vol, ID, paths);
    await fs.rm(path.join(vol, workDirName(ID), SWAPPED_MARKER)); // as if killed right before it
    const actions = await recoverInterruptedRestores(vol, silent);
    assert.match(actions.join(), /rolled back an interrupted restore of single paths \(2 original/);
    assert.deepEqual(await withoutWork(vol), before);
    assert.deepEqual((await fs.readdir(vol)).sort(), ['a.txt', 'docs']);
  });

  it('refuses a path below a symlink in the volume before moving anything', async () => {
    const { vol } = await staged();
    const outside = await tempDir();
    await fs.rm(path.join(vol, 'docs'), { recursive: true });
    await fs.symlink(outside, path.join(vol, 'docs'));
    await assert.rejects(swapPaths(vol, ID, ['docs/b.txt']), /is a symlink, not a directory/);
    assert.deepEqual(await fs.readdir(outside), []);
    assert.equal(await fs.readFile(path.join(vol, 'a.txt'), 'utf8'), 'live a\n');
  });
});

describe('entry index', () => {
  const list = (archive: string) => withEntryIndex(archive, { logger: silent }, (f, e) => listDirectory(f, e, '', { limit: 10 }));

  it('is rebuilt when damaged or when it describes another archive', async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'v'));
    await fs.writeFile(path.join(dir, 'v/x.txt'), 'x');
    const archive = path.join(dir, 'v.tar.gz');
    await exec('tar', ['-C', path.join(dir, 'v'), '-czf', archive, '.']);
    const first = await list(archive);
    assert.equal(first.built, true);
    assert.deepEqual(first.result.entries.map((e) => e.name), ['x.txt']);
    assert.equal((await list(archive)).built, false);
    const index = `${archive}.entries.gz`;
    const bytes = await fs.readFile(index);
    await fs.writeFile(index, bytes.subarray(0, bytes.length - 9)); // truncated
    assert.equal((await list(archive)).built, true);
    await fs.writeFile(path.join(dir, 'v/y.txt'), 'y');
    await exec('tar', ['-C', path.join(dir, 'v'), '-czf', archive, '.']); // another archive under the same name
    const again = await list(archive);
    assert.equal(again.built, true);
    assert.deepEqual(again.result.entries.map((e) => e.name), ['x.txt', 'y.txt']);
  });

  it('answers a listing without reading the archive', async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'v'));
    await fs.writeFile(path.join(dir, 'v/x.txt'), 'x');
    const archive = path.join(dir, 'v.tar.gz');
    await exec('tar', ['-C', path.join(dir, 'v'), '-czf', archive, '.']);
    assert.equal((await list(archive)).built, true);
    const bytes = await fs.readFile(archive);
    await fs.writeFile(archive, Buffer.alloc(bytes.length)); // same size, no longer gzip at all
    const r = await list(archive);
    assert.equal(r.built, false);
    assert.deepEqual(r.result.entries.map((e) => e.name), ['x.txt']);
  });

  it('the verification of an archive removed meanwhile (a prune of a newer run) gives no verdict and writes none', async () => {
    // An audit found it reported as "failed verification" (an alert, a failure counted) with an
    // orphan .verify.json written after the archive was gone.
    const dir = await tempDir();
    const file = 'lucindadata_2030-01-02-0305.tar.gz';
    const outcome = await verifyBackup({ backupDir: dir, archive: parseArchiveName(file)!, sha256: null, testExtract: false, logger: silent });
    assert.equal(outcome.gone, true);
    assert.equal(outcome.ok, false);
    assert.deepEqual(await fs.readdir(dir), [], 'no .verify.json');
  });

  it('is written by the verify job for an archive that has none', async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'v'));
    await fs.writeFile(path.join(dir, 'v/x.txt'), 'x');
    const file = 'lucindadata_2030-01-02-0304.tar.gz';
    await exec('tar', ['-C', path.join(dir, 'v'), '-czf', path.join(dir, file), '.']);
    const outcome = await verifyBackup({ backupDir: dir, archive: parseArchiveName(file)!, sha256: null, testExtract: false, logger: silent });
    assert.equal(outcome.ok, true, outcome.error);
    const r = await list(path.join(dir, file));
    assert.equal(r.built, false, 'the index was there already');
    assert.deepEqual(r.result.entries.map((e) => e.name), ['x.txt']);
  });

  it('is not built for a hostile archive', async () => {
    const dir = await tempDir();
    const archive = path.join(dir, 'evil.tar.gz');
    await exec('python3', ['-c', `
import io, tarfile
with tarfile.open(${JSON.stringify(archive)}, 'w:gz') as t:
    info = tarfile.TarInfo('../outside.txt'); data = b'x'; info.size = len(data)
    t.addfile(info, io.BytesIO(data))
`]);
    await assert.rejects(list(archive), HostileArchiveError);
    assert.deepEqual(await fs.readdir(dir), ['evil.tar.gz'], 'no index, no temp file left');
  });
});
