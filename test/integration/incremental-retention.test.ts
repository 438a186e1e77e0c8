/**
 * Retention keeps whole incremental chains (issue 16), through the real processes: a volume in
 * incremental mode is backed up run after run (the test's clock moves a minute between runs), with
 * files added, changed, deleted and a directory renamed in between.
 *   - Local prune, `keep` 2 and `fullEvery` 4: after the fourth run the count alone would remove the
 *     full and the first incremental, which the two kept incrementals need; both stay, and a restore
 *     of the newest set (full + 3 incrementals) brings back exactly the tree of that run. Once a new
 *     chain has started and its own incremental is kept, the old chain goes, sidecars and all.
 *   - Remote retention on a real SFTP target (`OFFSITE_RETENTION=<target>=keep:2`, `fullEvery` 2):
 *     after a second full the count alone would delete the first full, which the kept incremental
 *     needs: its objects stay; once the new chain's incremental is kept, the old chain's objects go. Then the server is new (BACKUP_DIR,
 *     Redis keys and the volume gone) and a restore of the newest set `from` the target reproduces
 *     that run's tree exactly.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { newEmptyServer, rcloneConfig, startSftpServer, type TestRemote } from '../helpers/offsite-servers.js';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, ignoreRoot, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { makeVolume } from '../helpers/volumes.js';
import { copyJobId } from '../../src/stores/copy-jobs.js';

const VOLUME = 'pacsdata';

interface Run {
  stamp: string;
  /** The archive the run wrote (its real name: `.tar.gz` for a full, `.inc.tar.gz` otherwise). */
  file: string;
  /** What the prune of this run removed. */
  removed: string[];
  tree: Map<string, TreeEntry>;
}

/** GET /api/jobs/:id until the job is completed or failed; a timeout says where the job stands (a failed attempt's reason). */
async function jobFinished(base: string, id: string): Promise<any> {
  try {
    return await waitFor(async () => {
      const r = await http(base, 'GET', `/api/jobs/${id}`);
      return r.status === 200 && (r.body.state === 'completed' || r.body.state === 'failed') ? r.body : undefined;
    }, 60_000, `job ${id} to finish`);
  } catch (err) {
    const job = (await http(base, 'GET', `/api/jobs/${id}`)).body;
    throw new Error(`${(err as Error).message}; the job: ${JSON.stringify({ state: job.state, attemptsMade: job.attemptsMade, failedReason: job.failedReason, progress: job.progress })}`, { cause: err });
  }
}

/**
 * "Run now" (a minute after the previous run, on the test clock), its jobs settled; what it wrote and
 * pruned. The run's prune job (the root of its flow) is awaited by id first: GET /api/jobs reads the
 * queues' states one after another, so a job moving between two states can be missing from one
 * answer, and waitForJobsSettled alone could then see a run as settled before its prune ran.
 * `copyTarget`: the run's copy job to that target (queued by the verify, so before the prune ran;
 * the target's retention runs in it) is awaited too.
 */
async function backUp(fx: Fixture, svc: Service, first: boolean, copyTarget?: string): Promise<Run> {
  if (!first) await fx.clock.advance(60_000);
  const r = await http(svc.url, 'POST', '/api/backups', {});
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const stamp = r.body.stamp as string;
  const prune = await jobFinished(svc.url, `prune-${VOLUME}-${stamp}`);
  assert.equal(prune.state, 'completed', JSON.stringify(prune));
  if (copyTarget) assert.equal((await jobFinished(svc.url, copyJobId(VOLUME, stamp, copyTarget))).state, 'completed');
  const jobs = await waitForJobsSettled(svc.url, undefined);
  assert.deepEqual(jobs.filter((j: any) => j.state !== 'completed').map((j: any) => [j.queue, j.failedReason]), [], 'every job of the run completed');
  const set = (await http(svc.url, 'GET', `/api/backups/${stamp}`)).body;
  assert.equal(set.archives?.length, 1, JSON.stringify(set));
  assert.equal(set.archives[0].verified?.ok, true, JSON.stringify(set.archives[0]));
  return { stamp, file: set.archives[0].file, removed: prune.result.removed, tree: await snapshotTree(path.join(fx.volumesDir, VOLUME)) };
}

