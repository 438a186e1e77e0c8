/** The denominator of an archive's progress: the total size of the volume's regular files. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { walkTree } from '../fs/tree-walk.js';
import { MAX_SYNC_MS } from '../gzip/zlib-slots.js';

/** Total size of regular files (each hard-linked inode once). */
export async function treeSize(root: string, signal?: AbortSignal, skipTop?: ReadonlySet<string>): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  let lastTurn = Date.now();
  // An entry that vanishes now is reported (or fails the job) by the archive pass itself.
  for (const { stat: st } of walkTree(root, { signal, skipTop })) {
    if (Date.now() - lastTurn > MAX_SYNC_MS) {
      await nextTurn();
      lastTurn = Date.now();
    }
    if (!st?.isFile()) continue;
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    total += st.size;
  }
  return total;
}
