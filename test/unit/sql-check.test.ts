/**
 * checkSqlFile with a private copy (src/db/sql-check.ts): the copy is the bytes checked, new and
 * 0600; a file that is a symlink or a FIFO, or that changes while it is read, is refused and no copy
 * is left. The change happens from the progress callback (every chunk): deterministic, no sleeps.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { checkSqlFile } from '../../src/db/sql-check.js';

const logger = pino({ level: 'silent' });
const rows = Array.from({ length: 20_000 }, (_, i) => `INSERT INTO patient VALUES (${i}, 'Patient ${i}');`).join('\n');
const DUMP = Buffer.from(`-- MariaDB dump 10.19\nCREATE TABLE patient (id INT, name TEXT);\n${rows}\n-- Dump completed\n`);

describe('checkSqlFile with a private copy', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sql-check-'));
    file = path.join(dir, 'dump.sql');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('writes the bytes it checked into a new 0600 file; the sha256 is theirs', async () => {
    await fs.writeFile(file, DUMP);
    const copyTo = path.join(dir, 'copy-ok');
    const r = await checkSqlFile(file, 'elexis', { logger, copyTo });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.sha256, createHash('sha256').update(DUMP).digest('hex'));
    assert.deepEqual(await fs.readFile(copyTo), DUMP);
    assert.equal((await fs.stat(copyTo)).mode & 0o777, 0o600);
    await fs.rm(copyTo);
  });

  it('refuses a copy path that exists (O_EXCL) and leaves that file alone', async () => {
    const copyTo = path.join(dir, 'copy-taken');
    await fs.writeFile(copyTo, 'someone else’s');
    await assert.rejects(checkSqlFile(file, 'elexis', { logger, copyTo }), { code: 'EEXIST' });
    assert.equal(await fs.readFile(copyTo, 'utf8'), 'someone else’s');
  });

  for (const change of ['append', 'truncate'] as const) {
    it(`a file that is ${change === 'append' ? 'grown' : 'cut'} while it is read is refused, and no copy is left`, async () => {
      await fs.writeFile(file, DUMP);
      const copyTo = path.join(dir, `copy-${change}`);
      let done = false;
      const onProgress = () => {
        if (done) return;
        done = true;
        // Synchronous, inside the pass: the file changes between two reads of it.
        if (change === 'append') execFileSync('sh', ['-c', `printf 'DROP TABLE patient;\\n' >> '${file}'`]);
        else execFileSync('truncate', ['-s', '1000', file]);
      };
      await assert.rejects(checkSqlFile(file, 'elexis', { logger, copyTo, onProgress, progressIntervalMs: 0 }), /dump\.sql changed while it was being read/);
      assert.equal(done, true);
      await assert.rejects(fs.stat(copyTo), { code: 'ENOENT' });
    });
  }

  it('a symlink is not followed and a FIFO is not waited for', async () => {
    const link = path.join(dir, 'link.sql');
    await fs.writeFile(file, DUMP);
    await fs.symlink(file, link);
    await assert.rejects(checkSqlFile(link, 'elexis', { logger, copyTo: path.join(dir, 'copy-link') }), /link\.sql is a symbolic link, not a regular file/);
    const fifo = path.join(dir, 'fifo.sql');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(checkSqlFile(fifo, 'elexis', { logger, copyTo: path.join(dir, 'copy-fifo') }), /fifo\.sql is not a regular file \(a FIFO\)/);
    assert.deepEqual((await fs.readdir(dir)).filter((n) => n.startsWith('copy-')), ['copy-taken']);
  });
});