/** Changes between runs: a new file, a changed one, a deleted one, now and then a renamed directory. */
async function change(vol: string, n: number): Promise<void> {
  await fs.writeFile(path.join(vol, `new-${n}.dcm`), `image of run ${n}\n`.repeat(500 * n));
  await fs.appendFile(path.join(vol, 'readme.txt'), `changed before run ${n}\n`);
  if (n === 2) await fs.rm(path.join(vol, 'zero-bytes'));
  if (n === 3) await fs.rename(path.join(vol, 'nested'), path.join(vol, 'moved'));
  if (n === 4) await fs.rm(path.join(vol, 'new-2.dcm'));
}

const archivesIn = async (dir: string) => (await fs.readdir(dir)).filter((n) => /\.tar\.gz$/.test(n)).sort();

describe('local retention keeps the chain a kept incremental needs', () => {
  let fx: Fixture;
  let svc: Service;
  const runs: Run[] = [];
  const vol = () => path.join(fx.volumesDir, VOLUME);

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    await makeVolume(vol(), VOLUME);
    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', `/api/volumes/${VOLUME}`, { mode: 'incremental', fullEvery: 4 })).status, 200);
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 2 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('keep 2 after a full and three incrementals: the full and the first incremental stay for the two kept ones', async () => {
    runs.push(await backUp(fx, svc, true));
    for (const n of [2, 3, 4]) {
      await change(vol(), n);
      runs.push(await backUp(fx, svc, false));
    }
    const [f1, i1, i2, i3] = runs.map((r) => r.file);
    assert.deepEqual([f1, i1, i2, i3], [`${VOLUME}_${runs[0]!.stamp}.tar.gz`, ...runs.slice(1).map((r) => `${VOLUME}_${r.stamp}.inc.tar.gz`)]);
    // By count (keep 2) the prunes of runs 3 and 4 would have removed the full, then the first incremental.
    assert.deepEqual(runs.flatMap((r) => r.removed), [], 'no prune removed anything of the chain');
    assert.deepEqual(await archivesIn(fx.backupDir), [f1, i1, i2, i3]);
    const newest = (await http(svc.url, 'GET', `/api/backups/${runs[3]!.stamp}`)).body;
    assert.deepEqual(newest.archives[0].basedOn, [f1, i1, i2]);
    assert.deepEqual(newest.restoreNeeds, [f1, i1, i2, i3]);
  });

  it('a restore of the newest set reads the kept chain and brings back exactly its tree', async () => {
    // The volume moves on after the backup; the restore must undo that too.
    await fs.writeFile(path.join(vol(), 'after-run-4.dcm'), 'written after the last backup');
    await fs.rm(path.join(vol(), 'new-3.dcm'));
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: runs[3]!.stamp, skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token })).status, 202);
    const done = await waitFor(async () => {
      const r = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, 'the restore');
    assert.equal(done.state, 'completed', JSON.stringify(done));
    await waitFor(async () => !(await fs.readdir(vol())).some((n) => n.startsWith('.oob-restore-')), 30_000, 'the previous data to be removed');
    assertSameTree(runs[3]!.tree, await snapshotTree(vol()), { ignore: ignoreRoot });
  });

  it('once a new chain\'s incremental is kept, the old chain goes with its sidecars', async () => {
    // Run 5 starts a new full (fullEvery 4); keep 2 = it and the old chain's last incremental, which
    // still needs the whole old chain.
    await change(vol(), 5);
    runs.push(await backUp(fx, svc, false));
    const [f1, i1, i2, i3, f2] = runs.map((r) => r.file);
    assert.equal(f2, `${VOLUME}_${runs[4]!.stamp}.tar.gz`);
    assert.deepEqual(runs[4]!.removed, []);
    assert.deepEqual(await archivesIn(fx.backupDir), [f1, i1, i2, i3, f2]);
    // Run 6 continues the new chain: keep 2 = it and its full; nothing needs the old chain any more.
    await change(vol(), 6);
    runs.push(await backUp(fx, svc, false));
    const i4 = runs[5]!.file;
    assert.equal(i4, `${VOLUME}_${runs[5]!.stamp}.inc.tar.gz`);
    assert.deepEqual([...runs[5]!.removed].sort(), [f1, i1, i2, i3]);
    assert.deepEqual(await archivesIn(fx.backupDir), [f2, i4]);
    const old = runs.slice(0, 4).map((r) => r.stamp);
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => old.some((s) => n.includes(s))), [], 'sidecars (.snar included) went with their archives');
  });
});

