/**
 * Per volume: full archives every run (the default) or GNU tar listed-incremental archives with a
 * new full every `fullEvery` runs (issue 16). Stored in Redis like the schedule, one hash field per
 * volume, so every API and worker process sees the same setting.
 *
 * Why `full` is the default for every volume, not chosen by size: the database volume must stay
 * full (a file copy of a running MariaDB changes in most of its bytes every night, so an
 * incremental would be nearly a full and add a restore step), and a small volume gains nothing;
 * a large PACS or document store is the admin's one-line choice, and it changes what a restore
 * reads, which should not happen behind their back when a volume grows past a threshold.
 */
import type { Redis } from 'ioredis';
import type { SettingsMirror } from './settings-mirror.js';

export type ArchiveMode = 'full' | 'incremental';

export interface VolumeMode {
  mode: ArchiveMode;
  /** Incremental mode: the run that would make the chain this long starts a new full (a full + fullEvery-1 incrementals). */
  fullEvery: number;
  /** Incremental mode: also a new full on the first run of this weekday (0 = Sunday … 6), or null. */
  fullOn: number | null;
}

/** A week of nightly runs per chain: a restore reads at most 7 files, and a full is at most a week old. */
export const DEFAULT_FULL_EVERY = 7;
export const DEFAULT_VOLUME_MODE: VolumeMode = { mode: 'full', fullEvery: DEFAULT_FULL_EVERY, fullOn: null };

/** The mirror's name of these settings (settings-mirror.ts): one JSON object, volume → mode. */
const MIRROR_NAME = 'volume-modes';

export class VolumeModes {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Kept beside the backups too, and taken back from there when Redis lost them (a lost incremental mode would quietly make fulls). */
    private readonly mirror?: SettingsMirror,
  ) {}

  private get key(): string {
    return `${this.prefix}:oob-settings:volume-modes`;
  }

  async get(volume: string): Promise<VolumeMode> {
    await this.restoreIfLost();
    return parse(await this.redis.hget(this.key, volume));
  }

  async all(volumes: string[]): Promise<Map<string, VolumeMode>> {
    await this.restoreIfLost();
    const raw = volumes.length ? await this.redis.hmget(this.key, ...volumes) : [];
    return new Map(volumes.map((v, i) => [v, parse(raw[i] ?? null)]));
  }

  async put(volume: string, value: VolumeMode): Promise<void> {
    const json = JSON.stringify(value);
    if (!this.mirror) {
      await this.redis.hset(this.key, volume, json);
      return;
    }
    await this.restoreIfLost();
    const all = await this.redis.hgetall(this.key);
    all[volume] = json;
    await this.mirror.change(MIRROR_NAME, JSON.stringify(all), () => this.redis.hset(this.key, volume, json), () => this.currentJson());
  }

  /** The modes in Redis as the copy holds them; undefined when Redis has none. */
  private async currentJson(): Promise<string | undefined> {
    const all = await this.redis.hgetall(this.key);
    return Object.keys(all).length ? JSON.stringify(all) : undefined;
  }

  /** No hash in Redis at all, but a copy beside the backups: the copy's valid modes come back (HSETNX: a newer save wins). */
  private async restoreIfLost(): Promise<void> {
    if (!this.mirror) return;
    if (await this.redis.exists(this.key)) {
      // A save whose outcome Redis could not tell: the copy follows what Redis holds now (settings-mirror.ts).
      await this.mirror.catchUp(MIRROR_NAME, () => this.currentJson()).catch(() => undefined);
      return;
    }
    const mirror = this.mirror;
    const kept = await mirror.read(MIRROR_NAME).catch((err: Error) => void mirror.onInvalid(MIRROR_NAME, `${err.message}; the volumes stay in full mode until their mode is saved again`));
    if (kept === undefined) return;
    let restored = false;
    const entries = Object.entries(JSON.parse(kept) as Record<string, unknown>);
    for (const [volume, json] of entries) {
      // A damaged or edited entry stays out (that volume is archived in full mode, which is safe).
      if (typeof json !== 'string' || !isStoredMode(json)) {
        mirror.onInvalid(MIRROR_NAME, `the mode of ${volume} in ${mirror.file(MIRROR_NAME)} is not valid; ${volume} stays in full mode until its mode is saved again`);
        continue;
      }
      if ((await this.redis.hsetnx(this.key, volume, json)) === 1) restored = true;
    }
    if (restored) mirror.onRestored(MIRROR_NAME, mirror.file(MIRROR_NAME));
  }

  /** The copy beside the backups made to match Redis (missing after an upgrade, deleted, or behind a concurrent save). */
  async syncMirror(): Promise<void> {
    if (!this.mirror || !(await this.redis.exists(this.key))) return;
    const json = JSON.stringify(await this.redis.hgetall(this.key));
    if ((await this.mirror.read(MIRROR_NAME).catch(() => undefined)) !== json) await this.mirror.write(MIRROR_NAME, json);
  }
}

/** A mode as put() stores it: what the API accepts (the same bounds as its request schema). */
function isStoredMode(json: string): boolean {
  try {
    const v = JSON.parse(json) as Partial<VolumeMode>;
    return (
      (v.mode === 'full' || v.mode === 'incremental') &&
      Number.isInteger(v.fullEvery) && v.fullEvery! >= 1 && v.fullEvery! <= 366 &&
      (v.fullOn === null || (Number.isInteger(v.fullOn) && v.fullOn! >= 0 && v.fullOn! <= 6))
    );
  } catch {
    return false;
  }
}

function parse(raw: string | null): VolumeMode {
  if (raw === null) return { ...DEFAULT_VOLUME_MODE };
  const v = JSON.parse(raw) as Partial<VolumeMode>;
  return {
    mode: v.mode === 'incremental' ? 'incremental' : 'full',
    fullEvery: Number.isInteger(v.fullEvery) && v.fullEvery! >= 1 ? v.fullEvery! : DEFAULT_FULL_EVERY,
    fullOn: Number.isInteger(v.fullOn) && v.fullOn! >= 0 && v.fullOn! <= 6 ? v.fullOn! : null,
  };
}
