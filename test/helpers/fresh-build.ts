/**
 * The tests start the service from dist/, compiled as the Docker image and `npm start` run it:
 * under tsx every service process spent ~1.5 CPU-seconds more loading its modules, and the suite
 * starts 150-200 of them (BENCHMARKS.md, twelfth session). So that a test never runs code older
 * than src/, test/run.ts calls this first: when a file under src/ is newer than the last build
 * (or there is none), `tsc -p tsconfig.build.json` compiles again (incremental); the screens
 * (ui/ → dist/ui) are bundled the same way. helpers/service.ts refuses to start the service from a
 * dist/ older than src/ (a test file run with plain `node --test` after a change, or a change made
 * while the suite runs): it would test the code from before the change.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const STAMP_NAME = 'dist/.test-build-stamp';
const STAMP = path.join(ROOT, STAMP_NAME);

/** Newest modification time under `dir` (ms), directories included (a deleted file changes its directory). */
function newest(dir: string): number {
  let t = fs.statSync(dir).mtimeMs;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

function stampTime(root: string): number {
  try {
    return fs.statSync(path.join(root, STAMP_NAME)).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Whether a file under `root`'s src/ or ui/, or the build's configuration, is newer than the last
 * build test/run.ts made there (or none was made). Missing inputs count as old.
 */
export function buildIsStale(root = ROOT): boolean {
  const built = stampTime(root);
  const at = (p: string) => {
    try {
      return fs.statSync(p).isDirectory() ? newest(p) : fs.statSync(p).mtimeMs;
    } catch {
      return -1;
    }
  };
  const inputs = ['src', 'ui', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/build-ui.ts'].map((f) => at(path.join(root, f)));
  return built < Math.max(...inputs);
}

/** Builds dist/ when src/, ui/ or the build's configuration changed since the last build; says so on stderr. */
export function ensureFreshBuild(): void {
  if (!buildIsStale()) return;
  const started = Date.now();
  // Stamped with the time before compiling: a file saved during the build makes the next run build again.
  const before = new Date();
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-ui.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  fs.writeFileSync(STAMP, '');
  fs.utimesSync(STAMP, before, before);
  process.stderr.write(`test/run.ts: dist/ built from src/ and ui/ (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
