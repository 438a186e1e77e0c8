/**
 * The first step of a restore from an off-site target (`from` in the request): each chosen
 * volume's archive of the set (or the set's SQL dump) is fetched from the target into BACKUP_DIR, its checksums held
 * against the copy's sidecars on the way (../engine/offsite/fetch-archive.ts). Then the restore
 * goes on exactly like one from a local archive: verified completely while extracted into staging,
 * a safety backup, the swap. Live data is untouched until then. An archive that is already in
 * BACKUP_DIR under its name is not fetched again (the restore verifies it like any other).
 *
 * Incremental archives (issue 16): a volume's archive of the set may be `<volume>_<stamp>.inc.tar.gz`
 * instead of the full's name; once it is fetched, its manifest names the full and the incrementals
 * before it (`basedOn`), and those are fetched too, so that the restore finds the whole chain.
 *
 * What a restore fetched and did not verify is removed again when it fails (settleFetched): an
 * archive that failed its verification must not stay in BACKUP_DIR as a set of its own, nor be used
 * by a retry instead of the copy on the target (which the admin may have repaired meanwhile). What
 * the restore verified completely stays, also when a later step failed (a download of hours is not
 * thrown away, and a volume already swapped in keeps its archive beside it), with that verification
 * recorded in its `.verify.json`, so the listing shows it verified and not `null`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fetchArchive } from '../engine/offsite/fetch-archive.js';
import { readChainManifest } from '../engine/incremental/chain.js';
import { listRemoteArchives } from '../engine/offsite/remote-listing.js';
import { archiveFileName, parseArchiveName } from '../core/names.js';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import { rcloneOptions } from '../runtime/offsite-rclone.js';
import type { RestoreRequest } from '../stores/restore-requests.js';
import { SIDECAR_SUFFIXES } from '../stores/backup-store.js';
import { enqueueSetVerification } from '../stores/verify-runs.js';
import { queueCopies } from '../stores/copy-jobs.js';
import { writeFileAtomic } from '../engine/fs/atomic.js';
import { VERIFY_SUFFIX, type VerifyOutcome } from './verify-backup.js';
import type { VerifiedArchive } from '../engine/verify/archive-verification.js';

/** What a restore from a target needs from its job: the age identity, and a list of what it fetched. */
export interface FromTarget {
  identity: () => Promise<string | undefined>;
  /** Filled as archives are published into BACKUP_DIR, so that a failure can remove them. */
  fetched: string[];
  /** Archives (file names) this restore verified completely, with the outcome for their `.verify.json`. */
  verified?: Map<string, VerifyOutcome>;
}

export async function fetchFromTarget(
  ctx: AppContext,
  request: RestoreRequest,
  files: string[],
  { identity, fetched }: FromTarget,
  log: Logger,
  o: { signal?: AbortSignal; onProgress?: (volume: string, received: number) => void } = {},
): Promise<void> {
  const from = request.from!;
  const offsite = ctx.config.offsite;
  if (!offsite?.targets.includes(from)) throw new Error(`${from} is not one of OFFSITE_TARGETS any more; nothing was changed`);
  const rclone = await rcloneOptions(offsite);
  const listed = await listRemoteArchives(rclone, from, o.signal);
  let key: string | undefined;
  const queue = files.map((file) => incrementalIfOnlyThat(file, listed));
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!;
    const archive = listed.find((a) => a.file === file);
    const local = path.join(ctx.config.backupDir, file);
    if (await fs.stat(local).catch(() => undefined)) {
      log.info({ file }, 'archive is in BACKUP_DIR already: not fetched again');
    } else {
      if (!archive) throw new Error(`${from} holds no complete copy of ${file} any more; nothing was changed`);
      if (archive.encrypted) key ??= await identity();
      const volume = archive.volume;
      log.info({ volume, file: archive.object, from, size: archive.size }, 'fetching archive from the off-site target');
      // What this server recorded when it made the copy, if Redis still has it (not on a new server).
      const recorded = (await ctx.copies.get(file, from))?.sha256;
      const r = await fetchArchive({
        rclone, target: from, archive, backupDir: ctx.config.backupDir, identity: key, signal: o.signal, onProgress: (n) => o.onProgress?.(volume, n), recordedSha256: recorded,
      });
      fetched.push(r.file);
      log.info({ volume, file: r.file, size: r.size, sha256: r.sha256 }, 'archive fetched; its checksums match the copy\'s sidecars');
    }
    // An incremental needs its chain: the full and the incrementals before it, as its manifest names them.
    for (const base of (await readChainManifest(local))?.basedOn ?? []) if (!queue.includes(base.file)) queue.push(base.file);
  }
}

