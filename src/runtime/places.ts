/**
 * Where the service keeps things, checked at start before anything connects: BACKUP_DIR and
 * VOLUMES_DIR are directories (made when missing), the files it reads at start are readable, and
 * BACKUP_DIR and the volumes do not overlap. A BACKUP_DIR under VOLUMES_DIR becomes a volume of
 * its own, or one inside a volume is archived with it: each run then archives the backups into
 * themselves, and a restore of that volume swaps the backups away, its safety backup included (an
 * audit lost every archive so). A file named as RCLONE_CONFIG must be there: without it every off-site
 * copy would fail and retry for days before the first alert (found by the same audit).
 */
import fs from 'node:fs/promises';
import type { Config } from './config.js';
import { overlapWithBackups } from '../engine/fs/volumes.js';

/** Each problem as `VARIABLE: message`; none when the places are fine. Makes BACKUP_DIR and VOLUMES_DIR when missing. */
export async function placeProblems(config: Config, o: { http?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  // A path that is a file, or cannot be made, is named with its variable (an audit got Node's
  // "unhandledRejection: EEXIST … mkdir" instead).
  const dirs: [string, string | undefined][] = [['BACKUP_DIR', config.backupDir], ['VOLUMES_DIR', config.volumes.kind === 'dir' ? config.volumes.dir : undefined]];
  for (const [variable, dir] of dirs) {
    if (dir === undefined) continue;
    const made = await fs.mkdir(dir, { recursive: true }).then(() => fs.stat(dir)).catch((err: NodeJS.ErrnoException) => err);
    if (made instanceof Error) problems.push(`${variable}: ${dir} cannot be made or read (${made.code ?? made.message})`);
    else if (!made.isDirectory()) problems.push(`${variable}: ${dir} is not a directory`);
  }
  // Files the processes read at start: named here, not as a stack trace.
  // (The TLS files only where the API is served: a worker's container need not have them.)
  const files: [string, string | undefined][] = [
    ...(o.http ? ([['TLS_CERT_FILE', config.tls?.certFile], ['TLS_KEY_FILE', config.tls?.keyFile]] as [string, string | undefined][]) : []),
    ['REDIS_TLS_CA_FILE', config.redisTlsCaFile],
    ['RCLONE_CONFIG', config.offsite?.rcloneConfig],
  ];
  for (const [variable, file] of files) {
    if (file === undefined) continue;
    const readable = await fs.access(file, fs.constants.R_OK).then(() => fs.stat(file)).catch((err: NodeJS.ErrnoException) => err);
    if (readable instanceof Error) problems.push(`${variable}: ${file} cannot be read (${readable.code ?? readable.message})`);
    else if (!readable.isFile()) problems.push(`${variable}: ${file} is not a file`);
  }
  if (problems.length) return problems;
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
  return problems;
}
