/**
 * A worker stopped (SIGTERM) while it copies an archive to a target hands the copy back: the job
 * waits again without an attempt spent, and the next worker makes the copy, complete and verified.
 * The copy is kept slow by OFFSITE_BWLIMIT; the target is `rclone serve webdav`, started here.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logLines } from '../helpers/logs.js';
import { rcloneConfig, startWebdavServer, type TestRemote } from '../helpers/offsite-servers.js';
import { http, makeFixture, startService, startServices, waitFor, type Fixture, type Service } from '../helpers/service.js';

describe('shutdown during an off-site copy', () => {
  let fx: Fixture;
  let dav: TestRemote;
  let api: Service;
  let first: Service;
  let second: Service | undefined;
  let copyJob = '';
  let afterExit: { state: string; attemptsMade: number };

  before(async () => {
    fx = await makeFixture({ SHUTDOWN_TIMEOUT: '1' });
    dav = await startWebdavServer(path.join(fx.root, 'dav'));
    await fs.mkdir(path.join(fx.volumesDir, 'pacsdata'));
    await fs.writeFile(path.join(fx.volumesDir, 'pacsdata', 'image.bin'), randomBytes(3 * 1024 * 1024));
    const env = { ...fx.env, OFFSITE_TARGETS: `${dav.name}:oob`, RCLONE_CONFIG: await rcloneConfig(path.join(fx.root, 'rclone.conf'), [dav]), OFFSITE_BWLIMIT: '256k' };
    [api, first] = await startServices(['api', env], ['worker', env]);
    assert.equal((await http(api.url, 'POST', '/api/backups', {})).status, 202);
    copyJob = await waitFor(async () => {
      const jobs = (await http(api.url, 'GET', '/api/jobs?queue=copy&state=active')).body.jobs as { id: string }[];
      return jobs[0]?.id;
    }, 30_000, 'the copy to start');
    await first.stop('SIGTERM');
    const j = (await http(api.url, 'GET', `/api/jobs/${copyJob}`)).body;
    afterExit = { state: j.state, attemptsMade: j.attemptsMade };
    second = await startService('worker', { ...env, OFFSITE_BWLIMIT: '' });
    await waitFor(async () => (await http(api.url, 'GET', `/api/jobs/${copyJob}`)).body.state === 'completed', 30_000, 'the copy by the next worker');
  });
  after(async () => {
    await Promise.all([api, first, second].map(async (s) => s?.stop('SIGKILL')));
    await dav?.stop();
    await fx?.cleanup();
  });

  it('hands the copy back without spending an attempt', () => {
    assert.equal(logLines(first.logs(), 'off-site copy interrupted by shutdown, job handed back to the queue').length, 1, first.logs());
    assert.equal(afterExit.state, 'waiting');
    assert.equal(afterExit.attemptsMade, 0);
  });

  it('the next worker makes the copy, complete and verified', async () => {
    assert.equal(logLines(second!.logs(), 'off-site copy finished and verified').length, 1);
    const names = await fs.readdir(path.join(dav.dir, 'oob'));
    assert.equal(names.filter((n) => n.endsWith('.tar.gz.sha256')).length, 1, names.join(', '));
    const copies = (await http(api.url, 'GET', '/api/backups')).body.sets[0].archives[0].copies;
    assert.equal(copies.length, 1);
  });
});
