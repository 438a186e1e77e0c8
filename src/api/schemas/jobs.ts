/** GET /api/jobs?queue=&state=&limit=&offset= */
import type { JobType } from 'bullmq';
import { z } from 'zod';
import { QUEUE_NAMES } from '../../stores/queues.js';

/** The states a job list can be filtered by, in the order the list shows them. */
export const JOB_STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'] as const satisfies readonly JobType[];

/** Jobs per queue in one answer: default and most. */
export const JOBS_DEFAULT_LIMIT = 50;
export const JOBS_MAX_LIMIT = 1000;

/** A whole number from the query string (given once), `fallback` when absent. */
function wholeNumber(name: string, min: number, max: number, fallback: number) {
  const message = `${name} must be an integer from ${min} to ${max}`;
  return z
    .string({ error: message })
    .regex(/^\d+$/, { error: message })
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return fallback;
      const n = Number(text);
      if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
      ctx.issues.push({ code: 'custom', message, input: text });
      return z.NEVER;
    });
}

export const jobsQuery = z.object({
  limit: wholeNumber('limit', 1, JOBS_MAX_LIMIT, JOBS_DEFAULT_LIMIT).meta({ description: 'jobs per queue, at most' }),
  offset: wholeNumber('offset', 0, Number.MAX_SAFE_INTEGER, 0).meta({ description: "position in each queue's list" }),
  state: z.enum(JOB_STATES, { error: `state must be one of ${JOB_STATES.join(', ')}` }).optional(),
  queue: z.enum(QUEUE_NAMES, { error: `queue must be one of ${QUEUE_NAMES.join(', ')}` }).optional(),
});
