/**
 * The first step of a restore from an off-site target (`from` in the request): each chosen
 * volume's archive of the set (or the set's SQL dump) is fetched from the target into BACKUP_DIR, its checksums held
 * against the copy's sidecars on the way (../engine/offsite/fetch-archive.ts). Then the restore
 * goes on exactly like one from a local archive: verified completely while extracted into staging,
 * a safety backup, the swap. Live data is untouched until then. An archive that is already in
 * BACKUP_DIR under its name is not fetched again (the restore verifies it like any other).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fetchArchive } from '../engine/offsite/fetch-archive.js';
import { listRemoteArchives } from '../engine/offsite/remote-listing.js';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import { rcloneOptions } from '../runtime/offsite-rclone.js';
import type { RestoreRequest } from '../stores/restore-requests.js';

export async function fetchFromTarget(
  ctx: AppContext,
  request: RestoreRequest,
  files: string[],
  identity: () => Promise<string | undefined>,
  log: Logger,
  o: { signal?: AbortSignal; onProgress?: (volume: string, received: number) => void } = {},
): Promise<string[]> {
  const from = request.from!;
  const offsite = ctx.config.offsite;
  if (!offsite?.targets.includes(from)) throw new Error(`${from} is not one of OFFSITE_TARGETS any more; nothing was changed`);
  const rclone = await rcloneOptions(offsite);
  const listed = await listRemoteArchives(rclone, from, o.signal);
  const fetched: string[] = [];
  let key: string | undefined;
  for (const file of files) {
    const archive = listed.find((a) => a.file === file);
    if (!archive) throw new Error(`${from} holds no complete copy of ${file} any more; nothing was changed`);
    if (await fs.stat(path.join(ctx.config.backupDir, file)).catch(() => undefined)) {
      log.info({ file }, 'archive is in BACKUP_DIR already: not fetched again');
      continue;
    }
    if (archive.encrypted) key ??= await identity();
    const volume = archive.volume;
    log.info({ volume, file: archive.object, from, size: archive.size }, 'fetching archive from the off-site target');
    const r = await fetchArchive({ rclone, target: from, archive, backupDir: ctx.config.backupDir, identity: key, signal: o.signal, onProgress: (n) => o.onProgress?.(volume, n) });
    log.info({ volume, file: r.file, size: r.size, sha256: r.sha256 }, 'archive fetched; its checksums match the copy\'s sidecars');
    fetched.push(r.file);
  }
  return fetched;
}
