/**
 * Removes SQL uploads whose restore request expired without a confirmation, while the API runs
 * (every minute, or every half RESTORE_CONFIRM_TTL when that is shorter), not only when a worker
 * starts: a 20 GiB upload nobody confirmed should not fill BACKUP_DIR for days.
 *
 * An upload's request is created the moment the upload is complete, so a file whose mtime is older
 * than RESTORE_CONFIRM_TTL (plus a grace) belongs to a request that has expired, unless it was
 * confirmed in time: then a restore job is waiting for it or running on it. Those files are kept;
 * a finished restore job removed its file itself (or, if it failed, the file can no longer be used:
 * a new restore needs a new request, and that a new upload). `.upload.partial` files of an upload
 * still streaming are fresh (the idle rule makes it write at least every UPLOAD_IDLE_TIMEOUT), so
 * the same age rule removes only leftovers of a crashed process. If Redis cannot be asked, nothing
 * is removed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../runtime/context.js';
import { UPLOAD_FILE, uploadsDir } from '../stores/uploads.js';

/** Files in use by restore jobs that have not finished: confirmed requests' uploads. */
async function filesInUse(ctx: AppContext): Promise<Set<string>> {
  const jobs = await ctx.queues.restore.getJobs(['active', 'waiting', 'delayed', 'prioritized'], 0, -1);
  const requests = await Promise.all(jobs.map(async (j) => (j?.data?.restoreId ? ctx.restores.get(String(j.data.restoreId)) : undefined)));
  return new Set(requests.flatMap((r) => (r?.sqlFile ? [path.resolve(r.sqlFile)] : [])));
}

export function sweepGraceMs(ttlMs: number): number {
  return Math.min(60_000, ttlMs);
}

/** One pass; returns the names removed. */
export async function sweepUploads(ctx: AppContext, now = Date.now()): Promise<string[]> {
  const dir = uploadsDir(ctx.config.backupDir);
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => UPLOAD_FILE.test(n));
  const maxAge = ctx.config.restoreConfirmTtlMs + sweepGraceMs(ctx.config.restoreConfirmTtlMs);
  const old: string[] = [];
  for (const n of names) {
    const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
    if (st && now - st.mtimeMs > maxAge) old.push(n);
  }
  if (old.length === 0) return [];
  const inUse = await filesInUse(ctx);
  const removed: string[] = [];
  for (const n of old) {
    const file = path.join(dir, n);
    if (inUse.has(path.resolve(file))) continue;
    await fs.rm(file, { force: true });
    removed.push(n);
  }
  return removed;
}

/** Starts the periodic sweep; returns stop(). */
export function startUploadSweep(ctx: AppContext): () => void {
  const log = ctx.logger.child({ module: 'upload-sweep' });
  const everyMs = Math.max(1000, Math.min(60_000, Math.floor(ctx.config.restoreConfirmTtlMs / 2)));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepUploads(ctx)
      .then((removed) => removed.length && log.info({ files: removed }, 'removed SQL uploads whose restore request expired unconfirmed'))
      .catch((err: Error) => log.warn({ err: err.message }, 'upload sweep skipped (Redis unavailable?); nothing removed'))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
