/**
 * The swap's journal in a restore's work directory (`journal.json`, work-dir.ts): which names phase 2
 * moves from tree/ into the volume root, and the root's metadata. Read back by the recovery, so every
 * name in it is checked to be one plain name (no `/`, `.` or `..`): a forged journal names nothing
 * outside the work directory.
 */
import fs from 'node:fs/promises';

export interface Journal {
  id: string;
  /** Names moved (or to be moved) from tree/ into the root, as hex bytes. */
  staged: string[];
  /** RootMeta; journals of earlier versions hold `mtime` as an ISO date instead of mtimeSec/mtimeNsec. */
  rootMeta?: { mode: number; uid: number; gid: number; mtimeSec?: number; mtimeNsec?: number; mtime?: string };
}

export async function readJournal(file: string): Promise<Journal | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const j = JSON.parse(text) as Partial<Journal>;
  const okName = (h: unknown) => {
    if (typeof h !== 'string' || !/^([0-9a-f]{2})+$/.test(h)) return false;
    const n = Buffer.from(h, 'hex').toString('latin1');
    return n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
  };
  if (!Array.isArray(j.staged) || !j.staged.every(okName)) throw new Error(`journal ${file} is not valid`);
  return j as Journal;
}
