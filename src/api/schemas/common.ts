/** Pieces several request schemas share: a backup stamp, a list of volume names, unknown fields. */
import { z } from 'zod';
import { isValidStamp, isValidVolumeName } from '../../core/names.js';

/** `2026-11-21-0315`: the minute of a backup set, as in archive names; `message` for anything else. */
export function stamp(message: (input: unknown) => string) {
  const error = (issue: { input?: unknown }) => message(issue.input);
  return z
    .string({ error })
    .refine(isValidStamp, { error })
    .meta({ description: 'a backup stamp: the minute of a set, YYYY-MM-DD-HHmm', example: '2026-11-21-0315' });
}

const VOLUMES_MESSAGE = 'volumes must be a non-empty list of volume names like ["elexisdb", "pacsdata"]';

/** A non-empty list of volume names, each once (a name listed twice counts once). */
export const volumeNames = z
  .array(z.string({ error: VOLUMES_MESSAGE }).refine(isValidVolumeName, { error: VOLUMES_MESSAGE }), { error: VOLUMES_MESSAGE })
  .min(1, { error: VOLUMES_MESSAGE })
  .transform((names) => [...new Set(names)])
  .meta({ description: 'volume names ([a-z0-9][a-z0-9-]*)', example: ['elexisdb', 'pacsdata'] });

/**
 * The error map of a JSON body object: `notObject` when the body is something else, `unknown(key)`
 * for a field the route does not take (the request helper names that field).
 */
export function bodyErrors(notObject: string, unknown: (key: string) => string) {
  return (issue: z.core.$ZodRawIssue) => (issue.code === 'unrecognized_keys' ? unknown(issue.keys[0] ?? '') : notObject);
}
