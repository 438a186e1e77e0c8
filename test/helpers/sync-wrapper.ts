/**
 * A `sync` that records its calls: put the returned PATH first for the process under test, and
 * every call appends "start <args>" to `log`, runs the real sync (or exits 1 with `fail`, or while
 * the file `failWhile` exists), waits `pauseSeconds` and appends "end" — so a test sees which
 * flushes ran, with which arguments, and whether one overlapped another.
 */
import fs from 'node:fs';
import path from 'node:path';

export function syncWrapperPath(dir: string, log: string, o: { fail?: boolean; failWhile?: string; pauseSeconds?: number } = {}): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const realSync = ['/usr/bin/sync', '/bin/sync'].find((p) => fs.existsSync(p))!;
  const pause = o.pauseSeconds ? `sleep ${o.pauseSeconds}; ` : '';
  const tail = o.fail ? 'exit 1' : `${realSync} "$@"; rc=$?; ${pause}echo end >> ${log}; exit $rc`;
  const failing = o.failWhile ? `[ -e ${o.failWhile} ] && { echo failed >> ${log}; exit 1; }\n` : '';
  fs.writeFileSync(path.join(bin, 'sync'), `#!/bin/sh\necho "start $*" >> ${log}\n${failing}${tail}\n`, { mode: 0o755 });
  return `${bin}:${process.env.PATH ?? ''}`;
}
