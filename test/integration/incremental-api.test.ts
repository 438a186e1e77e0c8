/**
 * Incremental mode through the REST API (issue 16): the volume's mode set and refused with 400s
 * naming the field, the archive job choosing full / incremental levels (fullEvery), the listing's
 * level, basedOn and restoreNeeds, retention keeping the whole chain, single files browsed and
 * restored from an incremental as the volume was then, and a restore of an incremental set
 * applying the chain.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, runNowAndSettle, waitForJobsSettled, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, ignoreRoot, snapshotTree } from '../helpers/tree.js';

const TOKEN = 'incremental-test-token-0123456789';

describe('incremental archives through the API', () => {
  let fx: Fixture;
  let svc: Service;
  let vol = '';
  const api = (method: string, url: string, body?: unknown) => http(svc.url, method, url, body, TOKEN);
  const backupFiles = async () => (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
  const nextRun = async () => {
    await fx.clock.advance(60_000);
    return runNowAndSettle(svc.url, TOKEN);
  };

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', NODE_ENV: 'test' }, { clock: TEST_START });
    vol = path.join(fx.volumesDir, 'pacsdata');
    await fs.mkdir(path.join(vol, 'studies'), { recursive: true });
    for (let i = 0; i < 30; i++) await fs.writeFile(path.join(vol, 'studies', `s${i}.dcm`), `study ${i} `.repeat(2000));
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('sets a volume\'s mode, and refuses bad input naming the field', async () => {
    const bad: [unknown, string][] = [
      [{ mode: 'weekly' }, 'mode'],
      [{ mode: 'incremental', fullEvery: 0 }, 'fullEvery'],
      [{ mode: 'incremental', fullEvery: 2.5 }, 'fullEvery'],
      [{ mode: 'full', every: 3 }, 'every'],
      [{ mode: 'incremental', fullOn: 8 }, 'fullOn'],
      [{ mode: 'incremental', fullOn: 'Sunday' }, 'fullOn'],
    ];
    for (const [body, field] of bad) {
      const r = await api('PUT', '/api/volumes/pacsdata', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
    assert.equal((await api('PUT', '/api/volumes/nosuch', { mode: 'full' })).status, 404);
    // fullOn 7 is Sunday, as in the schedule; the test's runs fall on a Wednesday.
    const put = await api('PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 3, fullOn: 7 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const list = await api('GET', '/api/volumes');
    assert.deepEqual(list.body.volumes.map((v: any) => [v.name, v.mode, v.fullEvery, v.fullOn]), [['pacsdata', 'incremental', 3, 0]]);
    assert.ok(list.body.volumes[0].size >= 30 * 16_000, `size ${list.body.volumes[0].size}`);
    const keep = await api('PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 1 });
    assert.equal(keep.status, 200);
  });

  it('writes a full, then incrementals, keeps their chain, and restores an incremental set', async () => {
    const s1 = await nextRun();
    await fs.writeFile(path.join(vol, 'studies', 'new1.dcm'), 'new study');
    await fs.rm(path.join(vol, 'studies', 's0.dcm'));
    const s2 = await nextRun();
    await fs.writeFile(path.join(vol, 'studies', 'new2.dcm'), 'another study');
    await fs.rename(path.join(vol, 'studies'), path.join(vol, 'archive'));
    const s3 = await nextRun();
    const atS3 = await snapshotTree(vol);

    const full = `pacsdata_${s1}.tar.gz`;
    const inc1 = `pacsdata_${s2}.inc.tar.gz`;
    const inc2 = `pacsdata_${s3}.inc.tar.gz`;
    // keep = 1, yet the full and the first incremental stay: the newest set needs them.
    assert.deepEqual(await backupFiles(), [full, inc1, inc2]);
    const sets = (await api('GET', '/api/backups')).body.sets;
    const byStamp = new Map(sets.map((s: any) => [s.stamp, s]));
    const a3 = (byStamp.get(s3) as any).archives[0];
    assert.deepEqual([a3.file, a3.level, a3.basedOn, a3.verified?.ok], [inc2, 2, [full, inc1], true]);
    // Small because little changed, not because the volume shrank: no size-drop alarm.
    assert.deepEqual(sets.flatMap((s: any) => s.archives.map((x: any) => x.sizeDrop)), [null, null, null]);
    assert.deepEqual((byStamp.get(s3) as any).restoreNeeds, [full, inc1, inc2]);
    assert.deepEqual((byStamp.get(s1) as any).archives[0].level, 0);
    const vols = (await api('GET', '/api/volumes')).body.volumes;
    assert.equal(vols[0].lastArchive.file, inc2);

    // Single files from an incremental: browsed and restored as the volume was at that point (the
    // whole chain: s3's folder "archive" is the full's "studies", renamed, with files unchanged since
    // the full, one deleted and two new).
    const list = async (dir: string) => {
      const r = await api('GET', `/api/backups/${s3}/archives/pacsdata/entries?dir=${encodeURIComponent(dir)}&limit=10`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const all = [...r.body.entries];
      for (let cursor = r.body.nextCursor; cursor; ) {
        const next = await api('GET', `/api/backups/${s3}/archives/pacsdata/entries?dir=${encodeURIComponent(dir)}&limit=10&cursor=${cursor}`);
        all.push(...next.body.entries);
        cursor = next.body.nextCursor;
      }
      return all;
    };
    assert.deepEqual((await list('')).map((e: any) => [e.name, e.type]), [['archive', 'directory']]);
    const listed = await list('archive');
    const want = [...atS3.entries()].filter(([p]) => p.startsWith('archive/')).sort(([a], [b]) => (a < b ? -1 : 1));
    assert.deepEqual(
      listed.map((e: any) => [e.path, e.type, e.size, e.mtime]),
      want.map(([p, e]) => [p, 'file', e.size, new Date(e.mtime * 1000).toISOString()]),
    );
    const gone = await api('GET', `/api/backups/${s3}/archives/pacsdata/entries?dir=studies`);
    assert.equal(gone.status, 404, 'renamed away before the third run');
    const key = (p: string) => Buffer.from(p).toString('base64url');
    const notThere = await api('POST', '/api/restores', { stamp: s3, volumes: ['pacsdata'], paths: [key('studies/s1.dcm')] });
    assert.equal(notThere.status, 400, JSON.stringify(notThere.body));
    assert.equal(notThere.body.error.field, 'paths');
    assert.equal((await api('GET', `/api/backups/${s1}/archives/pacsdata/entries?dir=studies`)).status, 200, 'the full lists its own state');

    // In place: a file deleted since, stored only in the full (under the folder's old name), comes
    // back exactly; what was added since stays.
    await fs.writeFile(path.join(vol, 'archive', 'later.dcm'), 'after the third run');
    await fs.rm(path.join(vol, 'archive', 's5.dcm'));
    await fs.writeFile(path.join(vol, 'archive', 'new2.dcm'), 'changed after the third run');
    const restoreFiles = async (paths: string[], into: string) => {
      const r = await api('POST', '/api/restores', { stamp: s3, volumes: ['pacsdata'], paths: paths.map(key), into, skipSafetyBackup: true });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal((await api('POST', `/api/restores/${r.body.id}/confirm`, { token: r.body.token })).status, 202);
      return waitFor(async () => {
        const x = (await api('GET', `/api/restores/${r.body.id}`)).body;
        return x.state === 'completed' || x.state === 'failed' ? x : undefined;
      }, 60_000, 'the single-file restore');
    };
    const inPlace = await restoreFiles(['archive/s5.dcm', 'archive/new2.dcm'], 'in-place');
    assert.equal(inPlace.state, 'completed', JSON.stringify(inPlace));
    assert.deepEqual([inPlace.summary.files, inPlace.summary.bytes], [2, want.filter(([p]) => p === 'archive/s5.dcm' || p === 'archive/new2.dcm').reduce((n, [, e]) => n + e.size, 0)]);
    const now = await snapshotTree(vol);
    for (const p of ['archive/s5.dcm', 'archive/new2.dcm']) assert.deepEqual(now.get(p), atS3.get(p), p);
    assert.equal(await fs.readFile(path.join(vol, 'archive', 'later.dcm'), 'utf8'), 'after the third run');
    assert.deepEqual((await fs.readdir(vol)).filter((n) => n.startsWith('.oob-restore-')), [], 'the work directory (and the chain in it) is gone');
    // Beside: the folder as it was, in a new folder; nothing live touched.
    const beside = await restoreFiles(['archive'], 'beside');
    assert.equal(beside.state, 'completed', JSON.stringify(beside));
    const folder = path.join(vol, `Wiederhergestellt-${s3}`);
    const besideTree = await snapshotTree(folder);
    assertSameTree(
      new Map([...atS3].filter(([p]) => p === '.' || p.startsWith('archive'))),
      besideTree,
      { ignore: (p) => (p === '.' ? ['mode', 'uid', 'gid', 'mtime'] : []) },
    );
    assert.equal(await fs.readFile(path.join(vol, 'archive', 'later.dcm'), 'utf8'), 'after the third run');
    await fs.rm(folder, { recursive: true });

    // The volume changes again; restoring the third set brings back exactly its state.
    await fs.rm(path.join(vol, 'archive', 's7.dcm'));
    const req = await api('POST', '/api/restores', { stamp: s3, skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await api('POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token })).status, 202);
    const done = await waitFor(async () => {
      const r = (await api('GET', `/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, 'the restore');
    assert.equal(done.state, 'completed', JSON.stringify(done));
    // The previous data is removed after the restore reported itself completed.
    await waitFor(async () => !(await fs.readdir(vol)).some((n) => n.startsWith('.oob-restore-')), 30_000, 'the previous data to be removed');
    assertSameTree(atS3, await snapshotTree(vol), { ignore: ignoreRoot });

    // The fourth run would make the chain 4 long (fullEvery 3): a new full, and the old chain goes.
    const s4 = await nextRun();
    assert.deepEqual(await backupFiles(), [`pacsdata_${s4}.tar.gz`]);
    const leftovers = (await fs.readdir(fx.backupDir)).filter((n) => n.includes(s1) || n.includes(s2) || n.includes(s3));
    assert.deepEqual(leftovers, [], 'sidecars (.snar included) go with their archives');

    // A wiped volume: the next incremental is small either way, so it is the volume's entry
    // count (from the snapshot) that drops, and raises the alarm.
    for (const n of await fs.readdir(path.join(vol, 'archive'))) if (n !== 's1.dcm') await fs.rm(path.join(vol, 'archive', n));
    const s5 = await nextRun();
    const wiped = (await api('GET', `/api/backups/${s5}`)).body.archives[0];
    assert.equal(wiped.file, `pacsdata_${s5}.inc.tar.gz`);
    assert.equal(wiped.sizeDrop?.measure, 'entries', JSON.stringify(wiped));
    assert.ok(wiped.sizeDrop.ratio < 0.1, JSON.stringify(wiped.sizeDrop));

    // Bit rot in the chain's full, found by a later verification: the next run is a full, not an
    // incremental on top of it that could never be restored (an audit got such a night).
    const s4Full = path.join(fx.backupDir, `pacsdata_${s4}.tar.gz`);
    const fh = await fs.open(s4Full, 'r+');
    const { size } = await fh.stat();
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, Math.floor(size / 2));
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, Math.floor(size / 2));
    await fh.close();
    assert.equal((await api('POST', `/api/backups/${s4}/verify`)).status, 202);
    await waitForJobsSettled(svc.url, TOKEN);
    assert.equal((await api('GET', `/api/backups/${s4}`)).body.archives[0].verified?.ok, false);
    // The incremental on top of it verified fine on its own, but is no restorable point: said so.
    const onTop = (await api('GET', `/api/backups/${s5}`)).body.archives[0];
    assert.equal(onTop.verified?.ok, true);
    assert.equal(onTop.chainProblem, `pacsdata_${s4}.tar.gz, which a restore of it needs, failed its verification`);
    const s6 = await nextRun();
    const after = (await api('GET', `/api/backups/${s6}`)).body.archives[0];
    assert.deepEqual([after.file, after.level, after.verified?.ok], [`pacsdata_${s6}.tar.gz`, 0, true], JSON.stringify(after));

    // Without its snapshot (as fetched from a target, which holds none) the archive is as restorable
    // as before: verified again, it stays good (an audit saw fetched archives called bad for it).
    await fs.rm(path.join(fx.backupDir, `pacsdata_${s6}.tar.gz.snar`));
    await fx.clock.advance(5_000);
    assert.equal((await api('POST', `/api/backups/${s6}/verify`)).status, 202);
    await waitForJobsSettled(svc.url, TOKEN);
    const again = (await api('GET', `/api/backups/${s6}`)).body.archives[0];
    assert.equal(again.verified?.ok, true, JSON.stringify(again));
    assert.notEqual(again.verified.at, after.verified.at, 'verified anew');
  });
});