/** The set's archive of a volume is named like a full; in incremental mode it may be the `.inc.tar.gz`. */
function incrementalIfOnlyThat(file: string, listed: { file: string }[]): string {
  const name = parseArchiveName(file);
  if (!name || name.kind !== 'volume' || listed.some((a) => a.file === file)) return file;
  const incremental = archiveFileName(name.volume, name.stamp, true);
  return listed.some((a) => a.file === incremental) ? incremental : file;
}

/**
 * After the restore: each archive it fetched and verified gets that verification recorded; one it
 * fetched and did not verify is removed when the restore failed, and otherwise (a SQL dump, which
 * its load checks but no verify job has read) queued for verification.
 */
export async function settleFetched(ctx: AppContext, from: FromTarget, failed: boolean, log: Logger, target?: string, requestId = ''): Promise<void> {
  const kept = from.fetched.filter((f) => !failed || from.verified?.has(f));
  if (target) await recordFoundCopies(ctx, target, kept, requestId, log);
  const unverified: string[] = [];
  for (const file of from.fetched) {
    const outcome = from.verified?.get(file);
    if (!outcome) {
      unverified.push(file);
      continue;
    }
    await writeFileAtomic(path.join(ctx.config.backupDir, `${file}${VERIFY_SUFFIX}`), `${JSON.stringify(outcome, null, 2)}\n`)
      .then(() => log.info({ file }, failed ? 'archive fetched and verified by the failed restore kept in BACKUP_DIR' : 'archive fetched and verified by the restore'))
      .catch((err: Error) => log.warn({ file, err: err.message }, 'could not record the restore\'s verification of a fetched archive'));
  }
  if (failed) return removeFetched(ctx.config.backupDir, unverified, log);
  const stamps = new Set(unverified.map((f) => parseArchiveName(f)?.stamp).filter((x): x is string => x !== undefined));
  for (const stamp of stamps) {
    const set = await ctx.store.getSet(stamp);
    const archives = set?.archives.filter((a) => unverified.includes(a.file)) ?? [];
    if (!set || archives.length === 0) continue;
    await enqueueSetVerification(ctx.queues, { ...set, archives })
      .catch((err: Error) => log.warn({ stamp, err: err.message }, 'could not queue the verification of what the restore fetched'));
  }
}

/**
 * What a restore fetched stays in BACKUP_DIR, and its copy stays on the target: that copy is queued
 * to be found and recorded (the copy job with `find` checks it and records it without uploading,
 * as after Redis lost its records, ./copy-rebuild.ts). Without it a set brought back from a target
 * on a new server was listed with `copies: []` although the target held it (found by an audit), and
 * its copy was neither shown nor verified again; the rebuild at the worker's start had found an
 * empty BACKUP_DIR.
 */
async function recordFoundCopies(ctx: AppContext, target: string, files: readonly string[], requestId: string, log: Logger): Promise<void> {
  const offsite = ctx.config.offsite;
  if (!offsite?.targets.includes(target)) return;
  const expected = await ctx.copies.expectedFor([...files]).catch(() => new Map<string, string[]>());
  for (const file of files) {
    const a = parseArchiveName(file);
    if (!a) continue;
    try {
      await ctx.copies.expect(file, [...new Set([...(expected.get(file) ?? []), target])]);
      const policy = { targets: [target], attempts: offsite.copyAttempts, retryDelayMs: offsite.retryDelayMs };
      await queueCopies(ctx.queues, { volume: a.volume, stamp: a.stamp, file, kind: a.kind, find: true }, policy, `-fetched-${requestId}`);
    } catch (err) {
      log.warn({ file, target, err: (err as Error).message }, 'could not queue the recording of the copy a restore fetched');
    }
  }
}

/** A `.verify.json` for an archive the restore read completely (settleFetched records it). */
export function restoreVerification(v: VerifiedArchive, durationMs: number): VerifyOutcome {
  return {
    ok: true, at: new Date().toISOString(), entries: v.entries, bytes: v.bytes, origin: v.origin, gnuTar: true,
    extracted: v.extracted !== undefined, durationMs,
  };
}

/** Removes what a failed restore fetched, with the sidecars the fetch published beside it. */
async function removeFetched(backupDir: string, files: readonly string[], log: Logger): Promise<void> {
  for (const file of files) {
    const names = [file, ...SIDECAR_SUFFIXES.map((s) => `${file}${s}`)];
    await Promise.all(names.map((n) => fs.rm(path.join(backupDir, n), { force: true })))
      .then(() => log.info({ file }, 'archive fetched for the failed restore removed from BACKUP_DIR'))
      .catch((err: Error) => log.error({ file, err: err.message }, 'could not remove an archive fetched for the failed restore'));
  }
}
