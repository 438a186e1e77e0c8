/**
 * Fault: BACKUP_DIR runs full (ENOSPC) while archives are written. BACKUP_DIR is a small tmpfs
 * (the suite runs as root), holding two older generations per volume and a file of someone
 * else's that fills it. The older generations are tiny, so the free-space guard (which estimates
 * from the last archive) lets the run start, and the disk fills up for real:
 *   - pacsdata (12 MiB of images) hits ENOSPC while its data is written;
 *   - elexisdb gets exactly the room its archive data needs, to the page, so its data is written
 *     and fsynced and the disk is full the moment its .sha256 sidecar is published.
 * Both jobs fail with a reason that names the volume and the full disk; nothing of theirs is left
 * (no .partial, no sidecar or its temp file), nothing was pruned, the older generations and the
 * other file are byte for byte as before, and the failed minute has no set. Once the other file is
 * deleted, the next run succeeds, is verified, prunes as usual, and GNU tar restores it exactly.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/runtime/config.js';
import { createLogger } from '../../src/runtime/logger.js';
import { archiveVolume } from '../../src/engine/archive/archive-volume.js';
import { assertSameSnapshot, buildSeededVolume, prng, prngBytes, pySnapshot, type SnapEntry } from '../helpers/faults.js';
import { logLines } from '../helpers/logs.js';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, startService, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec, gnuTarArchive } from '../helpers/volumes.js';

const VOLUMES = ['elexisdb', 'pacsdata'];
const OLDER = ['2024-01-01-0315', '2024-01-02-0315'];
const FILLER = 'someone-elses-file.bin';
const PAGE = 4096;

describe('fault: ENOSPC in BACKUP_DIR', () => {
  let fx: Fixture;
  let svc: Service;
  let mounted = false;
  let failedStamp: string;
  let failedJobs: any[];
  let beforeRun: SnapEntry[];
  let exactRoom: number;

  before(async () => {
    fx = await makeFixture({ SPACE_MARGIN_MB: '0', WORKER_CONCURRENCY: '1', LOG_LEVEL: 'debug' }, { clock: TEST_START });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', fx.backupDir]);
    mounted = true;
    await buildSeededVolume(path.join(fx.volumesDir, 'elexisdb'), 7, { docs: 8, docBytes: 16 * 1024, imageBytes: 256 * 1024 });
    const pacs = path.join(fx.volumesDir, 'pacsdata');
    await fs.mkdir(path.join(pacs, 'series'), { recursive: true });
    const rand = prng(8);
    for (let i = 0; i < 3; i++) await fs.writeFile(path.join(pacs, `series/image-${i}.dcm`), prngBytes(rand, 4 * 1024 * 1024));
    // Older generations from when the volumes were small.
    const small = path.join(fx.root, 'small');
    await fs.mkdir(small);
    await fs.writeFile(path.join(small, 'readme.txt'), 'an older generation\n');
    for (const v of VOLUMES) for (const s of OLDER) await gnuTarArchive(small, path.join(fx.backupDir, `${v}_${s}.tar.gz`));

    // The size of elexisdb's archive, written the way the service writes it (same settings, same bytes).
    const probe = path.join(fx.root, 'probe');
    await fs.mkdir(probe);
    const cfg = loadConfig(fx.env, fx.root);
    const a = await archiveVolume({
      volume: 'elexisdb', volumeDir: path.join(fx.volumesDir, 'elexisdb'), backupDir: probe, fileName: 'elexisdb_2000-01-01-0000.tar.gz',
      gzipLevel: cfg.gzipLevel, gzipParallel: cfg.gzipParallel, logger: createLogger('silent'),
    });
    exactRoom = Math.ceil(a.size / PAGE) * PAGE;

    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 2 })).status, 200);
    // Fill the disk up to exactly the pages elexisdb's archive data takes.
    const free = async () => {
      const s = await fs.statfs(fx.backupDir);
      return s.bavail * s.bsize;
    };
    await fs.writeFile(path.join(fx.backupDir, FILLER), prngBytes(rand, (await free()) - exactRoom));
    assert.equal(await free(), exactRoom);
    beforeRun = await pySnapshot(fx.backupDir);

    const run = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    failedStamp = run.body.stamp;
    failedJobs = await waitForJobsSettled(svc.url, undefined, 60_000);
  });
  after(async () => {
    await svc?.stop();
    if (mounted) execFileSync('umount', [fx.backupDir]);
    await fx?.cleanup();
  });

  it('fails both archives with a reason that names the volume and the full disk', (t) => {
    for (const v of VOLUMES) {
      const job = failedJobs.find((j) => j.name === 'archive' && j.volume === v);
      t.diagnostic(`${v}: ${job?.failedReason}`);
      assert.equal(job?.state, 'failed');
      assert.match(job.failedReason, new RegExp(`^volume "${v}": .*ENOSPC: no space left on device`));
    }
    // elexisdb's data was written completely (the disk filled at its sidecar); pacsdata's was not.
    const written = logLines(svc.logs(), 'archive: data written').map((l) => l.volume);
    assert.deepEqual(written, ['elexisdb'], `data written: ${written}`);
  });

  it('leaves nothing of the failed archives, prunes nothing, touches no other file; the minute has no set', async () => {
    assert.deepEqual(failedJobs.filter((j) => j.name !== 'archive' && j.queue !== 'schedule' && j.state !== 'failed'), [], 'verify and prune did not run');
    // (BACKUP_DIR's own mtime moves with every file created and removed in it.)
    assertSameSnapshot(beforeRun, await pySnapshot(fx.backupDir), 'BACKUP_DIR after the failed run', (e) => (e.path === '2e' ? ['mtime'] : []));
    assert.equal((await http(svc.url, 'GET', `/api/backups/${failedStamp}`)).status, 404);
  });

  it('once space is freed, the next run succeeds, is verified, prunes as usual and restores exactly', async () => {
    await fs.rm(path.join(fx.backupDir, FILLER));
    // A set per minute: the first run's minute is taken, so the service's clock moves to the next one.
    await fx.clock.advance(60_000);
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const run = r.body;
    const jobs = await waitForJobsSettled(svc.url, undefined, 60_000);
    assert.deepEqual(jobs.filter((j) => j.stamp === run.stamp && j.state !== 'completed'), []);
    const set = (await http(svc.url, 'GET', `/api/backups/${run.stamp}`)).body;
    assert.deepEqual(set.archives.map((a: any) => [a.volume, a.verified?.ok]).sort(), VOLUMES.map((v) => [v, true]));
    const archives = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(archives, VOLUMES.flatMap((v) => [`${v}_${OLDER[1]}.tar.gz`, `${v}_${run.stamp}.tar.gz`]));
    for (const v of VOLUMES) {
      const out = path.join(fx.root, `gnu-${v}`);
      await fs.mkdir(out);
      await exec('tar', ['-C', out, '--numeric-owner', '-xpzf', path.join(fx.backupDir, `${v}_${run.stamp}.tar.gz`)]);
      assertSameSnapshot(await pySnapshot(path.join(fx.volumesDir, v)), await pySnapshot(out), `GNU tar's extraction of ${v}`);
    }
  });
});
