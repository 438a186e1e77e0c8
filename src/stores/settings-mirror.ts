/**
 * A copy of the admin's settings beside the backups (`BACKUP_DIR/.oob-settings/<name>.json`),
 * written before every change reaches Redis. Redis can lose its data (FLUSHALL, a new Redis
 * container without its volume, a Redis without persistence that restarted): the schedule would
 * then fall back to the defaults without a word, and the next prune would delete the generations
 * beyond the default `keep` that the admin had chosen to keep (found by a tester). With the copy,
 * a setting missing from Redis comes back from it, and the log says so. BACKUP_DIR is where the
 * backups are, so the copy is there exactly when the archives it protects are.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../engine/fs/atomic.js';

/** The copies' directory in BACKUP_DIR (a dot name: never taken for an archive or its sidecar). */
export const SETTINGS_DIR = '.oob-settings';

/** Told when a setting came back from its copy (Redis had lost it). */
export type OnRestored = (setting: string, file: string) => void;

export class SettingsMirror {
  constructor(
    private readonly dir: string,
    readonly onRestored: OnRestored = () => undefined,
    /** Told when a copy could not be taken back (damaged, invalid); the defaults then apply, untrusted. */
    readonly onInvalid: (setting: string, why: string) => void = () => undefined,
  ) {}

  file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }

  /** The copy's JSON text, or undefined when there is none (never saved, or a new BACKUP_DIR). */
  async read(name: string): Promise<string | undefined> {
    const text = await fs.readFile(this.file(name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (text === undefined) return undefined;
    try {
      JSON.parse(text); // a damaged copy fails loudly rather than being restored
    } catch (err) {
      throw new Error(`${this.file(name)} is no JSON (${(err as Error).message})`, { cause: err });
    }
    return text.trimEnd();
  }

  /**
   * Written first, so that a change that cannot be kept beside the backups is refused before it is
   * made: a SettingsCopyError says which file and why.
   */
  async write(name: string, json: string): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.file(name), `${json}\n`, 0o600);
      await this.giveToBackupDirOwner(this.file(name));
    } catch (err) {
      throw new SettingsCopyError(name, this.file(name), err as NodeJS.ErrnoException);
    }
  }

  /**
   * A worker runs as root (docker-compose.yaml), the API as the owner of BACKUP_DIR (`node`): a
   * directory or copy the worker made would be root's, and the API could neither read the copy
   * nor save a setting (500 at every save; found by a tester). As root, the directory and the copy
   * go to BACKUP_DIR's owner; mode 0600 keeps them from anyone else.
   */
  private async giveToBackupDirOwner(file: string): Promise<void> {
    if (process.getuid?.() !== 0) return;
    const owner = await fs.stat(path.dirname(this.dir));
    if (owner.uid === 0 && owner.gid === 0) return;
    for (const p of [this.dir, file]) {
      const st = await fs.lstat(p);
      if (st.uid !== owner.uid || st.gid !== owner.gid) await fs.lchown(p, owner.uid, owner.gid);
    }
  }

  /** Settings whose copy may differ from Redis: a failed commit that Redis may have applied anyway. */
  private readonly unsure = new Set<string>();

  /**
   * A change of a setting: its copy first (refused as a whole when the copy cannot be written), then
   * `commit` (Redis). A failed `commit` may still have reached Redis (its reply lost with the
   * connection, or later than the API's command timeout), so the copy is then made what `current`
   * (Redis' value as the copy holds it) says; when Redis cannot tell either, it is put back as it
   * was and caught up by `catchUp` at the setting's next read (and by every worker's maintenance).
   * Before, it was always put back, and stayed behind a value Redis held.
   */
  async change(name: string, json: string, commit: () => Promise<unknown>, current?: () => Promise<string | undefined>): Promise<void> {
    const previous = await this.read(name).catch(() => undefined);
    await this.write(name, json);
    try {
      await commit();
    } catch (err) {
      const now = current ? await current().then((v) => ({ v }), () => undefined) : undefined;
      if (!now) this.unsure.add(name);
      const back = now ? now.v : previous;
      if (back !== json) await (back === undefined ? fs.rm(this.file(name), { force: true }) : this.write(name, back)).catch(() => undefined);
      throw err;
    }
  }

  /** After a change whose outcome Redis could not tell: the copy made `current` (once; cheap otherwise). */
  async catchUp(name: string, current: () => Promise<string | undefined>): Promise<void> {
    if (!this.unsure.has(name)) return;
    const now = await current();
    if (now !== undefined && (await this.read(name).catch(() => undefined)) !== now) await this.write(name, now);
    this.unsure.delete(name);
  }
}

/** Why a copy could not be written and what fixes it, in words for the person saving the setting (by errno). */
export function copyFailureReason(err: NodeJS.ErrnoException, file: string): { reason: string; fix: string; diskFull: boolean } {
  const dir = path.dirname(file);
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return { reason: `the disk of ${dir} is full${err.code === 'EDQUOT' ? ' (quota)' : ''}`, fix: 'free space there', diskFull: true };
    case 'EROFS':
      return { reason: `${dir} is on a read-only file system`, fix: `make ${dir} writable for the service`, diskFull: false };
    case 'EACCES':
    case 'EPERM':
      return { reason: `the service may not write in ${dir} (permissions)`, fix: `give the service's user write access to ${dir}`, diskFull: false };
    case 'EISDIR':
      return { reason: `${file} is a directory, where the copy should be a file`, fix: `remove or rename that directory`, diskFull: false };
    case 'EEXIST':
    case 'ENOTDIR':
      return { reason: `${dir} (or a folder above it) is a file, where a directory should be`, fix: 'remove or rename that file', diskFull: false };
    default:
      return { reason: `${err.code ?? 'error'}: ${err.message}`, fix: `make ${dir} a directory the service can write`, diskFull: false };
  }
}

/** The settings' names as a person knows them. */
export const SETTING_LABELS: Record<string, string> = { schedule: 'backup schedule', 'verify-schedule': 'verify schedule', 'volume-modes': 'volume archive mode' };

/** A setting's copy beside the backups could not be written; the setting was not changed. */
export class SettingsCopyError extends Error {
  readonly reason: string;
  /** What a person can do about it. */
  readonly fix: string;
  /** No space (ENOSPC, EDQUOT) rather than a directory the service cannot write. */
  readonly diskFull: boolean;

  constructor(
    readonly setting: string,
    readonly file: string,
    cause: NodeJS.ErrnoException,
  ) {
    const { reason, fix, diskFull } = copyFailureReason(cause, file);
    super(`the copy of the ${SETTING_LABELS[setting] ?? setting} setting, ${file}, cannot be written: ${reason}`, { cause });
    this.name = 'SettingsCopyError';
    this.reason = reason;
    this.fix = fix;
    this.diskFull = diskFull;
  }
}
