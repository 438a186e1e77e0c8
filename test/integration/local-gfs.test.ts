/** LOCAL_RETENTION=gfs:D/W/M: the prune after a run keeps the newest archive per day, ISO week and month. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { gnuTarArchive, makeVolume } from '../helpers/volumes.js';

describe('local grandfather-father-son retention', () => {
  let fx: Fixture;
  let svc: Service;
  // The run is 2030-06-12 (Wednesday, ISO week 24).
  const older = ['2030-06-11-0315', '2030-06-10-0315', '2030-06-09-0315', '2030-05-31-0315'];
  const safety = ['2030-06-11-1200', '2030-05-30-1000'];

  before(async () => {
    fx = await makeFixture({ LOCAL_RETENTION: 'gfs:2/2/2' }, { clock: TEST_START });
    const vol = path.join(fx.volumesDir, 'pacsdata');
    await makeVolume(vol, 'pacsdata');
    for (const s of older) await gnuTarArchive(vol, path.join(fx.backupDir, `pacsdata_${s}.tar.gz`));
    // Two restores' safety backups: no generations. The recent one would otherwise be 06-11's newest
    // archive and push its run out; the old one is older than every generation kept and goes.
    for (const s of safety) {
      const file = path.join(fx.backupDir, `pacsdata_${s}.tar.gz`);
      await gnuTarArchive(vol, file);
      await fs.writeFile(`${file}.manifest.json`, JSON.stringify({ safetyFor: `restore-${s}` }));
    }
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('keeps 2 days, the newest of 2 weeks and of 2 months; removes the rest; a safety backup is no generation and goes once older than them', async () => {
    const stamp = await runNowAndSettle(svc.url);
    const left = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    // days: 06-12, 06-11; weeks: W24 → 06-12, W23 → 06-09 (a Sunday); months: June → 06-12, May → 05-31.
    assert.deepEqual(left, ['2030-05-31-0315', '2030-06-09-0315', '2030-06-11-0315', '2030-06-11-1200', stamp].map((s) => `pacsdata_${s}.tar.gz`));
  });
});

describe('the schedule with LOCAL_RETENTION set', () => {
  let fx: Fixture;
  let svc: Service;
  before(async () => {
    fx = await makeFixture({ LOCAL_RETENTION: 'gfs:7/4/12' });
    svc = await startService('api', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('names the policy that prunes instead of keep (the screen then says keep is not used)', async () => {
    const s = (await http(svc.url, 'GET', '/api/schedule')).body;
    assert.equal(s.localRetention, 'gfs:7/4/12');
    assert.equal(typeof s.keep, 'number');
  });
});
