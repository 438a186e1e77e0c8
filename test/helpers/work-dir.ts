/** A restore's work directory made as a restore makes it, closed again: its staging path by name, for tests that fill it themselves. */
import { createWorkDir, stagingDir } from '../../src/engine/swap/work-dir.js';

export async function madeWorkDir(volumeDir: string, id: string): Promise<string> {
  await (await createWorkDir(volumeDir, id)).close();
  return stagingDir(volumeDir, id);
}
