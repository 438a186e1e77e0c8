/**
 * BACKUP_DIR is the truth about which backups exist: archives an admin copied in by hand, or that
 * earlier OOB versions made without sidecars, are listed like our own. This module reads it; the
 * archive and prune steps are the only writers.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArchiveName, stampToDate, type ArchiveName } from '../core/names.js';

export interface StoredArchive extends ArchiveName {
  size: number;
  /** From the `.sha256` sidecar; null for archives made without one (earlier OOB versions, by hand). */
  sha256: string | null;
  /** Result of the last verification; null until one ran. */
  verified: { ok: boolean; at: string; error?: string } | null;
  /** Set when the archive was much smaller than the volume's previous one (wipe, ransomware?). */
  /** `measure: 'entries'`: compared by the volume's entry count (incremental mode), previousSize then counts entries. */
  sizeDrop: { previousFile: string; previousSize: number; ratio: number; measure?: 'entries' } | null;
  /**
   * 'oob-backup': made by this service (it has our manifest; verification holds it against that too).
   * 'external': copied in by hand or made by an earlier OOB version; verified by reading it alone.
   */
  origin: 'oob-backup' | 'external';
  /** A catch-up run's archive: the missed scheduler tick it stands in for (its stamp is when it ran). */
  catchUpFor: string | null;
  /** Entries skipped or changed while archived (vanished, shrank, a socket), from the manifest; 0 without one. */
  warnings: number;
  /** The first of those warnings' texts (names escaped), as the manifest keeps them. */
  warningMessages: string[];
  /** 0 for a full (either mode); 1, 2, … for the incrementals of a chain (issue 16). */
  level: number;
  /** A safety backup: the data right before restore <id> replaced it; not one of the `keep` generations. */
  safetyFor: string | null;
  /** The files a restore of this archive reads before it, the full first; [] for a full. */
  basedOn: string[];
  /**
   * An incremental whose chain cannot be restored: a base that failed its own verification or is
   * gone. Its own verification may have passed, yet it is no restorable point (found by an audit:
   * listed as verified). Absent when the chain is whole.
   */
  chainProblem?: string;
}

export interface BackupSet {
  stamp: string;
  createdAt: string;
  /** Set when the set was made by a catch-up run: the missed tick it stands in for. */
  catchUpFor: string | null;
  archives: StoredArchive[];
  /** Every file a restore of the whole set reads (each archive's basedOn, then the archive), by volume. */
  restoreNeeds: string[];
}

/**
 * Files beside an archive that belong to it (removed with it). `.entries.gz`: the entry index
 * (engine/entry-index); `.snar`: GNU tar's snapshot after an archive of incremental mode, the start
 * of the next one.
 */
export const SIDECAR_SUFFIXES = ['.sha256', '.manifest.json', '.verify.json', '.entries.gz', '.snar'];

/** How old a shared listing may be when BACKUP_DIR looks unchanged (see BackupStore.listArchives). */
export const SHARED_LISTING_MAX_AGE_MS = 1000;

export class BackupStore {
  constructor(
    readonly dir: string,
    private readonly timezone: string,
    /** See listArchives; the tests set 0 to read every shared listing anew. */
    private readonly sharedMaxAgeMs = SHARED_LISTING_MAX_AGE_MS,
  ) {}

  /** A listing being read for readers that may share one (see listArchives). */
  private reading: Promise<StoredArchive[]> | undefined;
  /** The last shared listing, with the directory's change stamp before it was read (see listArchives). */
  private recent: { archives: StoredArchive[]; dirStamp: string; readAt: number } | undefined;

  /**
   * Every archive whose name is ours, with its size and recorded checksum, read now. With
   * `shared`, for the API and the metrics, where the main screens of several users poll at once:
   * - a caller joins a read that is already under way;
   * - a listing read less than SHARED_LISTING_MAX_AGE_MS ago is answered again while BACKUP_DIR
   *   itself is unchanged (its mtime, ctime and inode). Every writer of ours publishes by a rename
   *   into the directory (archives, sidecars, `.verify.json`, prunes), which changes its mtime, so
   *   a new archive or verification shows at once. What a rename cannot show — an archive an
   *   admin is still copying in by hand, a sidecar edited in place, a change within the clock tick
   *   of the directory's stat — shows at the latest after that second.
   * Why: a listing reads a stat and three sidecars per archive (13 file-system calls on libuv's
   * four threads); 50 polling clients during an archive made that the slowest request of the API
   * (BENCHMARKS.md). Never for the jobs that decide what to prune or restore: they read now.
   */
  async listArchives(o: { shared?: boolean } = {}): Promise<StoredArchive[]> {
    if (!o.shared) return this.readArchives();
    const readAt = performance.now();
    const dirStamp = await this.dirStamp();
    const recent = this.recent;
    if (recent && dirStamp !== undefined && recent.dirStamp === dirStamp && readAt - recent.readAt < this.sharedMaxAgeMs) {
      return [...recent.archives];
    }
    // The stamp was taken before the read: a change during it makes the next caller read again.
    this.reading ??= this.readArchives()
      .then((archives) => {
        this.recent = dirStamp === undefined ? undefined : { archives, dirStamp, readAt };
        return archives;
      })
      .finally(() => (this.reading = undefined));
    return [...(await this.reading)];
  }

