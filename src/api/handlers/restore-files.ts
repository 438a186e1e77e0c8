/**
 * POST /api/restores with `paths`: a single-file restore request. Checks what it can before anything
 * is queued — the set and the volume's archive exist, every key is a path inside the volume and is
 * in the archive (from its entry index; of an incremental archive: in the volume as it was then) —
 * and answers like a set restore: a warning that says which paths go where, and the token to
 * confirm with.
 */
import type { AppContext } from '../../runtime/context.js';
import { besideFolderName, filesRestoreWarning } from '../../core/restore-warning.js';
import { TYPE_NAME } from '../../engine/entry-index/index-format.js';
import { chosenAncestor, selectPaths } from '../../engine/entry-index/select-paths.js';
import { volumeDir } from '../../engine/fs/volumes.js';
import { findPointPaths } from '../../engine/incremental/point-entries.js';
import { archiveLogger, display, fromKey, keyOf, readable, usingIndex, volumeArchive, volumePath } from '../archive-paths.js';
import type { ApiResponse } from '../handler.js';
import { badRequest } from '../http-error.js';

export interface FilesRestoreInput {
  stamp: string;
  volume: string;
  keys: string[];
  into: 'beside' | 'in-place';
  skipSafetyBackup: boolean;
}

export async function requestFilesRestore(ctx: AppContext, input: FilesRestoreInput): Promise<ApiResponse> {
  const { stamp, volume, into } = input;
  const paths = chosenPaths(input.keys);
  const { archive, archivePath, chain } = await volumeArchive(ctx, stamp, volume);
  if ((await volumeDir(ctx.config.volumes, volume)) === undefined) {
    throw badRequest(`volume ${volume} of the backup is not configured on this server (VOLUMES)`, 'volumes');
  }
  const found = chain
    ? await readable(archive, () => findPointPaths(ctx.config.backupDir, chain, paths, { logger: archiveLogger(ctx, archive) }))
    : (await usingIndex(ctx, archive, archivePath, (file, expected) => selectPaths(file, expected, paths))).result.found;
  const missing = paths.filter((p) => !found.has(p));
  if (missing.length) {
    throw badRequest(`not in the archive ${archive.file}: ${missing.slice(0, 5).map((p) => JSON.stringify(display(p))).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}`, 'paths');
  }
  // Beside overwrites nothing: no safety backup needed (and none is made).
  const skipSafetyBackup = into === 'beside' ? true : input.skipSafetyBackup;
  const { request, token } = await ctx.restores.create({
    kind: 'files',
    stamp,
    volumes: [volume],
    sqlFile: null,
    skipSafetyBackup,
    paths: paths.map((p) => Buffer.from(p, 'latin1').toString('hex')),
    into,
  });
  ctx.logger.info({ module: 'api', restoreId: request.id, stamp, volume, into, paths: paths.length }, 'single-file restore requested, waiting for confirmation');
  const shown = paths.map(display);
  return {
    status: 201,
    body: {
      id: request.id,
      token,
      stamp,
      volumes: [volume],
      paths: paths.map((p) => ({ key: keyOf(p), path: display(p), type: TYPE_NAME[found.get(p)!] })),
      into,
      ...(into === 'beside' ? { target: besideFolderName(stamp) } : {}),
      skipSafetyBackup,
      warning: filesRestoreWarning(stamp, volume, shown, into, !skipSafetyBackup),
      expiresAt: request.expiresAt,
    },
  };
}

/**
 * The keys as paths inside the volume (400 for anything else, and for the volume root, which is a
 * set restore), each once, and none inside another chosen one (the folder covers it).
 */
function chosenPaths(keys: string[]): string[] {
  const paths = new Set<string>();
  for (const key of keys) {
    const p = volumePath(fromKey(key, 'paths'), 'paths');
    if (p === '') throw badRequest('the volume root cannot be restored as a path; restore the whole volume without paths', 'paths');
    paths.add(p);
  }
  return [...paths].filter((p) => {
    const others = new Set([...paths].filter((o) => o !== p));
    return chosenAncestor(others, p) === undefined;
  }).sort();
}
