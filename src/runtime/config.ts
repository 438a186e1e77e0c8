/**
 * The one place the environment is read. `loadConfig` parses it with the schema (config/env-schema.ts,
 * one file per concern under config/) and derives the Config (config/config-from-env.ts). A bad
 * value throws a ConfigError naming the variable, so a typo stops the process at start-up instead of
 * surfacing at 03:15.
 */
import type { z } from 'zod';
import { configFromEnv } from './config/config-from-env.js';
import { envSchema, SECRET_VARIABLE_NAMES } from './config/env-schema.js';

export type { VolumeSource } from '../engine/fs/volumes.js';
export { DEFAULT_REDIS_URL } from './config/redis.js';
export { LOOPBACK_HOSTS } from './config/http.js';

export type Config = ReturnType<typeof configFromEnv>;
export type DbConfig = NonNullable<Config['db']>;

/** Every variable with a bad value, in schema order; `variable` and the message start with the first. */
export class ConfigError extends Error {
  readonly variable: string;

  constructor(readonly problems: { variable: string; message: string }[]) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('; '));
    this.name = 'ConfigError';
    this.variable = problems[0]?.variable ?? '';
  }

  static fromIssues(issues: z.core.$ZodIssue[]): ConfigError {
    return new ConfigError(issues.map((i) => ({ variable: String(i.path[0] ?? 'environment'), message: i.message })));
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw ConfigError.fromIssues(parsed.error.issues);
  return configFromEnv(parsed.data, cwd);
}

let withheld: Record<string, string> = {};

/**
 * Takes the secret variables (DB_PASSWORD, API_TOKEN, REDIS_URL, NOTIFY_WEBHOOK_URL, …) out of this
 * process's environment once the config holds them: every tool the service starts (mariadb,
 * mariadb-dump, tar, rclone, age) inherits the environment, where the same user reads it in
 * /proc/<pid>/environ. The database password goes to the clients through a 0600 option file only.
 * `npm start`'s worker child reads its own config and gets them back (withheldSecrets).
 */
export function withholdSecrets(env: Record<string, string | undefined> = process.env): void {
  for (const name of SECRET_VARIABLE_NAMES) {
    const value = env[name];
    if (value === undefined) continue;
    withheld = { ...withheld, [name]: value };
    delete env[name];
  }
}

/** The secret variables withholdSecrets took out, for a child process of ours that reads its config. */
export function withheldSecrets(): Record<string, string> {
  return { ...withheld };
}
