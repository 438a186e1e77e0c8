/**
 * BackupStore's shared listing (the API's and the metrics'): reused while BACKUP_DIR is unchanged
 * and the listing is young, read anew as soon as anything is published into the directory by a
 * rename (as every writer of ours does) — and never reused for the jobs' own reads.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BackupStore } from '../../src/stores/backup-store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-backup-listing-'));

/** Writes `file` as our writers do: a temp file renamed into place. */
function publish(dir: string, file: string, content: string): void {
  const tmp = path.join(dir, `.${file}.tmp`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, path.join(dir, file));
}

function backupDir(name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  publish(dir, 'lucinda_2026-12-01-0200.tar.gz', 'a');
  publish(dir, 'lucinda_2026-12-01-0200.tar.gz.sha256', `${'a'.repeat(64)}  lucinda_2026-12-01-0200.tar.gz\n`);
  return dir;
}

const verified = (archives: { verified: unknown }[]) => archives.map((a) => a.verified);

describe('BackupStore: shared listing', () => {
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('shows what is published by a rename at once, reuses the listing while the directory is unchanged, and the jobs read now', async () => {
    const dir = backupDir('renames');
    const store = new BackupStore(dir, 'Europe/Zurich');
    const first = await store.listArchives({ shared: true });
    assert.deepEqual(first.map((a) => [a.file, a.sha256]), [['lucinda_2026-12-01-0200.tar.gz', 'a'.repeat(64)]]);

    // A new archive and a verification, published by renames: listed at once.
    publish(dir, 'pacsdata_2026-12-01-0200.tar.gz', 'bb');
    publish(dir, 'lucinda_2026-12-01-0200.tar.gz.verify.json', JSON.stringify({ ok: true, at: '2026-12-01T01:05:00.000Z' }));
    const second = await store.listArchives({ shared: true });
    assert.deepEqual(second.map((a) => a.file).sort(), ['lucinda_2026-12-01-0200.tar.gz', 'pacsdata_2026-12-01-0200.tar.gz']);
    assert.deepEqual(verified(second.filter((a) => a.volume === 'lucinda')), [{ ok: true, at: '2026-12-01T01:05:00.000Z' }]);

    // A sidecar rewritten in place does not change the directory: the young listing is answered
    // again (the second the README allows), while the jobs' own read sees the file as it is.
    fs.writeFileSync(path.join(dir, 'lucinda_2026-12-01-0200.tar.gz.verify.json'), JSON.stringify({ ok: false, at: '2026-12-01T01:06:00.000Z', error: 'x' }));
    const reused = await store.listArchives({ shared: true });
    assert.deepEqual(verified(reused.filter((a) => a.volume === 'lucinda')), [{ ok: true, at: '2026-12-01T01:05:00.000Z' }]);
    const now = await store.listArchives();
    assert.deepEqual(verified(now.filter((a) => a.volume === 'lucinda')), [{ ok: false, at: '2026-12-01T01:06:00.000Z', error: 'x' }]);

    // A prune (the archive unlinked) changes the directory: gone from the next shared listing.
    fs.unlinkSync(path.join(dir, 'pacsdata_2026-12-01-0200.tar.gz'));
    assert.deepEqual((await store.listArchives({ shared: true })).map((a) => a.file), ['lucinda_2026-12-01-0200.tar.gz']);
  });

  it('reads again once the listing is older than its maximum age, even in an unchanged directory', async () => {
    const dir = backupDir('age');
    const store = new BackupStore(dir, 'Europe/Zurich', 0);
    await store.listArchives({ shared: true });
    fs.writeFileSync(path.join(dir, 'lucinda_2026-12-01-0200.tar.gz.sha256'), `${'c'.repeat(64)}  lucinda_2026-12-01-0200.tar.gz\n`);
    assert.deepEqual((await store.listArchives({ shared: true })).map((a) => a.sha256), ['c'.repeat(64)]);
  });

  it('callers that arrive together share one read, and a caller cannot change the listing of the next', async () => {
    const dir = backupDir('together');
    const store = new BackupStore(dir, 'Europe/Zurich');
    const [a, b] = await Promise.all([store.listArchives({ shared: true }), store.listArchives({ shared: true })]);
    assert.notEqual(a, b);
    assert.equal(a[0], b[0], 'one read: the same archive record');
    a.length = 0;
    assert.equal((await store.listArchives({ shared: true })).length, 1);
  });
});
