/**
 * A backup in the hour that the end of summer time repeats (Europe/Zurich, last Sunday of October,
 * 02:00-02:59 twice): its stamp names two minutes an hour apart. The jobs' check "stamp in the
 * future" read it as the later one and refused every archive of a run at 02:45 CEST (found by a
 * tester); a daily schedule at 02:30 would have had no backup that night every year.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { http, makeFixture, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

describe('a run in the repeated hour at the end of summer time', () => {
  let fx: Fixture;
  let svc: Service;
  before(async () => {
    // 00:45 UTC = 02:45 CEST, the first of the two 02:45.
    fx = await makeFixture({ TZ: 'Europe/Zurich' }, { clock: '2026-10-25T00:45:00Z' });
    await makeVolume(path.join(fx.volumesDir, 'docs'), 'docs');
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('is archived and verified under its local stamp, in its first pass as in its second', async () => {
    const stamp = await runNowAndSettle(svc.url);
    assert.equal(stamp, '2026-10-25-0245');
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=100')).body.jobs as { queue: string; state: string; failedReason: string | null }[];
    const ofRun = jobs.filter((j) => ['archive', 'verify', 'prune'].includes(j.queue));
    assert.equal(ofRun.length, 3);
    assert.deepEqual(ofRun.filter((j) => j.state !== 'completed').map((j) => `${j.queue}: ${j.failedReason}`), []);
    const set = (await http(svc.url, 'GET', '/api/backups')).body.sets[0];
    assert.equal(set.stamp, stamp);
    assert.equal(set.archives[0].verified.ok, true);
    // An hour later the clock shows 02:45 again (CET): a run now has the same stamp, which is taken.
    await fx.clock.advance(60 * 60_000 + 60_000);
    const second = await runNowAndSettle(svc.url);
    assert.equal(second, '2026-10-25-0246');
  });
});
