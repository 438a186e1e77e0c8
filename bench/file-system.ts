/**
 * What a bench's figures depend on besides the code: the file system the data is on. ext4 without
 * a journal (this VM's root) skips recently deleted inodes when it allocates new ones, which makes
 * creating files after a large deletion slow (BENCHMARKS.md, "Restore of many small files"); a
 * practice server's data disk has a journal (ext4's and xfs's default).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The file system a directory is on: device, type, size, disk kind and (ext4) whether it has a journal. */
export function fileSystemOf(dir: string): string {
  const df = spawnSync('df', ['-hT', dir], { encoding: 'utf8' }).stdout.split('\n')[1]?.trim().split(/\s+/) ?? [];
  const dev = df[0] ?? '';
  const devName = path.basename(dev);
  let rotational = 'n/a';
  try {
    rotational = fs.readFileSync(`/sys/block/${devName}/queue/rotational`, 'utf8').trim() === '1' ? 'rotational (or virtual disk reporting so)' : 'non-rotational';
  } catch {
    // not a plain block device
  }
  const journal = df[1] === 'ext4' ? (fs.existsSync(`/proc/fs/jbd2/${devName}-8`) ? ', with journal' : ', without journal') : '';
  return `${dev} ${df[1] ?? ''} ${df[2] ?? ''} (${rotational}${journal})`;
}
