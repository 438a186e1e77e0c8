/**
 * Where each archive's off-site copies are: one Redis hash per archive (`<prefix>:oob-copies:<file>`,
 * field = target), written by the copy job once the copy is verified on the target, and by the
 * scheduled verification when it checks a copy again. Prune reads it to keep archives that have not
 * reached every target; the listing shows it as `copies`. A target's own listing stays the truth on
 * a new server (the disaster case): this store is what the running service knows it sent.
 *
 * Records hold the target (`remote:path`, a name from OFFSITE_TARGETS, never a credential), the
 * object's name, size and hashes, and times.
 */
import type { Redis } from 'ioredis';

export interface CopyRecord {
  target: string;
  /** The object's name on the target (`<file>.age` when encrypted). */
  file: string;
  size: number;
  /** Of the object on the target (the ciphertext when encrypted). */
  sha256: string;
  md5: string;
  sha1: string;
  /** The hash the target computes itself that the copy is checked with; null: read back. */
  check?: 'sha256' | 'sha1' | 'md5' | null;
  encrypted: boolean;
  copiedAt: string;
  verifiedAt: string;
  /** Set when the target's retention removed the copy. */
  removedAt?: string;
  /**
   * Set when the copy was not uploaded by this record's job but found complete on the target and
   * checked against the local archive (after Redis lost its records, ../jobs/copy-rebuild.ts);
   * `copiedAt` is then the object's time on the target.
   */
  foundAt?: string;
}

/** What the listing shows of a copy. */
export type ListedCopy = Pick<CopyRecord, 'target' | 'file' | 'size' | 'sha256' | 'copiedAt' | 'verifiedAt'>;

/** Records are dropped this long after the last write: an archive pruned locally lives on only on the target. */
const RECORD_TTL_S = 400 * 24 * 3600;

export class OffsiteCopies {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(file: string): string {
    return `${this.prefix}:oob-copies:${file}`;
  }

  private rebuiltKey(): string {
    return `${this.prefix}:oob-copies-rebuilt`;
  }

  /**
   * The targets whose copies of BACKUP_DIR's archives have been looked up on the target since this
   * Redis holds data (../jobs/copy-rebuild.ts). The key has no TTL: it is gone only when Redis lost
   * its data, and with it every record that prune and the listing rely on.
   */
  async rebuiltTargets(): Promise<Set<string>> {
    return new Set(await this.redis.hkeys(this.rebuiltKey()));
  }

  async markRebuilt(target: string, at: string): Promise<void> {
    await this.redis.hset(this.rebuiltKey(), target, at);
  }

  private expectedKey(file: string): string {
    return `${this.prefix}:oob-copies-expected:${file}`;
  }

  /**
   * Notes the targets an archive's copies were queued for. Only such archives wait for their
   * copies before local prune may remove them: archives from before OFFSITE_TARGETS was set, and
   * safety backups, are never copied and must not be kept forever.
   */
  async expect(archiveFile: string, targets: readonly string[]): Promise<void> {
    await this.redis.set(this.expectedKey(archiveFile), JSON.stringify(targets), 'EX', RECORD_TTL_S);
  }

  /** Per archive, the targets its copies were queued for (absent: none were). */
  async expectedFor(files: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (files.length === 0) return out;
    const values = await this.redis.mget(...files.map((f) => this.expectedKey(f)));
    files.forEach((f, i) => {
      if (values[i]) out.set(f, JSON.parse(values[i]!) as string[]);
    });
    return out;
  }

  async record(archiveFile: string, r: CopyRecord): Promise<void> {
    await this.redis.multi().hset(this.key(archiveFile), r.target, JSON.stringify(r)).expire(this.key(archiveFile), RECORD_TTL_S).exec();
  }

  async markVerified(archiveFile: string, target: string, at: string): Promise<void> {
    const r = await this.get(archiveFile, target);
    if (r) await this.record(archiveFile, { ...r, verifiedAt: at });
  }

  async get(archiveFile: string, target: string): Promise<CopyRecord | undefined> {
    const raw = await this.redis.hget(this.key(archiveFile), target);
    return raw ? (JSON.parse(raw) as CopyRecord) : undefined;
  }

  /** Every archive's records, for many archives in one round trip. */
  async forFiles(files: string[]): Promise<Map<string, CopyRecord[]>> {
    const out = new Map<string, CopyRecord[]>();
    if (files.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const f of files) pipe.hvals(this.key(f));
    const results = (await pipe.exec()) ?? [];
    files.forEach((f, i) => {
      const [err, vals] = results[i] ?? [];
      if (err) throw err;
      out.set(f, ((vals as string[]) ?? []).map((v) => JSON.parse(v) as CopyRecord).sort((a, b) => a.target.localeCompare(b.target)));
    });
    return out;
  }

  /**
   * The copy on `target` was removed by the target's retention. The record stays (marked): the
   * archive did reach the target, so local prune may remove it; the listing no longer shows it.
   */
  async markRemoved(archiveFile: string, target: string, at: string): Promise<void> {
    const r = await this.get(archiveFile, target);
    if (r) await this.record(archiveFile, { ...r, removedAt: at });
  }

  /** The copy on `target` turned out bad: it no longer counts as made. */
  async forgetTarget(archiveFile: string, target: string): Promise<void> {
    await this.redis.hdel(this.key(archiveFile), target);
  }

  async forget(archiveFile: string): Promise<void> {
    await this.redis.del(this.key(archiveFile));
  }
}

export function listedCopy(r: CopyRecord): ListedCopy {
  return { target: r.target, file: r.file, size: r.size, sha256: r.sha256, copiedAt: r.copiedAt, verifiedAt: r.verifiedAt };
}

/** The copies that are still on their targets. */
export function presentCopies(records: readonly CopyRecord[] | undefined): CopyRecord[] {
  return (records ?? []).filter((r) => !r.removedAt);
}

/** The targets an archive has not reached yet (a copy removed there since by retention did reach it). */
export function missingTargets(targets: readonly string[], records: readonly CopyRecord[] | undefined): string[] {
  return targets.filter((t) => !records?.some((r) => r.target === t));
}
