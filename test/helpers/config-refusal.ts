/** The ConfigError that loadConfig throws for `env`; fails the test when `env` is accepted. */
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/runtime/config.js';

export function configRefusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}
