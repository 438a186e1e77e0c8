/** A temp directory per test file, with a fresh directory per case; removed after the file's tests. */
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { removeTreeAtAsync } from '../../src/engine/fs/remove-tree.js';

export interface CaseDirs {
  /** A new empty directory for one case. */
  caseDir(): Promise<string>;
  /** The file's temp directory (set once its tests have started). */
  root(): string;
}

/** Call at the top level of a test file: registers the before/after hooks that make and remove the root. */
export function caseDirs(prefix: string): CaseDirs {
  let root = '';
  let n = 0;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  after(async () => {
    // Not fs.rm: it lists directories as UTF-8 and cannot remove Latin-1 names or paths beyond PATH_MAX.
    if (root) await removeTreeAtAsync(root);
  });
  return {
    async caseDir() {
      const d = path.join(root, `case${++n}`);
      await mkdir(d, { recursive: true });
      return d;
    },
    root: () => root,
  };
}