describe('remote retention on an SFTP target keeps the objects of a kept chain', () => {
  let fx: Fixture;
  let svc: Service | undefined;
  let sftp: TestRemote;
  let env: Record<string, string>;
  let target = '';
  let remoteDir = '';
  const runs: Run[] = [];
  const vol = () => path.join(fx.volumesDir, VOLUME);
  /** Archives on the target whose completion marker (`.sha256`, plain copies) is there. */
  const remoteArchives = async () => (await fs.readdir(remoteDir)).filter((n) => n.endsWith('.tar.gz.sha256')).map((n) => n.slice(0, -'.sha256'.length)).sort();
  const remoteObjects = async () => (await fs.readdir(remoteDir)).sort();
  const objectsOf = (files: string[]) => files.flatMap((f) => [f, `${f}.manifest.json`, `${f}.sha256`]).sort();
  /** A run, then its copy to the target (and the target's retention after it) finished. */
  const backUpAndCopy = async (first: boolean) => {
    const run = await backUp(fx, svc!, first, target);
    const set = (await http(svc!.url, 'GET', `/api/backups/${run.stamp}`)).body;
    assert.deepEqual(set.archives[0].copies.map((c: any) => c.target), [target], 'the copy is recorded');
    return run;
  };

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    sftp = await startSftpServer(path.join(fx.root, 'sftp'));
    remoteDir = path.join(sftp.dir, 'oob');
    target = `${sftp.name}:${remoteDir}`;
    await makeVolume(vol(), VOLUME);
    env = {
      ...fx.env,
      OFFSITE_TARGETS: target,
      OFFSITE_RETENTION: `never ${target}=keep:2`,
      RCLONE_CONFIG: await rcloneConfig(path.join(fx.root, 'rclone.conf'), [sftp]),
      // A copy attempt that fails on the loaded test machine is tried again in a second, not in the
      // default minute (which the 60 s wait for the copy would not see).
      OFFSITE_RETRY_DELAY: '1',
    };
    svc = await startService('start', env);
    assert.equal((await http(svc.url, 'PUT', `/api/volumes/${VOLUME}`, { mode: 'incremental', fullEvery: 2 })).status, 200);
    // Locally everything stays: this part is about the target's retention alone.
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 30 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(async () => {
    await svc?.stop();
    await sftp?.stop();
    await fx?.cleanup();
  });

  it('keep:2 on the target never deletes the full that a kept incremental needs', async () => {
    runs.push(await backUpAndCopy(true));
    await change(vol(), 2);
    runs.push(await backUpAndCopy(false));
    // Run 3 starts a new full (fullEvery 2): keep:2 = it and the first chain's incremental. By count
    // the first full would go; the kept incremental needs it.
    await change(vol(), 3);
    runs.push(await backUpAndCopy(false));
    const [f1, i1, f2] = runs.map((r) => r.file);
    assert.deepEqual([f1, i1, f2], [`${VOLUME}_${runs[0]!.stamp}.tar.gz`, `${VOLUME}_${runs[1]!.stamp}.inc.tar.gz`, `${VOLUME}_${runs[2]!.stamp}.tar.gz`]);
    assert.deepEqual(await remoteArchives(), [f1, i1, f2].sort());
    assert.deepEqual(await remoteObjects(), objectsOf([f1!, i1!, f2!]), 'every object of the chain is there, not only its marker');
  });

  it('once a new chain\'s incremental is kept, the old chain\'s objects go from the target', async () => {
    await change(vol(), 4);
    runs.push(await backUpAndCopy(false));
    const [, , f2, i2] = runs.map((r) => r.file);
    assert.equal(i2, `${VOLUME}_${runs[3]!.stamp}.inc.tar.gz`);
    assert.deepEqual(await remoteObjects(), objectsOf([f2!, i2!]));
    // Locally (keep 30) all four stay.
    assert.deepEqual(await archivesIn(fx.backupDir), runs.map((r) => r.file).sort());
  });

  it('on a new, empty server the newest set restores from the target exactly', async (t) => {
    const newest = runs[3]!;
    const t0 = Date.now();
    await svc!.stop();
    svc = undefined;
    await newEmptyServer(fx, [vol()]);
    svc = await startService('start', env);
    const t1 = Date.now();
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: newest.stamp, from: target, skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const conf = await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    const r = await waitFor(async () => {
      const x = (await http(svc!.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return x.state === 'completed' || x.state === 'failed' ? x : undefined;
    }, 60_000, 'the restore to finish');
    t.diagnostic(`new server started in ${t1 - t0} ms, restore from the target took ${Date.now() - t1} ms`);
    assert.equal(r.state, 'completed', r.failedReason);
    assertSameTree(newest.tree, await snapshotTree(vol()), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    assert.deepEqual(await archivesIn(fx.backupDir), [runs[2]!.file, newest.file], 'the full was fetched for the incremental');
  });
});