  /** BACKUP_DIR's change stamp; undefined when it cannot be read (then nothing is reused). */
  private async dirStamp(): Promise<string | undefined> {
    const st = await fs.stat(this.dir, { bigint: true }).catch(() => undefined);
    return st ? `${st.ino}:${st.mtimeNs}:${st.ctimeNs}` : undefined;
  }

  private async readArchives(): Promise<StoredArchive[]> {
    const names = await this.readDirNames();
    const found = names.map(parseArchiveName).filter((a): a is ArchiveName => a !== undefined);
    const archives = (await Promise.all(found.map((a) => this.readArchive(a)))).filter((a): a is StoredArchive => a !== undefined);
    const byFile = new Map(archives.map((a) => [a.file, a]));
    for (const a of archives) {
      for (const base of a.basedOn) {
        const b = byFile.get(base);
        if (!b) a.chainProblem ??= `${base}, which a restore of it needs, is gone`;
        else if (b.verified?.ok === false) a.chainProblem ??= `${base}, which a restore of it needs, failed its verification`;
      }
    }
    return archives;
  }

  private async readArchive(a: ArchiveName): Promise<StoredArchive | undefined> {
    const full = path.join(this.dir, a.file);
    const stat = await fs.stat(full).catch(() => undefined);
    if (!stat?.isFile()) return undefined; // vanished meanwhile (pruned), or a directory named like one
    const [verify, manifest, sha256] = await Promise.all([
      readJson<{ ok: boolean; at: string; error?: string }>(`${full}.verify.json`),
      readJson<{ sizeDrop?: StoredArchive['sizeDrop']; catchUpFor?: unknown; safetyFor?: unknown; tool?: string; warnings?: unknown; warningMessages?: unknown; level?: unknown; basedOn?: unknown }>(`${full}.manifest.json`),
      this.readChecksum(a.file),
    ]);
    return {
      ...a,
      size: stat.size,
      sha256,
      verified: verify ? { ok: verify.ok, at: verify.at, ...(verify.error ? { error: verify.error } : {}) } : null,
      sizeDrop: manifest?.sizeDrop ?? null,
      origin: manifest?.tool === 'oob-backup' ? 'oob-backup' : 'external',
      catchUpFor: typeof manifest?.catchUpFor === 'string' ? manifest.catchUpFor : null,
      safetyFor: typeof manifest?.safetyFor === 'string' ? manifest.safetyFor : null,
      warnings: typeof manifest?.warnings === 'number' ? manifest.warnings : 0,
      warningMessages: Array.isArray(manifest?.warningMessages) ? manifest.warningMessages.filter((m): m is string => typeof m === 'string') : [],
      level: typeof manifest?.level === 'number' ? manifest.level : 0,
      basedOn: Array.isArray(manifest?.basedOn) ? manifest.basedOn.map((b: { file?: unknown }) => String(b.file)) : [],
    };
  }

  /** Backup sets, newest first; archives within a set by volume name. `shared`: see listArchives. */
  async listSets(o: { shared?: boolean } = {}): Promise<BackupSet[]> {
    const bySet = new Map<string, StoredArchive[]>();
    for (const a of await this.listArchives(o)) {
      const list = bySet.get(a.stamp) ?? [];
      list.push(a);
      bySet.set(a.stamp, list);
    }
    return [...bySet.entries()]
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
      .map(([stamp, archives]) => ({
        stamp,
        createdAt: stampToDate(stamp, this.timezone).toISOString(),
        catchUpFor: archives.find((a) => a.catchUpFor !== null)?.catchUpFor ?? null,
        archives: archives.sort((x, y) => x.volume.localeCompare(y.volume)),
        restoreNeeds: archives.flatMap((a) => [...a.basedOn, a.file]),
      }));
  }

  async getSet(stamp: string, o: { shared?: boolean } = {}): Promise<BackupSet | undefined> {
    return (await this.listSets(o)).find((s) => s.stamp === stamp);
  }

  async hasSet(stamp: string): Promise<boolean> {
    const names = await this.readDirNames();
    return names.some((n) => parseArchiveName(n)?.stamp === stamp);
  }

  async readDirNames(): Promise<string[]> {
    try {
      return await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async readChecksum(file: string): Promise<string | null> {
    try {
      const text = await fs.readFile(path.join(this.dir, `${file}.sha256`), 'utf8');
      const m = /^([0-9a-f]{64})\s/.exec(text);
      return m ? m[1]! : null;
    } catch {
      return null;
    }
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined; // missing (archives made by hand) or unreadable: the listing still shows the archive
  }
}
