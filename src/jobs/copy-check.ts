/**
 * The verification of an archive's off-site copies, done by a verify job that is not part of a run
 * (the verify schedule's newest set, "verify this set now"): each copy still on its target is held
 * against what was sent (size, and the remote's own hash or a read-back, ../engine/offsite/send.ts),
 * and its sidecars as a restore from the target needs them (marker, manifest, checksums);
 * a good one gets a new `verifiedAt`; a bad or missing one is forgotten (so local prune keeps the
 * archive), copied again, and fails the verify job naming the target.
 */
import path from 'node:path';
import { checkSidecars } from '../engine/offsite/find-copy.js';
import { lsjson, remotePath } from '../engine/offsite/rclone.js';
import { readSidecarSha256 } from '../engine/verify/archive-verification.js';
import { verifyObject } from '../engine/offsite/send.js';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import { rcloneOptions } from '../runtime/offsite-rclone.js';
import { presentCopies } from '../stores/offsite-copies.js';
import { queueCopies } from '../stores/copy-jobs.js';
import { parseArchiveName } from '../core/names.js';

export async function checkCopies(ctx: AppContext, file: string, log: Logger, signal?: AbortSignal): Promise<{ target: string; ok: boolean; error?: string }[]> {
  const offsite = ctx.config.offsite;
  if (!offsite) return [];
  const records = presentCopies((await ctx.copies.forFiles([file])).get(file)).filter((r) => offsite.targets.includes(r.target));
  if (records.length === 0) return [];
  const rclone = await rcloneOptions(offsite);
  const localSha256 = await readSidecarSha256(path.join(ctx.config.backupDir, file));
  const results = [];
  for (const r of records) {
    try {
      const { method } = await verifyObject(rclone, remotePath(r.target, r.file), r, signal, r.check ?? undefined);
      // The object alone is no restorable copy: its marker, manifest and checksums too, as a
      // restore from the target needs them (an audit found copies without them reported good).
      const entries = new Map((await lsjson(rclone, r.target, { signal })).map((e) => [e.Name, e]));
      const sidecars = await checkSidecars({ rclone, target: r.target, file, backupDir: ctx.config.backupDir, signal }, r.encrypted, entries, localSha256 ?? r.sha256);
      if ('problem' in sidecars) throw new Error(sidecars.problem);
      if (sidecars.objectSha256 !== r.sha256) throw new Error(`the completion marker of ${r.file} on ${r.target} gives ${sidecars.objectSha256}, the copy was made with ${r.sha256}`);
      await ctx.copies.markVerified(file, r.target, ctx.clock.now().toISOString());
      log.info({ target: r.target, object: r.file, method }, 'off-site copy verified');
      results.push({ target: r.target, ok: true });
    } catch (err) {
      log.error({ target: r.target, object: r.file, err: (err as Error).message }, 'off-site copy failed its verification');
      results.push({ target: r.target, ok: false, error: (err as Error).message });
    }
  }
  const bad = results.filter((r) => !r.ok);
  if (bad.length) {
    // The bad copy no longer counts (local prune keeps the archive again) and is made anew.
    for (const b of bad) await ctx.copies.forgetTarget(file, b.target);
    await ctx.copies.expect(file, records.map((r) => r.target));
    const archive = parseArchiveName(file);
    if (archive) {
      const policy = { targets: bad.map((b) => b.target), attempts: offsite.copyAttempts, retryDelayMs: offsite.retryDelayMs };
      await queueCopies(ctx.queues, { volume: archive.volume, stamp: archive.stamp, file, kind: archive.kind }, policy, `-again-${Date.now()}`);
    }
    throw new Error(`${file} verified locally, but its copy on ${bad.map((b) => `${b.target} is not good (${b.error})`).join('; ')}: copied again`);
  }
  return results;
}
