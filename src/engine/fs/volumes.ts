/**
 * Which volumes exist. With VOLUMES_DIR every subdirectory with a valid volume name is one (in
 * Docker: /mnt/elexisdb, /mnt/lucindadata, ...); with VOLUMES the list is explicit, and a listed
 * volume whose directory is missing still counts, so its archive job fails loudly instead of the
 * volume silently dropping out of the backup.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isValidVolumeName } from '../../core/names.js';

/** Where the volumes are: every valid subdirectory of `dir`, or an explicit name → directory list. */
export type VolumeSource = { kind: 'dir'; dir: string } | { kind: 'list'; volumes: Record<string, string> };

export interface VolumeListing {
  volumes: Record<string, string>;
  /** Subdirectories skipped because their name is not a valid volume name. */
  skipped: string[];
}

export async function listVolumes(source: VolumeSource): Promise<VolumeListing> {
  if (source.kind === 'list') return { volumes: { ...source.volumes }, skipped: [] };
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(source.dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`cannot read VOLUMES_DIR ${source.dir}: ${(err as Error).message}`, { cause: err });
  }
  const volumes: Record<string, string> = {};
  const skipped: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isDirectory()) continue;
    if (isValidVolumeName(e.name)) volumes[e.name] = path.join(source.dir, e.name);
    else skipped.push(e.name);
  }
  return { volumes, skipped };
}

export async function volumeDir(source: VolumeSource, volume: string): Promise<string | undefined> {
  if (source.kind === 'list') return source.volumes[volume];
  // A name that is no volume name can never be a path outside VOLUMES_DIR: checked before joining.
  return isValidVolumeName(volume) ? path.join(source.dir, volume) : undefined;
}

export class UnknownVolumeError extends Error {
  readonly code = 'unknown_volume';
  constructor(readonly unknown: string[], known: string[]) {
    super(`unknown volume(s): ${unknown.join(', ')}; known: ${known.join(', ') || '(none)'}`);
  }
}

/** The volumes a run archives: all of them, or the requested subset, each of which must exist. */
export async function selectRunVolumes(source: VolumeSource, requested?: string[]): Promise<Record<string, string>> {
  const { volumes } = await listVolumes(source);
  if (requested === undefined) return volumes;
  const unknown = requested.filter((v) => volumes[v] === undefined);
  if (unknown.length > 0) throw new UnknownVolumeError(unknown, Object.keys(volumes));
  return Object.fromEntries(requested.map((v) => [v, volumes[v]!]));
}
