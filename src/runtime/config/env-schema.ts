/**
 * The whole environment of the service as one zod schema: every variable, grouped by what it
 * concerns (each group in its own file), plus the rules that tie several variables together. The
 * README's configuration table is generated from `CONCERNS` (npm run docs:config), in this order.
 */
import { clockFor } from '../clock.js';
import { z } from 'zod';
import { alerts } from './alerts.js';
import { database } from './database.js';
import { http, LOOPBACK_HOSTS } from './http.js';
import { offsite } from './offsite.js';
import { parseFailSwap, processVariables } from './process.js';
import { redis } from './redis.js';
import { restore } from './restore.js';
import { schedule } from './schedule.js';
import { storage } from './storage.js';
import { workers } from './workers.js';
import { variableDocs } from './variables.js';

export const CONCERNS = [storage, redis, http, schedule, workers, restore, database, offsite, alerts, processVariables];

const variables = {
  ...storage.variables,
  ...redis.variables,
  ...http.variables,
  ...schedule.variables,
  ...workers.variables,
  ...restore.variables,
  ...database.variables,
  ...offsite.variables,
  ...alerts.variables,
  ...processVariables.variables,
};

const eachVariable = z.object(variables);

/** Rules across variables; an issue names the variable to change. */
function acrossVariables(env: z.output<typeof eachVariable>, ctx: z.core.$RefinementCtx) {
  const problem = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
  // Without a token nobody may reach the API from outside: only loopback is allowed then.
  if (env.API_TOKEN === undefined && env.HOST !== undefined && !LOOPBACK_HOSTS.includes(env.HOST)) {
    problem('API_TOKEN', `must be set when the API listens on ${env.HOST} (HOST); without it only loopback is allowed`);
  }
  if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
    problem(env.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE', 'set both TLS_CERT_FILE and TLS_KEY_FILE, or neither');
  }
  if (env.OFFSITE_TARGETS?.length && env.RCLONE_CONFIG === undefined) problem('RCLONE_CONFIG', 'must name rclone\'s config file (mounted as a secret) when OFFSITE_TARGETS is set');
  for (const t of Object.keys(env.OFFSITE_RETENTION.byTarget)) {
    if (!env.OFFSITE_TARGETS?.includes(t)) problem('OFFSITE_RETENTION', `names "${t}", which is not one of OFFSITE_TARGETS`);
  }
  if (env.VOLUMES !== undefined && env.VOLUMES_DIR !== undefined) problem('VOLUMES', 'set either VOLUMES or VOLUMES_DIR, not both');
  // The failure injection is read only in tests; anywhere else the variable is ignored.
  if (env.NODE_ENV === 'test' && env.OOB_TEST_FAIL_SWAP !== undefined && !parseFailSwap(env.OOB_TEST_FAIL_SWAP)) {
    problem('OOB_TEST_FAIL_SWAP', 'expected <volume>:<renames>');
  }
  if (env.NODE_ENV === 'test' && env.OOB_TEST_CLOCK !== undefined) {
    try {
      clockFor(env.OOB_TEST_CLOCK);
    } catch (err) {
      problem('OOB_TEST_CLOCK', (err as Error).message);
    }
  }
}

/** Every variable, then the rules across them, which run only when each variable is valid and so see parsed values. */
export const envSchema = eachVariable.superRefine(acrossVariables, { when: (payload) => payload.issues.length === 0 });

/** The variables as read: each one parsed, with its default, before anything is derived. */
export type EnvVariables = z.output<typeof envSchema>;

/** Names of all variables the service reads, in documentation order. */
export const VARIABLE_NAMES = Object.keys(variables) as (keyof typeof variables)[];

/** The variables whose values are secrets (passwords, tokens, URLs that may carry one). */
export const SECRET_VARIABLE_NAMES: readonly string[] = VARIABLE_NAMES.filter((n) => variableDocs.get(variables[n])?.secret === true);
