/**
 * GET /api/volumes: every volume with its size, archive mode and newest archive; PUT
 * /api/volumes/:name sets the mode (issue 16). The size is a walk of the volume (file bytes, hard
 * links once), done by this API process and kept for SIZE_TTL_MS: the main screen polls, and a
 * walk of a large PACS store takes seconds.
 */
import type { AppContext } from '../../runtime/context.js';
import { listVolumes } from '../../engine/fs/volumes.js';
import { treeSize } from '../../engine/archive/tree-size.js';
import type { StoredArchive } from '../../stores/backup-store.js';
import { DEFAULT_FULL_EVERY, type VolumeMode } from '../../stores/volume-modes.js';
import type { Handler } from '../handler.js';
import { notFound } from '../http-error.js';
import { volumeModeBody, volumeParams } from '../schemas/index.js';
import { parseRequest } from '../validate.js';

const SIZE_TTL_MS = 5 * 60_000;
const sizes = new Map<string, { at: number; bytes: Promise<number | null> }>();

function sizeOf(dir: string): Promise<number | null> {
  const cached = sizes.get(dir);
  if (cached && Date.now() - cached.at < SIZE_TTL_MS) return cached.bytes;
  const bytes = treeSize(dir, undefined, new Set()).catch(() => null);
  sizes.set(dir, { at: Date.now(), bytes });
  return bytes;
}

function lastArchive(archives: StoredArchive[], volume: string) {
  const a = archives.filter((x) => x.kind === 'volume' && x.volume === volume).sort((x, y) => (x.stamp < y.stamp ? 1 : -1))[0];
  return a ? { file: a.file, stamp: a.stamp, size: a.size, level: a.level, basedOn: a.basedOn, verified: a.verified } : null;
}

function view(name: string, mode: VolumeMode, size: number | null, archives: StoredArchive[]) {
  return { name, size, mode: mode.mode, fullEvery: mode.fullEvery, fullOn: mode.fullOn, lastArchive: lastArchive(archives, name) };
}

async function known(ctx: AppContext): Promise<Record<string, string>> {
  return (await listVolumes(ctx.config.volumes)).volumes;
}

export const listVolumeModes: Handler = async (ctx) => {
  const volumes = await known(ctx);
  const names = Object.keys(volumes);
  const [modes, archives, bytes] = await Promise.all([
    ctx.volumeModes.all(names),
    ctx.store.listArchives({ shared: true }),
    Promise.all(names.map((n) => sizeOf(volumes[n]!))),
  ]);
  return { status: 200, body: { volumes: names.map((n, i) => view(n, modes.get(n)!, bytes[i]!, archives)) } };
};

export const putVolumeMode: Handler = async (ctx, req) => {
  const { name } = parseRequest(volumeParams, req.params, 'path');
  const body = parseRequest(volumeModeBody, req.body, 'body');
  const volumes = await known(ctx);
  if (volumes[name] === undefined) throw notFound(`no volume ${name}; known: ${Object.keys(volumes).join(', ') || '(none)'}`);
  const before = await ctx.volumeModes.get(name);
  const fullOn = body.fullOn === undefined ? before.fullOn : body.fullOn === null ? null : body.fullOn % 7;
  const mode: VolumeMode = { mode: body.mode, fullEvery: body.fullEvery ?? (before.fullEvery || DEFAULT_FULL_EVERY), fullOn };
  await ctx.volumeModes.put(name, mode);
  ctx.logger.info({ module: 'api', volume: name, ...mode }, 'volume archive mode saved');
  const [archives, size] = await Promise.all([ctx.store.listArchives({ shared: true }), sizeOf(volumes[name]!)]);
  return { status: 200, body: view(name, mode, size, archives) };
};
