/**
 * The README's configuration tables and .env.example against the environment schema
 * (src/runtime/config/), so neither can drift from what the service reads: the tables are what
 * `npm run docs:config` generates from it, no variable named anywhere in the README is unknown,
 * and .env.example shows exactly the variables docker compose passes from .env, each with a comment
 * and a value the schema accepts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BEGIN_MARKER, configTables, docOf, END_MARKER, README, withConfigTables } from '../../scripts/config-docs.js';
import { loadConfig } from '../../src/runtime/config.js';
import { envSchema, VARIABLE_NAMES } from '../../src/runtime/config/env-schema.js';
import { WORKER_PROCESS_ENV } from '../../src/runtime/worker-process.js';

const root = path.dirname(README);
const readme = fs.readFileSync(README, 'utf8');
const docOfVariable = (name: (typeof VARIABLE_NAMES)[number]) => docOf(envSchema.shape[name]);
const documented = VARIABLE_NAMES.filter((name) => !docOfVariable(name).internal);

describe('README configuration tables', () => {
  it('are what `npm run docs:config` generates from the schema', () => {
    assert.equal(readme, withConfigTables(readme), 'README.md differs from the schema: run `npm run docs:config`');
  });

  it('have one row per variable, with the default the schema applies', () => {
    const tables = readme.slice(readme.indexOf(BEGIN_MARKER), readme.indexOf(END_MARKER));
    const rows = [...tables.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \| /gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.deepEqual(rows.map(([name]) => name), documented);
    for (const [name, cell] of rows) {
      const { default: value, defaultText } = docOfVariable(name as (typeof VARIABLE_NAMES)[number]);
      if (defaultText === undefined && value !== undefined) assert.equal(cell, `\`${value}\``, name);
    }
    assert.ok(configTables().includes('| `PORT` | `3000` |'));
  });

  it('names no variable the service does not read', () => {
    // Backquoted names with an underscore, like `GZIP_LEVEL` or `CATCH_UP=false`, anywhere in the README.
    // Variables of the test runner (test/run.ts) and the fault suite, of the install script
    // (scripts/build-native.mjs), and the C library's that workers start with
    // (src/runtime/worker-process.ts), not of the service.
    const NOT_CONFIG = ['TEST_REDIS_URL', 'TEST_MARIADB_HOST', 'TEST_MARIADB_PORT', 'FAULT_SEED', 'OOB_REQUIRE_LIBDEFLATE', ...Object.keys(WORKER_PROCESS_ENV)];
    for (const m of readme.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]*)[`=]/g)) {
      const name = m[1]!;
      assert.ok((VARIABLE_NAMES as string[]).includes(name) || NOT_CONFIG.includes(name), `README.md names ${name}, which the schema does not know`);
    }
  });
});

describe('.env.example', () => {
  const lines = fs.readFileSync(path.join(root, '.env.example'), 'utf8').split('\n');
  const assignments = lines.flatMap((line, i) => {
    const m = /^#?\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    return m ? [{ name: m[1]!, value: m[2]!, line: i }] : [];
  });

  it('shows exactly the variables marked for it in the schema (those docker compose passes from .env)', () => {
    const inExample = assignments.map((a) => a.name).sort();
    const marked = VARIABLE_NAMES.filter((name) => docOfVariable(name).envExample).sort();
    for (const name of inExample) assert.ok((VARIABLE_NAMES as string[]).includes(name), `.env.example sets ${name}, which the schema does not know`);
    assert.deepEqual(inExample, marked, '.env.example against the variables with envExample: true');
  });

  it('explains every variable in a comment above it', () => {
    for (const { name, line } of assignments) {
      // Up through the assignments of its block to the comment that opens it.
      let i = line - 1;
      while (i >= 0 && /^[A-Z_][A-Z0-9_]*=/.test(lines[i]!)) i--;
      assert.ok(i >= 0 && lines[i]!.startsWith('#') && lines[i]!.length > 2, `${name} in .env.example has no comment above it`);
    }
  });

  it('holds values the schema accepts', () => {
    const env = Object.fromEntries(assignments.map((a) => [a.name, a.value]));
    assert.doesNotThrow(() => loadConfig(env, root));
  });
});
