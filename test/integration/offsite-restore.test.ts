/**
 * Disaster recovery through the API: a backup copied (encrypted) to a real SFTP target; then the
 * server is "new": BACKUP_DIR empty, Redis without our keys, the volume wiped. The listing shows the
 * set from the target (`remote: true`); a restore `from` the target fetches, decrypts and verifies
 * the archive and swaps it in; the volume is the tree it was, entry for entry. A damaged copy on the
 * target fails the restore before anything is changed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { rcloneConfig, startSftpServer, type TestRemote } from '../helpers/offsite-servers.js';
import { deleteRedisPrefix, http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { makeVolume } from '../helpers/volumes.js';

describe('restore from an off-site target onto an empty server', () => {
  let fx: Fixture;
  let svc: Service | undefined;
  let sftp: TestRemote;
  let env: Record<string, string>;
  let target = '';
  let stamp = '';
  let original: Map<string, TreeEntry>;
  const volume = () => path.join(fx.volumesDir, 'lucindadata');

  async function restore(body: Record<string, unknown>) {
    const req = await http(svc!.url, 'POST', '/api/restores', body);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const conf = await http(svc!.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    return waitFor(async () => {
      const r = (await http(svc!.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, 'the restore to finish');
  }

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    sftp = await startSftpServer(path.join(fx.root, 'sftp'));
    target = `${sftp.name}:${path.join(sftp.dir, 'oob')}`;
    const identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    await fs.writeFile(path.join(fx.root, 'key.txt'), identity, { mode: 0o600 });
    await makeVolume(volume(), 'lucindadata');
    env = {
      ...fx.env,
      OFFSITE_TARGETS: target,
      RCLONE_CONFIG: await rcloneConfig(path.join(fx.root, 'rclone.conf'), [sftp]),
      OFFSITE_AGE_RECIPIENTS: /public key: (age1\S+)/.exec(identity)![1]!,
    };
    svc = await startService('start', env);
    stamp = (await http(svc.url, 'POST', '/api/backups', {})).body.stamp;
    await waitForJobsSettled(svc.url, undefined);
    await waitFor(async () => (await http(svc!.url, 'GET', '/api/backups')).body.sets[0]?.archives[0]?.copies?.length === 1, 20_000, 'the copy');
    original = await snapshotTree(volume());
    await svc.stop();
    svc = undefined;
    // The new server: nothing of the old one but the target configuration (and the key, mounted).
    await fs.rm(fx.backupDir, { recursive: true });
    await fs.mkdir(fx.backupDir);
    await deleteRedisPrefix(fx.prefix);
    await fs.rm(volume(), { recursive: true });
    await fs.mkdir(volume());
    svc = await startService('start', { ...env, OFFSITE_AGE_IDENTITY_FILE: path.join(fx.root, 'key.txt') });
  });

  after(async () => {
    await svc?.stop();
    await sftp?.stop();
    await fx?.cleanup();
  });

  it('lists the set found on the target as remote', async () => {
    const { sets } = (await http(svc!.url, 'GET', '/api/backups')).body;
    assert.equal(sets.length, 1);
    assert.equal(sets[0].stamp, stamp);
    assert.equal(sets[0].remote, true);
    assert.equal(sets[0].archives[0].file, `lucindadata_${stamp}.tar.gz`);
    assert.deepEqual(sets[0].archives[0].copies.map((c: { target: string; file: string }) => [c.target, c.file]), [[target, `lucindadata_${stamp}.tar.gz.age`]]);
  });

  it('refuses a target that is not configured, naming the field', async () => {
    const r = await http(svc!.url, 'POST', '/api/restores', { stamp, from: 'elsewhere:backup' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'from');
  });

  it('fails before changing anything when the copy on the target is damaged', async () => {
    const object = path.join(sftp.dir, 'oob', `lucindadata_${stamp}.tar.gz.age`);
    const good = await fs.readFile(object);
    const bad = Buffer.from(good);
    bad[bad.length - 100] = bad[bad.length - 100]! ^ 0x01;
    await fs.writeFile(object, bad);
    try {
      const r = await restore({ stamp, from: target });
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, /fetching the backup from .* failed, nothing was changed/);
      assert.deepEqual(await fs.readdir(volume()), [], 'the volume is as it was (empty)');
      assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.includes('tar.gz')), [], 'no archive published');
    } finally {
      await fs.writeFile(object, good);
    }
  });

  it('fetches, decrypts, verifies and restores the volume exactly', async () => {
    const r = await restore({ stamp, from: target, skipSafetyBackup: true });
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(r.from, target);
    assertSameTree(original, await snapshotTree(volume()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    // The fetched archive is a local backup again, with its sidecars: sha256sum -c passes.
    execFileSync('sha256sum', ['-c', `lucindadata_${stamp}.tar.gz.sha256`], { cwd: fx.backupDir, stdio: 'ignore' });
  });
});
