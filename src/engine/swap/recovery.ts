/**
 * Finishing or rolling back a restore that was interrupted (its worker was killed, or lost its
 * locks) from what it left in its work directory (work-dir.ts).
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { removeTreeAsync } from '../fs/remove-tree.js';
import { putDirTimes } from '../fs/file-times.js';
import { asBin, createdRootTimes, exists, ID_RE, isOurs, JOURNAL, namesIn, SWAPPED_MARKER, WORK_PREFIX, workDirName } from './work-dir.js';
import { readJournal, type Journal } from './swap-journal.js';
import { finishCommitted, rollBack } from './swap-volume.js';
import { PATHS_JOURNAL, rollBackPaths } from './place-paths.js';
import type { RootMeta } from '../extract/extract-options.js';

/**
 * Called before a restore or an archive touches a volume and at worker start. For every work
 * directory of ours (a `.oob-restore-<id>` directory holding our restore.json): with the commit
 * marker the swap completed (remove it); without it, roll back (the journal tells which root
 * entries came from tree/; without a journal phase 1 had not completed and the root holds only
 * originals). Anything else with that prefix is the user's and is left alone. Returns a description
 * of each action; throws after trying everything if something could not be recovered.
 */
export async function recoverInterruptedRestores(volumeDir: string, logger: Logger): Promise<string[]> {
  let names: Buffer[];
  try {
    names = await namesIn(volumeDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const actions: string[] = [];
  const errors: string[] = [];
  for (const raw of names) {
    const n = raw.toString('latin1');
    if (!n.startsWith(WORK_PREFIX)) continue;
    const id = n.slice(WORK_PREFIX.length);
    if (!ID_RE.test(id) || !(await isOurs(path.join(volumeDir, n), id))) continue;
    try {
      actions.push(await recoverOne(volumeDir, id, logger));
    } catch (err) {
      errors.push(`restore ${id}: ${(err as Error).message}`);
    }
  }
  for (const a of actions) logger.warn({ volumeDir }, `recovery: ${a}`);
  if (errors.length > 0) {
    throw new Error(
      `recovering interrupted restores in ${volumeDir} failed: ${errors.join('; ')}` + (actions.length ? ` (done: ${actions.join('; ')})` : ''),
    );
  }
  return actions;
}

async function recoverOne(volumeDir: string, id: string, log: Logger): Promise<string> {
  const work = path.join(volumeDir, workDirName(id));
  const journal = await readJournal(path.join(work, JOURNAL));
  if (await exists(path.join(work, SWAPPED_MARKER))) {
    const rootMeta = journalRootMeta(journal);
    const leftover = await finishCommitted(volumeDir, id, rootMeta, log);
    if (leftover) return `restore ${id}: the swap had completed; ${leftover}`;
    return `restore ${id}: the swap had completed; removed the previous data and the staging directory`;
  }
  if (await exists(path.join(work, PATHS_JOURNAL))) {
    // A single-file restore in place: roll its paths back.
    const { putBack } = await rollBackPaths(volumeDir, id);
    return `restore ${id}: rolled back an interrupted restore of single paths (${putBack} original entries put back)`;
  }
  const rootTimes = await createdRootTimes(work);
  if (!(await exists(path.join(work, 'old')))) {
    await removeTreeAsync(asBin(work));
    if (rootTimes) await putDirTimes(volumeDir, rootTimes).catch(() => undefined);
    return `restore ${id}: removed the staging directory of an extraction that never reached the swap`;
  }
  const staged = (journal?.staged ?? []).map((h) => Buffer.from(h, 'hex'));
  const { unstaged, putBack } = await rollBack(volumeDir, id, staged, rootTimes);
  return `restore ${id}: rolled back an interrupted swap (${putBack} original entries put back, ${unstaged} restored entries removed)`;
}

/** The root's metadata from a journal, also from one of an earlier version (`mtime` as an ISO date). */
function journalRootMeta(journal: Journal | undefined): RootMeta | undefined {
  const m = journal?.rootMeta;
  if (!m) return undefined;
  if (typeof m.mtimeSec === 'number') return { mode: m.mode, uid: m.uid, gid: m.gid, mtimeSec: m.mtimeSec, mtimeNsec: m.mtimeNsec ?? 0 };
  const ms = new Date(m.mtime ?? NaN).getTime();
  if (Number.isNaN(ms)) return undefined;
  const sec = Math.floor(ms / 1000);
  return { mode: m.mode, uid: m.uid, gid: m.gid, mtimeSec: sec, mtimeNsec: (ms - sec * 1000) * 1e6 };
}
