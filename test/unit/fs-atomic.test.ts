/** writeFileAtomic and createNewFileStream with real files: concurrent writers, a crash's temp files, a file that exists at once. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { once } from 'node:events';
import { createNewFileStream, isTempFileOf, tempFilesOf, writeFileAtomic } from '../../src/engine/fs/atomic.js';
import { caseDirs } from '../helpers/case-dirs.js';

const dirs = caseDirs('oob-fs-atomic-');

describe('writeFileAtomic', () => {
  it('two writers of one file (two verifications of one archive) both succeed; the file is one of them, whole', async () => {
    const file = path.join(await dirs.caseDir(), 'x.tar.gz.verify.json');
    const contents = Array.from({ length: 20 }, (_, i) => `${JSON.stringify({ writer: i, pad: 'y'.repeat(64 * 1024) })}\n`);
    const results = await Promise.allSettled(contents.map((c) => writeFileAtomic(file, c)));
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), [], 'no writer failed');
    assert.ok(contents.includes(await fs.readFile(file, 'utf8')), 'the file is one writer\'s complete content');
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['x.tar.gz.verify.json'], 'no temp file left');
  });

  it('names its temp files so that tempFilesOf finds a dead writer\'s, and only those', async () => {
    const dir = await dirs.caseDir();
    const file = path.join(dir, 'a.tar.gz.sha256');
    for (const n of ['a.tar.gz.sha256.0123456789ab.partial', 'a.tar.gz.sha256.partial', 'a.tar.gz.sha256', 'a.tar.gz.sha256x.0123456789ab.partial', 'b.tar.gz.sha256.0123456789ab.partial']) {
      await fs.writeFile(path.join(dir, n), '');
    }
    assert.deepEqual(await tempFilesOf(file), [path.join(dir, 'a.tar.gz.sha256.0123456789ab.partial')]);
    assert.equal(isTempFileOf('a.tar.gz.sha256.0123456789AB.partial', 'a.tar.gz.sha256'), false);
  });
});

describe('createNewFileStream', () => {
  it('creates the file before it resolves, with the mode asked for, and never opens an existing one', async () => {
    // pipeline() rejects as soon as one stream fails, before its file stream has opened or closed:
    // with fs.createWriteStream a refused upload's removal of its partial file could run ahead of
    // the file's creation, which left it behind (a CI failure). The file must exist at once.
    const file = path.join(await dirs.caseDir(), 'a.sql.partial');
    const out = await createNewFileStream(file, 0o600);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    out.end('x');
    await once(out, 'close');
    await assert.rejects(createNewFileStream(file), { code: 'EEXIST' });
    assert.equal(await fs.readFile(file, 'utf8'), 'x', 'the existing file is untouched');
  });
});
