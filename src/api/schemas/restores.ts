/** The restore requests: from a backup set, from an uploaded SQL file, and their confirmation. */
import { z } from 'zod';
import { bodyErrors, stamp, volumeNames } from './common.js';

const skipSafetyBackupMessage = 'skipSafetyBackup must be true or false';

/** POST /api/restores: a set by its stamp, all its volumes or some (or its database dump alone). */
export const setRestoreBody = z
  .strictObject(
    {
      stamp: stamp(() => 'stamp must be a backup stamp like 2026-11-21-0315'),
      skipSafetyBackup: z
        .boolean({ error: skipSafetyBackupMessage })
        .default(false)
        .meta({ description: 'true: no safety backup of the current data first' }),
      volumes: volumeNames.optional(),
    },
    { error: bodyErrors('body must be a JSON object', (key) => `unknown field "${key}"; accepted: stamp, volumes, skipSafetyBackup`) },
  )
  .meta({ id: 'SetRestoreInput', description: 'the backup set to restore, and which of its volumes' });

/** POST /api/restores/sql?skipSafetyBackup=true: the body is the file itself, so the flag is in the query. */
export const sqlRestoreQuery = z.object({
  skipSafetyBackup: z
    .enum(['true', 'false', '1', '0'], { error: `${skipSafetyBackupMessage} (or 1 or 0)` })
    .optional()
    .transform((flag) => flag === 'true' || flag === '1')
    .meta({ description: 'true: no safety dump of the current database first' }),
});

/** POST /api/restores/:id/confirm */
export const confirmRestoreBody = z
  .strictObject(
    {
      token: z
        .string({ error: 'token is required: the token of the restore request' })
        .min(1, { error: 'token is required: the token of the restore request' })
        .meta({ description: 'the token the restore request answered with' }),
    },
    { error: bodyErrors('body must be a JSON object', (key) => `unknown field "${key}"; accepted: token`) },
  )
  .meta({ id: 'ConfirmRestoreInput' });
