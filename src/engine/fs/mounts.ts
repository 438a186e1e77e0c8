/**
 * File systems mounted below a directory (from /proc/self/mountinfo). A restore replaces a volume's
 * tree by renaming its entries, and the kernel refuses to rename a mount point (EBUSY): a volume
 * with a mount inside it is backed up whole (as GNU tar does, crossing into the mount), but its
 * restore must be refused before any work, not rolled back after the extraction.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** mountinfo escapes blanks, tabs, newlines and backslashes in paths as octal (`\040`). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points strictly below `dir` (its real path), in the order the kernel lists them. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const real = await fs.realpath(dir);
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = real.endsWith(path.sep) ? real : `${real}${path.sep}`;
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const point = unescape(field);
    if (point.startsWith(prefix) && !found.includes(point)) found.push(point);
  }
  return found;
}

/** Throws, saying why and what to do, when a file system is mounted below a volume's directory. */
export async function refuseMountsBelow(volume: string, dir: string): Promise<void> {
  const mounts = await mountsBelow(dir);
  if (mounts.length === 0) return;
  throw new Error(
    `volume ${volume} has a file system mounted inside it (${mounts.join(', ')}): a restore replaces the volume's tree by renames, ` +
      'which cannot move a mount point; unmount it and restore again (or restore by hand with tar -xzpf); nothing was changed',
  );
}
