/** PUT /api/volumes/:name: a volume's archive mode (issue 16). */
import { z } from 'zod';
import { isValidVolumeName } from '../../core/names.js';
import { bodyErrors } from './common.js';

export const volumeParams = z.object({
  name: z.string().refine(isValidVolumeName, { error: (i) => `"${String(i.input)}" is not a volume name ([a-z0-9][a-z0-9-]*)` }),
});

const fullOnError = { error: 'fullOn must be a weekday 0-7 (0 and 7 are Sunday, 1 is Monday) or null' };

/** fullEvery: runs per chain; fullOn: a weekday as in the schedule (0 and 7 Sunday), null for none. */
export const volumeModeBody = z
  .strictObject(
    {
      mode: z.enum(['full', 'incremental'], { error: 'mode must be "full" or "incremental"' }),
      fullEvery: z
        .number({ error: 'fullEvery must be a whole number of runs from 1 to 366' })
        .int({ error: 'fullEvery must be a whole number of runs from 1 to 366' })
        .min(1, { error: 'fullEvery must be a whole number of runs from 1 to 366' })
        .max(366, { error: 'fullEvery must be a whole number of runs from 1 to 366' })
        .optional(),
      fullOn: z
        // The message on the number itself too: a number out of range fails inside the union, where zod would say "Too big".
        .union([z.number().int(fullOnError).min(0, fullOnError).max(7, fullOnError), z.null()], fullOnError)
        .optional(),
    },
    { error: bodyErrors('body must be a JSON object like {"mode": "incremental", "fullEvery": 7}', (key) => `unknown field "${key}"; only "mode", "fullEvery" and "fullOn" are accepted`) },
  )
  .meta({ id: 'VolumeModeInput', description: 'full archives every run, or incremental ones with a new full every fullEvery runs and/or on the fullOn weekday' });
