/**
 * What a worker cleans up at start: restores that were interrupted mid-swap are rolled back (or
 * finished, if the swap had completed), staging directories of extractions that never reached the
 * swap are removed, and SQL uploads nobody confirmed within a day are deleted. Skipped while a
 * restore holds the restore hold: its staging directories are in use.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../context.js';
import { RESTORE_HOLD } from '../lib/queues.js';
import { uploadsDir } from '../lib/uploads.js';
import { listVolumes } from '../lib/volumes.js';
import { recoverInterruptedRestores } from './swap-volume.js';

const UPLOAD_MAX_AGE_MS = 24 * 3600 * 1000;

export async function recoverAtBoot(ctx: AppContext): Promise<void> {
  const log = ctx.logger.child({ module: 'recovery' });
  const holder = await ctx.restoreHold.holder(RESTORE_HOLD);
  if (holder) {
    log.info({ holder }, 'a restore is running: leaving its staging directories alone');
    return;
  }
  const { volumes } = await listVolumes(ctx.config.volumes).catch(() => ({ volumes: {} as Record<string, string> }));
  for (const [volume, dir] of Object.entries(volumes)) {
    const done = await recoverInterruptedRestores(dir, log).catch((err: Error) => {
      log.error({ volume, err: err.message }, 'could not recover an interrupted restore; check the volume by hand');
      return [];
    });
    if (done.length) log.warn({ volume, actions: done }, 'recovered interrupted restore');
  }
  await removeOldUploads(uploadsDir(ctx.config.backupDir));
}

async function removeOldUploads(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const p = path.join(dir, n);
    const st = await fs.stat(p).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > UPLOAD_MAX_AGE_MS) await fs.rm(p, { force: true });
  }
}
