/**
 * What a restore reports when the disk, not the archive, is at fault.
 *
 * A restore whose swap committed but which could not remove the previous data (here an immutable
 * file, `chattr +i`, in a folder the restore moved aside whole; an immutable entry at the top
 * cannot even be moved, and the swap is rolled back): the volumes are restored, so the restore completes, but its summary says
 * what was left where; archives leave that leftover out with a warning until it is gone, and the
 * recovery before the next archive removes it once it can.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { requestAndConfirm, restoreFinished } from '../helpers/faults.js';
import { http, makeFixture, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import { gnuTarTree, makeVolume } from '../helpers/volumes.js';
import { workDirName } from '../../src/engine/swap/work-dir.js';

const tarNames = (archive: string) => execFileSync('tar', ['-tzf', archive], { encoding: 'latin1' }).split('\n').filter(Boolean);

describe('a restore that cannot remove the previous data', () => {
  let fx: Fixture;
  let svc: Service;
  let locked = '';
  const vol = () => path.join(fx.volumesDir, 'lucindadata');

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    await makeVolume(vol(), 'lucindadata');
    svc = await startService('start', fx.env);
  });
  after(async () => {
    if (locked) execFileSync('chattr', ['-i', locked]);
    await svc?.stop();
    await fx?.cleanup();
  });

  it('completes, says what was left where, archives leave it out until it can be removed', async () => {
    const stamp = await runNowAndSettle(svc.url);
    const archive = path.join(fx.backupDir, `lucindadata_${stamp}.tar.gz`);
    const expected = await gnuTarTree(archive);
    // Written after the backup, and immutable: the swap moves its folder aside, nothing can delete it.
    await fs.mkdir(path.join(vol(), 'new-folder'));
    await fs.writeFile(path.join(vol(), 'new-folder', 'locked.txt'), 'written after the backup');
    locked = path.join(vol(), 'new-folder', 'locked.txt');
    execFileSync('chattr', ['+i', locked]);

    const { id } = await requestAndConfirm(svc.url, { stamp, volumes: ['lucindadata'], skipSafetyBackup: true });
    const work = path.join(vol(), workDirName(id));
    const result = await restoreFinished(svc.url, id);
    locked = path.join(work, 'old', 'new-folder', 'locked.txt');
    assert.equal(result.state, 'completed', JSON.stringify(result));
    assert.equal(result.summary.warnings.length, 1, JSON.stringify(result.summary));
    assert.match(result.summary.warnings[0], /^lucindadata: the previous data could not be removed completely \(.*(EPERM|not permitted).*\); what is left is in .*\.oob-restore-.*: remove it by hand$/);
    assert.ok(result.summary.message.includes(`Warning: ${result.summary.warnings[0]}`), result.summary.message);
    assert.doesNotMatch(result.summary.warnings[0], /\/proc\//, 'paths as the admin finds them, not a descriptor\'s');
    assert.equal(await fs.readFile(locked, 'utf8'), 'written after the backup');
    // The volume holds the backup exactly, beside the leftover.
    const now = await snapshotTree(vol());
    for (const k of [...now.keys()]) if (k === workDirName(id) || k.startsWith(`${workDirName(id)}/`)) now.delete(k);
    assertSameTree(expected, now);

    // The next archive leaves the leftover out and says so; GNU tar lists none of it.
    await fx.clock.advance(60_000);
    const second = await runNowAndSettle(svc.url);
    const names = tarNames(path.join(fx.backupDir, `lucindadata_${second}.tar.gz`));
    assert.ok(names.length > 1 && !names.some((n) => n.includes('.oob-restore-')), names.join('\n'));
    const listed = (await http(svc.url, 'GET', `/api/backups/${second}`)).body.archives.find((a: any) => a.volume === 'lucindadata');
    assert.equal(listed.verified.ok, true);
    assert.equal(listed.warnings, 1);
    assert.match(listed.warningMessages[0], new RegExp(`^"\\.oob-restore-${id}": left out: the previous data that restore ${id} replaced and could not remove; remove .* by hand \\(ELEFTOUT\\)$`));

    // Once it can go, the recovery before the next archive removes it: no warning any more.
    execFileSync('chattr', ['-i', locked]);
    locked = '';
    await fx.clock.advance(60_000);
    const third = await runNowAndSettle(svc.url);
    await assert.rejects(fs.lstat(work), { code: 'ENOENT' });
    const clean = (await http(svc.url, 'GET', `/api/backups/${third}`)).body.archives.find((a: any) => a.volume === 'lucindadata');
    assert.equal(clean.warnings, 0, JSON.stringify(clean.warningMessages));
  });
});

describe('a restore that runs out of space in the volume', () => {
  let fx: Fixture;
  let svc: Service;
  let mounted = false;
  const vol = () => path.join(fx.volumesDir, 'pacsdata');

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    // 2 MiB of tmpfs: 300 small files take 1.2 MiB (a page each) but only 30 kB of content, so
    // the space check (content size) lets the restore start, and the staging copy cannot fit.
    await fs.mkdir(vol());
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', vol()]);
    mounted = true;
    for (let i = 0; i < 300; i++) await fs.writeFile(path.join(vol(), `image-${i}.dcm`), `image ${i} `.repeat(10));
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    if (mounted) execFileSync('umount', [vol()]);
    await fx?.cleanup();
  });

  it('says the disk is full, not that the archive is bad, and changes nothing', async () => {
    const stamp = await runNowAndSettle(svc.url);
    const before = await snapshotTree(vol());
    const { id } = await requestAndConfirm(svc.url, { stamp, volumes: ['pacsdata'], skipSafetyBackup: true });
    const result = await restoreFinished(svc.url, id);
    assert.equal(result.state, 'failed');
    assert.match(result.failedReason, /^extracting the backup failed, nothing was changed: writing the restored data into pacsdata failed, not the archive \(the volume's file system is full[^)]*\): .*ENOSPC: no space left on device/);
    assert.doesNotMatch(result.failedReason, /verification/i);
    assertSameTree(before, await snapshotTree(vol()));
    // The archive itself is fine, as its listing still says.
    const listed = (await http(svc.url, 'GET', `/api/backups/${stamp}`)).body.archives[0];
    assert.equal(listed.verified.ok, true);
  });
});
