/** Free space checks before work that writes a lot: fail early with numbers a person can act on. */
import fs from 'node:fs/promises';

export async function freeBytes(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export class NoSpaceError extends Error {}

export async function requireSpace(dir: string, needed: number, what: string): Promise<void> {
  const free = await freeBytes(dir);
  if (free < needed) {
    throw new NoSpaceError(`not enough free space in ${dir} for ${what}: need ${formatBytes(needed)}, free ${formatBytes(free)}`);
  }
}
