/** GET /api/backups/:stamp/archives/:volume/entries?dir=&dirKey=&cursor=&limit= (single-file restore). */
import { z } from 'zod';
import { isValidVolumeName } from '../../core/names.js';
import { stamp } from './common.js';

export const ENTRIES_DEFAULT_LIMIT = 200;
export const ENTRIES_MAX_LIMIT = 1000;

const limitMessage = `limit must be an integer from 1 to ${ENTRIES_MAX_LIMIT}`;
const keyMessage = (name: string) => `${name} must be an entry key (base64url), as the listing gives it`;

export const entriesParams = z.object({
  stamp: stamp((input) => `"${String(input)}" is not a stamp like 2026-11-21-0315`),
  volume: z
    .string()
    .refine(isValidVolumeName, { error: (issue) => `"${String(issue.input)}" is not a volume name ([a-z0-9][a-z0-9-]*)` })
    .meta({ description: 'the volume whose archive of that set is listed' }),
});

export const entriesQuery = z.object({
  dir: z
    .string({ error: 'dir must be a path like dokumente/2026 (given once)' })
    .max(16384, { error: 'dir is too long' })
    .optional()
    .meta({ description: 'the directory to list, as a path inside the volume (UTF-8); absent or empty: the volume root' }),
  dirKey: z
    .string({ error: keyMessage('dirKey') })
    .regex(/^[A-Za-z0-9_-]{0,16384}$/, { error: keyMessage('dirKey') })
    .optional()
    .meta({ description: "instead of dir: the directory's key from a listing (exact bytes, also for names that are not UTF-8)" }),
  cursor: z
    .string({ error: 'cursor must be the nextCursor of the previous page' })
    .regex(/^[A-Za-z0-9_-]{1,16384}$/, { error: 'cursor must be the nextCursor of the previous page' })
    .optional()
    .meta({ description: 'nextCursor of the previous page of this listing (opaque; any other value is a 400)' }),
  limit: z
    .string({ error: limitMessage })
    .regex(/^\d{1,4}$/, { error: limitMessage })
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return ENTRIES_DEFAULT_LIMIT;
      const n = Number(text);
      if (n >= 1 && n <= ENTRIES_MAX_LIMIT) return n;
      ctx.issues.push({ code: 'custom', message: limitMessage, input: text });
      return z.NEVER;
    })
    .meta({ description: `entries per page, 1-${ENTRIES_MAX_LIMIT} (default ${ENTRIES_DEFAULT_LIMIT})` }),
}).superRefine((q, ctx) => {
  if (q.dir !== undefined && q.dirKey !== undefined) ctx.addIssue({ code: 'custom', path: ['dirKey'], message: 'give dir or dirKey, not both' });
}, { when: (payload) => payload.issues.length === 0 });
