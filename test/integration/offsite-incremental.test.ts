/**
 * Off-site copies of incremental archives (issues 14 and 16): a volume in incremental mode is
 * backed up twice (a full, then an incremental with a new, a changed and a deleted file), both are
 * copied to a real SFTP target; then the server is new (BACKUP_DIR, Redis keys and the volume gone),
 * and a restore of the second set `from` the target fetches the incremental and the full it needs
 * (named by the incremental's manifest) and restores the tree of the second run exactly.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { procedureScript } from '../helpers/emergency-procedure.js';
import { newEmptyServer, rcloneConfig, startSftpServer, type TestRemote } from '../helpers/offsite-servers.js';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { exec, makeVolume } from '../helpers/volumes.js';

describe('off-site copies of an incremental chain, restored on an empty server', () => {
  let fx: Fixture;
  let svc: Service | undefined;
  let sftp: TestRemote;
  let env: Record<string, string>;
  let target = '';
  const stamps: string[] = [];
  let second: Map<string, TreeEntry>;
  const volume = () => path.join(fx.volumesDir, 'pacsdata');

  async function runNow(): Promise<string> {
    const r = await http(svc!.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitForJobsSettled(svc!.url, undefined);
    return r.body.stamp as string;
  }

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    sftp = await startSftpServer(path.join(fx.root, 'sftp'));
    target = `${sftp.name}:${path.join(sftp.dir, 'oob')}`;
    await makeVolume(volume(), 'pacsdata');
    env = { ...fx.env, OFFSITE_TARGETS: target, RCLONE_CONFIG: await rcloneConfig(path.join(fx.root, 'rclone.conf'), [sftp]) };
    svc = await startService('start', env);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 7 })).status, 200);
    stamps.push(await runNow());
    await fs.writeFile(path.join(volume(), 'new-image.dcm'), 'a new image\n'.repeat(1000));
    await fs.appendFile(path.join(volume(), 'readme.txt'), 'changed after the full\n');
    await fs.rm(path.join(volume(), 'zero-bytes'));
    await fx.clock.advance(60_000);
    stamps.push(await runNow());
    await waitFor(async () => {
      const sets = (await http(svc!.url, 'GET', '/api/backups')).body.sets as { archives: { copies: unknown[] }[] }[];
      return sets.length === 2 && sets.every((s) => s.archives.every((a) => a.copies.length === 1));
    }, 30_000, 'the copies of both archives');
    second = await snapshotTree(volume());
    await svc.stop();
    svc = undefined;
    await newEmptyServer(fx, [volume()]);
    svc = await startService('start', env);
  });

  after(async () => {
    await svc?.stop();
    await sftp?.stop();
    await fx?.cleanup();
  });

  it('copied the full and the incremental, each under its own name', async () => {
    const names = await fs.readdir(path.join(sftp.dir, 'oob'));
    assert.ok(names.includes(`pacsdata_${stamps[0]}.tar.gz`), names.join(' '));
    assert.ok(names.includes(`pacsdata_${stamps[1]}.inc.tar.gz`), names.join(' '));
    // No OFFSITE_AGE_RECIPIENTS here: the copies are plain, and the worker says so at its start.
    assert.match(svc!.logs(), /off-site copies are NOT encrypted \(OFFSITE_AGE_RECIPIENTS is unset or empty\)/);
  });

  it("the README's emergency procedure by hand, its very lines (plain copies), restores the chain: the volume is the second run exactly", async () => {
    const dir = path.join(fx.root, 'by-hand');
    const dest = path.join(fx.root, 'by-hand-volume');
    await fs.mkdir(dir);
    await fs.mkdir(dest);
    const settings = { RCLONE_CONFIG: env.RCLONE_CONFIG!, T: target, KEY: '/nonexistent', E: '', V: 'pacsdata', DEST: dest };
    await exec('bash', ['-c', procedureScript(settings, 'volume')], { cwd: dir });
    assert.deepEqual((await fs.readFile(path.join(dir, 'restore', 'pacsdata', 'files'), 'utf8')).trim().split('\n'), [`pacsdata_${stamps[0]}.tar.gz`, `pacsdata_${stamps[1]}.inc.tar.gz`]);
    assertSameTree(second, await snapshotTree(dest), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
  });

  it('restores the incremental set from the target: fetches the chain, the volume is the second run exactly', async () => {
    const req = await http(svc!.url, 'POST', '/api/restores', { stamp: stamps[1], from: target, skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const conf = await http(svc!.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    const r = await waitFor(async () => {
      const x = (await http(svc!.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return x.state === 'completed' || x.state === 'failed' ? x : undefined;
    }, 60_000, 'the restore to finish');
    assert.equal(r.state, 'completed', r.failedReason);
    assertSameTree(second, await snapshotTree(volume()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    const local = (await fs.readdir(fx.backupDir)).filter((n) => /\.tar\.gz$/.test(n)).sort();
    assert.deepEqual(local, [`pacsdata_${stamps[0]}.tar.gz`, `pacsdata_${stamps[1]}.inc.tar.gz`], 'the full was fetched for the incremental');
  });
});
