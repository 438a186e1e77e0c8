/** The restore requests: from a backup set, from an uploaded SQL file, and their confirmation. */
import { z } from 'zod';
import { bodyErrors, stamp, volumeNames } from './common.js';

const skipSafetyBackupMessage = 'skipSafetyBackup must be true or false';

const pathsMessage = 'paths must be a non-empty list (at most 1000) of entry keys from GET /api/backups/:stamp/archives/:volume/entries';

/** An entry key: base64url of the raw bytes of a path inside a volume (names are bytes on Linux). */
export const entryKey = z
  .string({ error: pathsMessage })
  .regex(/^[A-Za-z0-9_-]{1,16384}$/, { error: pathsMessage })
  .meta({ description: "an entry's key: base64url of the raw bytes of its path inside the volume", example: 'ZG9rdW1lbnRlL2JyaWVmLnBkZg' });

export const RESTORE_INTO = ['beside', 'in-place'] as const;

/**
 * POST /api/restores: a set by its stamp, all its volumes or some (or its database dump alone); or,
 * with `paths`, chosen files and folders of one volume's archive (single-file restore).
 */
export const setRestoreBody = z
  .strictObject(
    {
      stamp: stamp(() => 'stamp must be a backup stamp like 2026-11-21-0315'),
      skipSafetyBackup: z
        .boolean({ error: skipSafetyBackupMessage })
        .default(false)
        .meta({ description: 'true: no safety backup of the current data first' }),
      volumes: volumeNames.optional(),
      paths: z
        .array(entryKey, { error: pathsMessage })
        .min(1, { error: pathsMessage })
        .max(1000, { error: pathsMessage })
        .transform((keys) => [...new Set(keys)])
        .optional()
        .meta({ description: 'single-file restore: the keys of the files and folders to restore (needs exactly one volume)' }),
      into: z
        .enum(RESTORE_INTO, { error: 'into must be "beside" or "in-place"' })
        .optional()
        .meta({ description: 'with paths: "beside" (default) restores into a new folder Wiederhergestellt-<stamp> in the volume; "in-place" replaces the chosen paths' }),
      from: z
        .string({ error: 'from must be one of OFFSITE_TARGETS (rclone remote:path)' })
        .min(1, { error: 'from must be one of OFFSITE_TARGETS (rclone remote:path)' })
        .optional()
        .meta({ description: 'restore from this off-site target (one of OFFSITE_TARGETS) instead of BACKUP_DIR' }),
    },
    { error: bodyErrors('body must be a JSON object', (key) => `unknown field "${key}"; accepted: stamp, volumes, skipSafetyBackup, paths, into, from`) },
  )
  .superRefine((body, ctx) => {
    if (body.paths === undefined && body.into !== undefined) ctx.addIssue({ code: 'custom', path: ['into'], message: 'into needs paths (a single-file restore)' });
    if (body.paths !== undefined && body.volumes?.length !== 1) {
      ctx.addIssue({ code: 'custom', path: ['volumes'], message: 'a restore of paths needs exactly one volume: volumes: ["<volume>"]' });
    }
  }, { when: (payload) => payload.issues.length === 0 })
  .meta({ id: 'SetRestoreInput', description: 'the backup set to restore, and which of its volumes; or chosen paths of one volume' });

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
        .string({ error: (i) => (i.input === undefined ? 'token is required: the token of the restore request' : 'token must be a string: the token of the restore request') })
        .min(1, { error: 'token is required: the token of the restore request' })
        .meta({ description: 'the token the restore request answered with' }),
      ageIdentity: z
        .string({ error: 'ageIdentity must be the text of an age identity file' })
        .regex(/AGE-SECRET-KEY-1[0-9A-Z]+/, { error: 'ageIdentity must be the text of an age identity file (a line AGE-SECRET-KEY-1…)' })
        .max(64 * 1024, { error: 'ageIdentity is too long for an age identity file' })
        .optional()
        .meta({ description: 'for a restore from encrypted off-site copies: the text of an age identity file; used in memory for this restore only' }),
    },
    { error: bodyErrors('body must be a JSON object', (key) => `unknown field "${key}"; accepted: token, ageIdentity`) },
  )
  .meta({ id: 'ConfirmRestoreInput' });
