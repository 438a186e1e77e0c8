/**
 * Archive and dump jobs write a set's files only for a run that was started, around its minute,
 * under the names the configuration gives (src/jobs/run-claim-check.ts), and prune counts no
 * archive stamped in the future and never removes the archive its run has just verified: bull-board
 * can add any job, with any stamp (a typo in the year is enough), and an archive stamped 2099 made
 * every later prune delete the night's verified archive right after it was made.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatStamp } from '../../src/core/names.js';
import { TEST_START } from '../helpers/clock.js';
import { DB_ENV, MARIADB_ARGS, http, makeFixture, runNowAndSettle, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { exec, gnuTarArchive, makeVolume } from '../helpers/volumes.js';

const DB = `oob_forged_${process.pid}`;

describe('jobs added in the dashboard for runs nobody started', () => {
  let fx: Fixture;
  let svc: Service;
  let first = '';

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB}`]);
    svc = await startService('start', { ...fx.env, ...DB_ENV, DB_NAME: DB });
    await http(svc.url, 'PUT', '/api/schedule', { minute: 15, hour: 3, day: '*', month: '*', weekday: '*', keep: 1 });
    first = await runNowAndSettle(svc.url);
  });
  after(async () => {
    await svc?.stop();
    await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${DB}`]).catch(() => undefined);
    await fx?.cleanup();
  });

  const add = async (queue: string, data: object) => {
    const r = await http(svc.url, 'POST', `/admin/queues/api/queues/${queue}/add`, { name: queue, data });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const id = r.body.job.id as string;
    return waitFor(async () => {
      const j = (await http(svc.url, 'GET', `/admin/queues/api/queues/${queue}/${id}`)).body.job;
      return j?.finishedOn ? (j as { failedReason?: string }) : undefined;
    }, 30_000, `the ${queue} job added in the dashboard`);
  };

  it('refuses archive jobs stamped in the future, long past, or for a minute no run claimed, and a dump under a volume\'s name; nothing is written', async () => {
    const before = (await fs.readdir(fx.backupDir)).sort();
    const unclaimed = formatStamp(new Date(fx.clock.now().getTime() - 30 * 60_000), 'Europe/Zurich');
    const cases: [string, object, RegExp][] = [
      ['archive', { volume: 'elexisdb', stamp: '2099-01-01-0315', trigger: 'manual' }, /stamp 2099-01-01-0315 lies in the future/],
      ['archive', { volume: 'elexisdb', stamp: '2024-01-05-0315', trigger: 'manual' }, /more than a day past/],
      ['archive', { volume: 'elexisdb', stamp: unclaimed, trigger: 'manual' }, /no backup run was started for/],
      ['dump', { volume: 'elexisdb', stamp: first, trigger: 'manual' }, /"elexisdb" is not the dump's name \(DB_DUMP_NAME is "elexisdb-sql"\)/],
    ];
    for (const [queue, data, reason] of cases) {
      const job = await add(queue, data);
      assert.match(job.failedReason ?? '', /^job data refused, nothing was done: /, JSON.stringify(data));
      assert.match(job.failedReason!, reason);
    }
    assert.deepEqual((await fs.readdir(fx.backupDir)).sort(), before, 'no archive or dump written');
  });

  it('an archive stamped in the future pushes no generation out: the next run keeps its own verified archive', async () => {
    const future = 'elexisdb_2099-01-01-0315.tar.gz';
    await gnuTarArchive(path.join(fx.volumesDir, 'elexisdb'), path.join(fx.backupDir, future));
    await fx.clock.advance(60_000);
    const second = await runNowAndSettle(svc.url);
    const names = await fs.readdir(fx.backupDir);
    assert.ok(names.includes(`elexisdb_${second}.tar.gz`), 'the run\'s own verified archive was pruned');
    assert.ok(!names.includes(`elexisdb_${first}.tar.gz`), 'keep 1: the older real generation is pruned');
    assert.ok(names.includes(future), 'the future-stamped archive is left for a person to look at');
    assert.match(svc.logs(), /archives stamped in the future: not counted as generations and not pruned/);
  });
});
