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

  /** Written first, so that a change that cannot be kept beside the backups is refused before it is made. */
  async write(name: string, json: string): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.file(name), `${json}\n`, 0o600);
  }
}
