/** POST /api/backups ("run now"), and the :stamp of /api/backups/:stamp[/verify]. */
import { z } from 'zod';
import { bodyErrors, stamp, volumeNames } from './common.js';

/** No body, or `{}`, backs up every volume (and the database); `volumes` only those. */
export const runBackupBody = z
  .strictObject(
    { volumes: volumeNames.optional() },
    { error: bodyErrors('body must be a JSON object like {"volumes": ["elexisdb"]}', (key) => `unknown field "${key}"; only "volumes" is accepted`) },
  )
  .optional()
  .meta({ id: 'RunBackupInput', description: 'which volumes to back up now; none given: all, and the database' });

export const stampParams = z.object({
  stamp: stamp((input) => `"${String(input)}" is not a stamp like 2026-11-21-0315`),
});
