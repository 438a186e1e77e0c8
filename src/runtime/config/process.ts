/** The process itself: its log, and the failure injection of the crash tests. */
import { oneOf, text } from './variables.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const processVariables = {
  title: 'Logging',
  variables: {
    LOG_LEVEL: oneOf(LOG_LEVELS, { default: 'info', envExample: true, doc: 'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`' }),
    NODE_ENV: text({ internal: true, doc: '`test` turns the failure injection below on; `production` in the image' }),
    OOB_TEST_FAIL_SWAP: text({ internal: true, doc: '`<volume>:<renames>`: a restore of that volume fails after that many renames of its swap' }),
    OOB_TEST_CORRUPT_BEFORE_VERIFY: text({ internal: true, doc: 'a volume whose fresh archive gets one byte flipped before its first verification' }),
    OOB_TEST_CLOCK: text({ internal: true, doc: 'the service\'s clock in tests: an ISO instant, an offset in ms (`+90000`) or `file:<path>` holding one (see src/runtime/clock.ts)' }),
  },
};

/** OOB_TEST_FAIL_SWAP as {volume, afterRenames}; undefined when it does not have that form. */
export function parseFailSwap(raw: string): { volume: string; afterRenames: number } | undefined {
  const m = /^([a-z0-9-]+):(\d+)$/.exec(raw);
  return m ? { volume: m[1]!, afterRenames: Number(m[2]) } : undefined;
}
