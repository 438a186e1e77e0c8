/**
 * A SQL restore whose worker died (kill -9, OOM, the container stopped) leaves its private copy of
 * the dump in BACKUP_DIR (src/jobs/sql-restore-copies.ts), as large as the dump. The next worker's
 * recovery removes it under the restore hold, and nothing else of BACKUP_DIR's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logLines } from '../helpers/logs.js';
import { makeFixture, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';

describe('a dead SQL restore\'s private copy', () => {
  let fx: Fixture;
  let worker: Service | undefined;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await worker?.stop();
    await fx?.cleanup();
  });

  it('is removed by the next worker\'s recovery; other dot directories and files stay', async () => {
    const dead = path.join(fx.backupDir, '.sql-restore-Ab12Cd');
    await fs.mkdir(dead, { mode: 0o700 });
    await fs.writeFile(path.join(dead, 'checked.sql'), 'CREATE TABLE patient (id INT);\n'.repeat(1000));
    // Not ours to remove: a name that only looks alike, and a file with the prefix's name.
    const other = path.join(fx.backupDir, '.sql-restored-by-hand');
    await fs.mkdir(other);
    await fs.writeFile(path.join(fx.backupDir, 'elexis_2026-11-20-0315.sql.gz'), 'not really a dump');
    worker = await startService('worker', fx.env);
    await waitFor(async () => !(await fs.stat(dead).catch(() => undefined)), 30_000, 'the dead restore\'s copy to be removed');
    const said = logLines(worker.logs()).filter((l) => String(l.msg).startsWith('removed the private copy of a SQL file'));
    assert.equal(said.length, 1);
    assert.equal(said[0]!.dir, dead);
    assert.ok((await fs.stat(other)).isDirectory());
    assert.ok((await fs.stat(path.join(fx.backupDir, 'elexis_2026-11-20-0315.sql.gz'))).isFile());
  });
});
