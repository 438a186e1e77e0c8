/**
 * GET /api/backups/:stamp/archives/:volume/entries: one directory level of a volume's archive, a
 * page at a time, from the archive's entry index (never by decompressing the archive, except once
 * to build the index of an archive that has none). Of an incremental archive: the volume as it was
 * at that point, from the snapshots and indexes of its chain (point-entries.ts).
 */
import { listDirectory } from '../../engine/entry-index/list-directory.js';
import { listPointDirectory } from '../../engine/incremental/point-entries.js';
import { TYPE_NAME } from '../../engine/entry-index/index-format.js';
import { archiveLogger, display, fromKey, keyOf, readable, usingIndex, volumeArchive, volumePath } from '../archive-paths.js';
import { cursorAfter, nameOfCursor } from '../entries-cursor.js';
import type { Handler } from '../handler.js';
import { notFound } from '../http-error.js';
import { entriesParams, entriesQuery } from '../schemas/index.js';
import { parseRequest } from '../validate.js';

export const listEntries: Handler = async (ctx, req) => {
  const { stamp, volume } = parseRequest(entriesParams, req.params, 'path');
  const q = parseRequest(entriesQuery, req.query, 'query');
  const dir =
    q.dirKey !== undefined ? volumePath(fromKey(q.dirKey, 'dirKey'), 'dirKey', 'dir') : volumePath(Buffer.from(q.dir ?? '', 'utf8').toString('latin1'), 'dir', 'dir');
  const after = q.cursor === undefined ? undefined : nameOfCursor({ stamp, volume, dir }, q.cursor);
  const { archive, archivePath, chain } = await volumeArchive(ctx, stamp, volume);
  const { result: page, built } = chain
    ? {
        result: await readable(archive, () => listPointDirectory(ctx.config.backupDir, chain, dir, { after, limit: q.limit, logger: archiveLogger(ctx, archive) })),
        built: false,
      }
    : await usingIndex(ctx, archive, archivePath, (file, expected) => listDirectory(file, expected, dir, { after, limit: q.limit }));
  if (!page.found) throw notFound(`the archive ${archive.file} has no directory ${JSON.stringify(display(dir))}`);
  const slash = dir.lastIndexOf('/');
  return {
    status: 200,
    body: {
      stamp,
      volume,
      dir: display(dir),
      dirKey: keyOf(dir),
      parentKey: dir === '' ? null : keyOf(slash === -1 ? '' : dir.slice(0, slash)),
      entries: page.entries.map((e) => ({
        name: display(e.name),
        path: display(e.path),
        key: keyOf(e.path),
        type: TYPE_NAME[e.type],
        size: e.size,
        mtime: e.mtimeSec === null ? null : new Date(e.mtimeSec * 1000).toISOString(),
        linkTarget: e.link === undefined ? null : display(e.link),
      })),
      nextCursor: page.nextAfter === undefined ? null : cursorAfter({ stamp, volume, dir }, page.nextAfter),
      indexBuilt: built,
    },
  };
};
