/**
 * The tests start the service from dist/, compiled as the Docker image and `npm start` run it:
 * under tsx every service process spent ~1.5 CPU-seconds more loading its modules, and the suite
 * starts 150-200 of them (BENCHMARKS.md, twelfth session). So that a test never runs code older
 * than src/, test/run.ts calls this first: when a file under src/ is newer than the last build
 * (or there is none), `tsc -p tsconfig.build.json` compiles again (incremental); the screens
 * (ui/ → dist/ui) are bundled the same way.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const STAMP = path.join(ROOT, 'dist/.test-build-stamp');

/** Newest modification time under `dir` (ms), directories included (a deleted file changes its directory). */
function newest(dir: string): number {
  let t = fs.statSync(dir).mtimeMs;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

function stampTime(): number {
  try {
    return fs.statSync(STAMP).mtimeMs;
  } catch {
    return -1;
  }
}

/** Builds dist/ when src/, ui/ or the build's configuration changed since the last build; says so on stderr. */
export function ensureFreshBuild(): void {
  const built = stampTime();
  const inputs = [path.join(ROOT, 'src'), path.join(ROOT, 'ui')].map(newest);
  const configs = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/build-ui.ts'].map((f) => fs.statSync(path.join(ROOT, f)).mtimeMs);
  if (built >= Math.max(...inputs, ...configs)) return;
  const started = Date.now();
  // Stamped with the time before compiling: a file saved during the build makes the next run build again.
  const before = new Date();
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-ui.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  fs.writeFileSync(STAMP, '');
  fs.utimesSync(STAMP, before, before);
  process.stderr.write(`test/run.ts: dist/ built from src/ and ui/ (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
