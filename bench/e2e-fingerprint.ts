/**
 * A volume's fingerprint, to check that a restore onto itself gave back the same tree: one line per
 * entry (path, type, mode, owner, size, mtime in whole seconds as tar keeps it, link target), and
 * the sha256 of every `sampleEvery`-th file's content (1: every file).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export async function fingerprint(dir: string, sampleEvery: number): Promise<string[]> {
  const lines: string[] = [];
  let files = 0;
  async function visit(abs: string, rel: string): Promise<void> {
    const st = await lstat(abs);
    const type = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'o';
    let extra = '';
    if (type === 'l') extra = ` -> ${await readlink(abs)}`;
    if (type === 'f' && files++ % sampleEvery === 0) {
      const hash = createHash('sha256');
      await pipeline(createReadStream(abs), hash);
      extra = ` sha256:${hash.digest('hex')}`;
    }
    lines.push(`${rel} ${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${type === 'f' ? st.size : 0} ${Math.floor(st.mtimeMs / 1000)}${extra}`);
    if (type === 'd') for (const name of (await readdir(abs)).sort()) await visit(path.join(abs, name), rel === '.' ? name : `${rel}/${name}`);
  }
  await visit(dir, '.');
  return lines;
}

/** Throws naming the first difference. */
export function assertSameFingerprint(volume: string, before: string[], after: string[]): void {
  for (let i = 0; i < Math.max(before.length, after.length); i++) {
    if (before[i] !== after[i]) {
      throw new Error(`after the restore, volume ${volume} differs from before: expected "${before[i] ?? '(nothing)'}", found "${after[i] ?? '(nothing)'}"`);
    }
  }
}
