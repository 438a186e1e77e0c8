/**
 * The copy records rebuilt from the targets after Redis lost its data (FLUSHALL, a new Redis
 * container, a lost volume). Redis is where the service keeps which archive reached which target
 * (../stores/offsite-copies.ts) and the copy jobs still to run; the targets hold the copies
 * themselves. Without the records the listing showed `copies: []`, a copy job lost with the queue
 * was never made, and the next prune deleted that archive locally although no target had it.
 *
 * Where: in every worker's maintenance (./maintenance.ts, also once at its start), because Redis
 * can lose its data under running processes (they reconnect, nothing restarts), and the loss shows
 * by the one key that has no TTL (`rebuiltTargets`) being gone. Per target, once, by one worker
 * (a claim in Redis): one `rclone lsjson` of the target, a plan (../core/copy-rebuild.ts), and a
 * copy job for each archive to find or to copy, queued with `find`, so that the copy job checks a
 * copy already there against the archive and records it without uploading
 * (../engine/offsite/find-copy.ts). The copy job, not this step, does the checking: a copy can
 * take a read-back of the whole object, and the copy queue's retries, progress, concurrency and
 * shutdown handling apply to it. The archives queued are noted as expected on the target before
 * the target counts as rebuilt. Prune first rebuilds (or waits for the worker that does), and
 * where a target still is not rebuilt (it cannot be listed) it keeps every archive the target has
 * no record of (./prune-job.ts): nothing local is deleted on knowledge not rebuilt yet.
 */
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../runtime/context.js';
import { rcloneOptions } from '../runtime/offsite-rclone.js';
import { planCopyRebuild } from '../core/copy-rebuild.js';
import { remoteSizeDrops } from '../core/retention.js';
import { parseArchiveName } from '../core/names.js';
import { isDirectoryNotFound, listRemoteArchives } from '../engine/offsite/remote-listing.js';
import { queueCopies } from '../stores/copy-jobs.js';

/** One worker rebuilds at a time; the claim lapses if that worker dies. */
const CLAIM_TTL_S = 600;

/**
 * `waitMs`: while another worker rebuilds, wait up to this long for it to end (prune waits, so that
 * its first run after a loss, or on a new installation, decides on rebuilt records).
 */
export async function rebuildCopyRecords(ctx: AppContext, o: { waitMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (o.waitMs ?? 0);
  while ((await rebuildOnce(ctx)) === 'busy' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
}

async function rebuildOnce(ctx: AppContext): Promise<'done' | 'busy'> {
  const offsite = ctx.config.offsite;
  if (!offsite) return 'done';
  const done = await ctx.copies.rebuiltTargets();
  const pending = offsite.targets.filter((t) => !done.has(t));
  if (pending.length === 0) return 'done';
  const claim = `${ctx.config.queuePrefix}:oob-copies-rebuild-claim`;
  const token = randomUUID();
  if ((await ctx.redis.set(claim, token, 'EX', CLAIM_TTL_S, 'NX')) !== 'OK') return 'busy';
  const log = ctx.logger.child({ module: 'copy-rebuild' });
  try {
    const rclone = await rcloneOptions(offsite);
    for (const target of pending) {
      const archives = await ctx.store.listArchives();
      const files = archives.map((a) => a.file);
      const [records, expected] = await Promise.all([ctx.copies.forFiles(files), ctx.copies.expectedFor(files)]);
      let remote;
      try {
        // A target directory never written to holds no copy (the first copy creates it).
        remote = await listRemoteArchives(rclone, target).catch((err: unknown) => (isDirectoryNotFound(err) ? [] : Promise.reject(err)));
      } catch (err) {
        // Tried again at the next maintenance; meanwhile prune keeps what this target has no record of.
        log.warn({ target, err: (err as Error).message }, 'off-site copy records not rebuilt yet: the target cannot be listed');
        continue;
      }
      const recorded = new Set(files.filter((f) => records.get(f)?.some((r) => r.target === target)));
      // The target's size drops as its retention sees them (applyRemoteRetention), which it never counts nor removes.
      const drops = remoteSizeDrops(remote, ctx.config.sizeDropAlert, new Set([...archives.filter((a) => a.sizeDrop !== null).map((a) => a.file), ...remote.filter((a) => a.sizeDropMarked).map((a) => a.file)]));
      const plan = planCopyRebuild(archives, remote, recorded, offsite.retention[target], drops);
      for (const [file, find] of [...plan.find.map((f) => [f, true] as const), ...plan.copy.map((f) => [f, false] as const)]) {
        const a = parseArchiveName(file);
        if (!a) continue;
        await ctx.copies.expect(file, [...new Set([...(expected.get(file) ?? []), target])]);
        const policy = { targets: [target], attempts: offsite.copyAttempts, retryDelayMs: offsite.retryDelayMs };
        await queueCopies(ctx.queues, { volume: a.volume, stamp: a.stamp, file, kind: a.kind, find }, policy);
      }
      await ctx.copies.markRebuilt(target, ctx.clock.now().toISOString());
      if (plan.find.length || plan.copy.length) {
        log.warn({ target, toFind: plan.find, toCopy: plan.copy }, 'off-site copy records missing (Redis lost its data?): rebuilt from the target; copies found there are checked and recorded without uploading, copies lost with the queue are made');
      } else {
        log.info({ target }, 'off-site copy records checked against the target: none missing');
      }
    }
  } finally {
    // Not another worker's claim, taken after ours lapsed.
    if ((await ctx.redis.get(claim)) === token) await ctx.redis.del(claim);
  }
  return 'done';
}
