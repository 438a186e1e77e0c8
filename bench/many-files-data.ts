/**
 * The many-files data set (bench:files, and bench:e2e --files=N): one volume `pacsdata` of N empty
 * files, 1,000 per directory, as a PACS store holds them (the count matters here, not the bytes).
 * Made once under bench/data/files-<N>/vol and kept; `.complete.json` marks it complete (bench:e2e
 * removes it when a restore onto the data set failed, so it is made afresh).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DataSet } from './gen-data.js';

export const FILES_PER_DIR = 1000;

export function ensureManyFiles(dataRoot: string, count: number, log: (msg: string) => void = () => undefined): DataSet {
  const dir = path.join(dataRoot, `files-${count}`);
  const vol = path.join(dir, 'vol');
  const marker = path.join(dir, '.complete.json');
  const set: DataSet = { dir, sizeMiB: 0, volumes: [{ name: 'pacsdata', dir: vol, bytes: 0, files: count }] };
  if (fs.existsSync(marker)) return set;
  log(`making ${count} files in ${vol} (once)`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(vol, { recursive: true });
  const py = `
import os, sys
vol, count, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range((count + per - 1) // per):
    dp = os.path.join(vol, 'study-%05d' % d)
    os.makedirs(dp)
    for i in range(min(per, count - d * per)):
        os.close(os.open(os.path.join(dp, 'IM%06d.dcm' % i), os.O_CREAT | os.O_WRONLY, 0o644))
`;
  const r = spawnSync('python3', ['-c', py, vol, String(count), String(FILES_PER_DIR)], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('making the data set failed');
  fs.writeFileSync(marker, `${JSON.stringify({ count })}\n`);
  return set;
}
