/**
 * Loading the project's native bindings (native/libdeflate/binding.gyp, built by `npm ci`): each is
 * optional, and a caller that cannot load one falls back to JavaScript and says why.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root: the nearest directory above this file with a package.json (this file runs
 * from src/engine/, dist/engine/ or a benchmark's build directory inside the project).
 */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** The binding at `file` (relative to the project's root), or why it cannot be loaded (first line). */
export function loadBinding<T>(file: string): { binding?: T; error?: string } {
  try {
    return { binding: createRequire(import.meta.url)(path.join(projectRoot(), file)) as T };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}
