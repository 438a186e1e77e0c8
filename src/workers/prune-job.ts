/**
 * Prune one volume after its archive of the run succeeded (this job is the archive's flow parent,
 * so BullMQ starts it only then). Keeps the `keep` newest archives by the stamp in their name,
 * removes the rest with their sidecars, and removes `.partial` leftovers of dead jobs. Files that
 * do not match our naming are never touched.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import type { AppContext } from '../context.js';
import { archiveFileName, dumpFileName } from '../core/names.js';
import { selectPrunable } from '../core/retention.js';
import { SIDECAR_SUFFIXES } from '../lib/backup-store.js';
import type { PruneJobData } from '../lib/queues.js';

const LOCK_RETRY_MS = 5000;

export interface PruneResult {
  volume: string;
  kept: string[];
  removed: string[];
  debrisRemoved: string[];
}

export function makePruneProcessor(ctx: AppContext) {
  return async (job: Job<PruneJobData>, token?: string): Promise<PruneResult> => {
    const { volume, stamp, keep, kind = 'volume' } = job.data;
    const log = ctx.logger.child({ module: 'prune', volume, stamp, jobId: job.id });
    const lock = await ctx.locks.acquire(volume, String(job.id));
    if (!lock) {
      await job.moveToDelayed(Date.now() + LOCK_RETRY_MS, token);
      throw new DelayedError();
    }
    try {
      const dir = ctx.config.backupDir;
      // Belt and braces on top of the flow: without this run's archive on disk, prune nothing.
      const own = kind === 'sql' ? dumpFileName(volume, stamp) : archiveFileName(volume, stamp);
      if (!(await fs.stat(path.join(dir, own)).catch(() => undefined))?.isFile()) {
        throw new Error(`not pruning ${volume}: this run's archive ${own} is missing`);
      }
      const archives = (await ctx.store.listArchives()).filter((a) => a.volume === volume);
      const doomed = selectPrunable(archives, volume, keep, (a) => a.sizeDrop !== null);
      for (const a of doomed) {
        await removeIfPresent(path.join(dir, a.file));
        for (const suffix of SIDECAR_SUFFIXES) await removeIfPresent(path.join(dir, a.file + suffix));
      }
      // A crash between removing an archive and its sidecars, or a worker killed mid-write, leaves
      // debris that is only ours to clean while we hold the volume's lock.
      const debrisRemoved = await removeDebris(dir, volume);
      const kept = archives.map((a) => a.file).filter((f) => !doomed.some((d) => d.file === f)).sort();
      const result = { volume, kept, removed: doomed.map((a) => a.file), debrisRemoved };
      log.info({ keep, kept: kept.length, removed: result.removed, debrisRemoved }, 'prune finished');
      return result;
    } finally {
      await lock.release();
    }
  };
}

/** `.partial` files of this volume, and sidecars whose archive is gone. */
async function removeDebris(dir: string, volume: string): Promise<string[]> {
  const archive = `${volume}_\\d{4}-\\d{2}-\\d{2}-\\d{4}\\.(?:tar|sql)\\.gz`;
  const partial = new RegExp(`^${archive}(\\.[a-z0-9.]+)?\\.partial$`);
  const sidecar = new RegExp(`^(${archive})(${SIDECAR_SUFFIXES.map((s) => s.replace(/\./g, '\\.')).join('|')})$`);
  const names = await fs.readdir(dir);
  const present = new Set(names);
  const debris = names.filter((n) => partial.test(n) || (sidecar.test(n) && !present.has(sidecar.exec(n)![1]!)));
  for (const n of debris) await removeIfPresent(path.join(dir, n));
  return debris;
}

async function removeIfPresent(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}
