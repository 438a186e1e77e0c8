/**
 * Where the service keeps things, checked against each other at start, before anything connects:
 * BACKUP_DIR and the volumes must not overlap. A BACKUP_DIR under VOLUMES_DIR becomes a volume of
 * its own, or one inside a volume is archived with it: each run then archives the backups into
 * themselves, and a restore of that volume swaps the backups away, its safety backup included (an
 * audit lost every archive so). A file named as RCLONE_CONFIG must be there: without it every off-site
 * copy would fail and retry for days before the first alert (found by the same audit).
 */
import fs from 'node:fs/promises';
import type { Config } from './config.js';
import { overlapWithBackups } from '../engine/fs/volumes.js';

/** Each problem as `VARIABLE: message`; none when the places are fine. */
export async function placeProblems(config: Config): Promise<string[]> {
  const problems: string[] = [];
  const source = config.volumes;
  if (source.kind === 'dir') {
    const why = await overlapWithBackups(source.dir, config.backupDir);
    if (why) problems.push(`BACKUP_DIR: ${config.backupDir} and VOLUMES_DIR ${source.dir} overlap (${why}): every subdirectory of VOLUMES_DIR is a volume; put BACKUP_DIR outside it`);
  } else {
    for (const [volume, dir] of Object.entries(source.volumes)) {
      const why = await overlapWithBackups(dir, config.backupDir);
      if (why) problems.push(`VOLUMES: ${volume}=${dir} and BACKUP_DIR ${config.backupDir} overlap (${why}); put BACKUP_DIR outside every volume`);
    }
  }
  const rclone = config.offsite?.rcloneConfig;
  if (rclone !== undefined) {
    const st = await fs.stat(rclone).catch(() => undefined);
    if (!st?.isFile()) problems.push(`RCLONE_CONFIG: ${rclone} ${st ? 'is not a file' : 'does not exist'} (rclone's config file with the targets of OFFSITE_TARGETS, mounted as a secret)`);
  }
  return problems;
}
