/** Builds small volumes with the awkward parts a real one has: nesting, symlinks, empty dirs, modes. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { snapshotTree, type TreeEntry } from './tree.js';

export const exec = promisify(execFile);

export async function makeVolume(dir: string, label: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'nested/deeper/deepest'), { recursive: true });
  await fs.mkdir(path.join(dir, 'empty-dir'));
  await fs.writeFile(path.join(dir, 'nested/deeper/deepest/data.bin'), randomBytes(200_000));
  await fs.writeFile(path.join(dir, 'readme.txt'), `volume ${label}\n`.repeat(100));
  await fs.writeFile(path.join(dir, 'zero-bytes'), '');
  await fs.writeFile(path.join(dir, 'secret.cnf'), '[client]\npassword=x\n', { mode: 0o600 });
  await fs.chmod(path.join(dir, 'secret.cnf'), 0o600);
  await fs.symlink('nested/deeper/deepest/data.bin', path.join(dir, 'link-to-data'));
  await fs.utimes(path.join(dir, 'readme.txt'), new Date('2024-02-03T04:05:06Z'), new Date('2024-02-03T04:05:06Z'));
}

/** A valid archive made by GNU tar, the way earlier OOB versions and admins make them. */
export async function gnuTarArchive(volumeDir: string, target: string): Promise<void> {
  await exec('tar', ['-C', volumeDir, '-czf', target, '.']);
}

/** What GNU tar extracts from `archive` (as root: owners too), as a tree snapshot. */
export async function gnuTarTree(archive: string): Promise<Map<string, TreeEntry>> {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-gnu-tar-tree-'));
  try {
    await exec('tar', ['-xzpf', archive, '-C', out, '--same-owner']);
    return await snapshotTree(out);
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
}
