/**
 * The newest archive of each volume in BACKUP_DIR that did not fail its verification, for the
 * "last success" metrics: by the stamp in its name, with timestamp, size and duration from its `.manifest.json`; an archive without manifest
 * (copied in by hand, earlier OOB versions) gives its file size and mtime and no duration.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArchiveName, type ArchiveKind, type ArchiveName } from '../core/names.js';
import type { BackupStore } from './backup-store.js';

export interface LastArchive {
  volume: string;
  kind: ArchiveKind;
  file: string;
  stamp: string;
  sizeBytes: number;
  /** null when the archive has no (readable) manifest. */
  durationMs: number | null;
  /** When the archive was completed: the manifest's createdAt, else the file's mtime. */
  at: Date;
  source: 'manifest' | 'file';
}

/**
 * The newest archive of each volume (and of each dump name), by the stamp in its name, with what
 * its manifest says. Reads the directory listing, then only the one archive per volume it reports
 * (the next older one if that vanished meanwhile). Keyed and ordered by volume name.
 */
export async function lastArchivesByVolume(store: BackupStore): Promise<Record<string, LastArchive>> {
  const byVolume = new Map<string, ArchiveName[]>();
  for (const name of await store.readDirNames()) {
    const a = parseArchiveName(name);
    if (!a) continue;
    const list = byVolume.get(a.volume) ?? [];
    list.push(a);
    byVolume.set(a.volume, list);
  }
  const result: Record<string, LastArchive> = {};
  for (const volume of [...byVolume.keys()].sort()) {
    const candidates = byVolume.get(volume)!.sort((x, y) => (x.stamp < y.stamp ? 1 : x.stamp > y.stamp ? -1 : 0));
    for (const a of candidates) {
      const found = await describeArchive(store.dir, a);
      if (found) {
        result[volume] = found;
        break;
      }
    }
  }
  return result;
}

async function describeArchive(dir: string, a: ArchiveName): Promise<LastArchive | undefined> {
  const file = path.join(dir, a.file);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) return undefined;
  // An archive that failed its verification is no success: the next older one is the last.
  if ((await readVerified(`${file}.verify.json`)) === false) return undefined;
  const base = { volume: a.volume, kind: a.kind, file: a.file, stamp: a.stamp };
  const manifest = await readManifest(`${file}.manifest.json`);
  // A restore's safety backup is no backup of the schedule (the overdue check, the metrics): the next older one is the last.
  if (manifest?.safety) return undefined;
  if (manifest) {
    return {
      ...base,
      sizeBytes: manifest.size ?? stat.size,
      durationMs: manifest.durationMs ?? null,
      at: manifest.createdAt ?? stat.mtime,
      source: 'manifest',
    };
  }
  return { ...base, sizeBytes: stat.size, durationMs: null, at: stat.mtime, source: 'file' };
}

/** The fields we use, each only when present and sane; undefined when there is no readable manifest. */
async function readManifest(file: string): Promise<{ size?: number; durationMs?: number; createdAt?: Date; safety: boolean } | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const nonNegative = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const created = typeof m.createdAt === 'string' ? new Date(m.createdAt) : undefined;
  return {
    size: nonNegative(m.size),
    durationMs: nonNegative(m.durationMs),
    createdAt: created && !Number.isNaN(created.getTime()) ? created : undefined,
    safety: typeof m.safetyFor === 'string',
  };
}

/** The verification's outcome (verify-backup.ts writes it): false when it failed, undefined when there is none. */
async function readVerified(file: string): Promise<boolean | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(file, 'utf8')) as { ok?: unknown };
    return typeof v.ok === 'boolean' ? v.ok : undefined;
  } catch {
    return undefined;
  }
}
