/** rclone's options for this process: the config file by path, and its values to blank out of messages. */
import { configSecrets, type RcloneOptions } from '../engine/offsite/rclone.js';
import type { Config } from './config.js';

/** Re-read per job: a secret rotated in the mounted file is known to the next copy. */
export async function rcloneOptions(offsite: NonNullable<Config['offsite']>): Promise<RcloneOptions> {
  return { configFile: offsite.rcloneConfig, bwlimit: offsite.bwlimit, secrets: await configSecrets(offsite.rcloneConfig) };
}
