/**
 * The deployment files cannot be run here (no Docker engine), so they are read: docker-compose.yaml
 * as YAML, the Dockerfile and .env.example as text, package.json for its start scripts. Every
 * environment variable they set must be one of the environment schema (src/runtime/config/), so a
 * typo fails here instead of being ignored silently in production; and what compose passes from .env
 * is what the schema marks for .env.example.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { FILE_TIMES_BINDING } from '../../src/engine/fs/file-times.js';
import { BINDING } from '../../src/engine/gzip/libdeflate.js';
import { envSchema, VARIABLE_NAMES } from '../../src/runtime/config/env-schema.js';
import { variableDocs } from '../../src/runtime/config/variables.js';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../src/runtime/worker-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

const SEED_VOLUMES = ['elexisdb', 'lucindadata', 'lucindabase', 'webelexisdata', 'pacsdata'];

/** Every variable the service reads: the keys of the environment schema. */
const known = new Set<string>(VARIABLE_NAMES);
const docOf = (name: string) => variableDocs.get(envSchema.shape[name as (typeof VARIABLE_NAMES)[number]]);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  user?: string;
  ports?: unknown[];
  environment?: Record<string, unknown> | string[];
  volumes?: unknown[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: unknown; disable?: boolean };
  stop_grace_period?: string;
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// `merge: true` resolves the `<<: *common-env` merge keys, as docker compose does.
const compose = parse(read('docker-compose.yaml'), { merge: true }) as Compose;

function service(name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `service ${name} is missing`);
  return s;
}

function environment(s: Service): Record<string, string> {
  const env: Record<string, string> = {};
  if (Array.isArray(s.environment)) {
    for (const item of s.environment) {
      const eq = item.indexOf('=');
      env[eq < 0 ? item : item.slice(0, eq)] = eq < 0 ? '' : item.slice(eq + 1);
    }
  } else {
    for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = v === null || v === undefined ? '' : String(v);
  }
  return env;
}

/** Short-syntax volume entries `source:target[:mode]` as {source, target, mode}. */
function mounts(s: Service): { source: string; target: string; mode: string }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') {
      const o = v as { source?: string; target?: string; read_only?: boolean };
      return { source: o.source ?? '', target: o.target ?? '', mode: o.read_only ? 'ro' : 'rw' };
    }
    const [source = '', target = '', mode = 'rw'] = v.split(':');
    return { source, target, mode };
  });
}

function commandArgs(cmd: string[] | string | undefined): string[] {
  if (cmd === undefined) return [];
  return Array.isArray(cmd) ? cmd : cmd.split(/\s+/);
}

/** A `dist/…js` entry point in a command must be compiled from an existing `src/…ts`. */
function assertDistEntry(args: string[], where: string): void {
  const entry = args.find((a) => /^(\.\/)?dist\/.+\.js$/.test(a));
  assert.ok(entry, `${where} runs no dist/…js file: ${JSON.stringify(args)}`);
  const src = entry.replace(/^(\.\/)?dist\//, 'src/').replace(/\.js$/, '.ts');
  assert.ok(fs.existsSync(path.join(root, src)), `${where} runs ${entry}, but ${src} does not exist`);
}

describe('docker-compose.yaml', () => {
  it('has the services redis, api and worker', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['api', 'redis', 'worker']);
  });

  it('runs Redis with AOF, noeviction, a data volume and a health check', () => {
    const redis = service('redis');
    const cmd = commandArgs(redis.command).join(' ');
    assert.match(cmd, /--appendonly yes/);
    assert.match(cmd, /--maxmemory-policy noeviction/);
    assert.ok(mounts(redis).some((m) => m.target === '/data' && m.source === 'redisdata'), 'redis has no redisdata:/data');
    assert.match(JSON.stringify(redis.healthcheck?.test), /redis-cli ping/);
    assert.equal(redis.ports, undefined, 'Redis must not be published');
  });

  it('starts api and worker from their dist entry points after a healthy Redis', () => {
    for (const name of ['api', 'worker']) {
      const s = service(name);
      assertDistEntry(commandArgs(s.command), `${name} command`);
      assert.deepEqual(s.depends_on, { redis: { condition: 'service_healthy' } }, name);
      assert.equal(environment(s).REDIS_URL, 'redis://redis:6379', name);
    }
    assert.match(commandArgs(service('api').command).join(' '), /dist\/api\/main\.js/);
    assert.match(commandArgs(service('worker').command).join(' '), /dist\/jobs\/main\.js/);
  });

  it('runs compiled JavaScript, the worker with its flags and environment (src/runtime/worker-process.ts)', () => {
    for (const name of ['api', 'worker']) assert.doesNotMatch(commandArgs(service(name).command).join(' '), /\btsx\b/, name);
    const args = commandArgs(service('worker').command);
    for (const flag of WORKER_NODE_FLAGS) assert.ok(args.includes(flag), `worker without ${flag}`);
    for (const [name, value] of Object.entries(WORKER_PROCESS_ENV)) assert.equal(String(environment(service('worker'))[name]), value, `worker's ${name}`);
  });

  it('publishes the API on 3000 and runs two workers', () => {
    const ports = (service('api').ports ?? []).map((p) =>
      typeof p === 'object' && p !== null ? `${(p as { published?: unknown }).published}:${(p as { target?: unknown }).target}` : String(p),
    );
    assert.ok(ports.some((p) => /(^|:)3000:3000$/.test(p)), `api ports: ${JSON.stringify(ports)}`);
    assert.equal(service('worker').deploy?.replicas, 2);
    assert.equal(service('worker').ports, undefined);
  });

  it('sets only environment variables of the schema', () => {
    for (const name of ['api', 'worker']) {
      for (const variable of Object.keys(environment(service(name)))) {
        const glibc = variable in WORKER_PROCESS_ENV; // the C library's, set for the worker process
        assert.ok(known.has(variable) || glibc, `${name} sets ${variable}, which the environment schema does not know`);
      }
    }
  });

  it('gives the API its token and the worker none', () => {
    assert.ok('API_TOKEN' in environment(service('api')));
    assert.ok(!('API_TOKEN' in environment(service('worker'))));
    assert.ok(!('PORT' in environment(service('worker'))));
  });

  it('takes secrets only from the environment', () => {
    for (const name of ['api', 'worker']) {
      const env = environment(service(name));
      for (const [k, v] of Object.entries(env)) {
        if (!/TOKEN|PASSWORD|SECRET/.test(k)) continue;
        assert.match(v, /^\$\{[A-Z_][A-Z0-9_]*[^}]*\}$/, `${name}: ${k} must be a \${...} interpolation, not a literal`);
      }
    }
    assert.match(environment(service('api')).API_TOKEN ?? '', /^\$\{API_TOKEN\b/);
    assert.match(environment(service('worker')).DB_PASSWORD ?? '', /^\$\{DB_PASSWORD\b/);
  });

  it('lets the worker end its jobs before Docker kills it', () => {
    const w = service('worker');
    const timeout = Number(environment(w).SHUTDOWN_TIMEOUT);
    const m = /^(\d+)s$/.exec(w.stop_grace_period ?? '');
    assert.ok(m, `worker stop_grace_period should be like "90s", got ${w.stop_grace_period}`);
    assert.ok(Number(m[1]) > timeout, `stop_grace_period ${w.stop_grace_period} must exceed SHUTDOWN_TIMEOUT ${timeout}`);
  });

  it('mounts the seed volumes read-write in the worker and read-only in the API', () => {
    const worker = mounts(service('worker'));
    const api = mounts(service('api'));
    for (const v of SEED_VOLUMES) {
      assert.ok(worker.some((m) => m.source === v && m.target === `/mnt/${v}` && m.mode === 'rw'), `worker: ${v}:/mnt/${v} read-write`);
      assert.ok(api.some((m) => m.source === v && m.target === `/mnt/${v}` && m.mode === 'ro'), `api: ${v}:/mnt/${v}:ro`);
      assert.ok(compose.volumes && v in compose.volumes, `top-level volume ${v}`);
    }
    for (const list of [worker, api]) {
      assert.ok(list.some((m) => m.source === 'backup' && m.target === '/backup' && m.mode === 'rw'), 'backup:/backup');
    }
    for (const v of ['redisdata', 'backup']) assert.ok(compose.volumes && v in compose.volumes, `top-level volume ${v}`);
    assert.equal(environment(service('worker')).VOLUMES_DIR, '/mnt');
    assert.equal(environment(service('worker')).BACKUP_DIR, '/backup');
  });

  it("runs the worker as root, in the API user's group (it reads what the worker writes), and without the API health check", () => {
    assert.equal(service('worker').user, '0:1000');
    assert.equal(service('api').user, undefined, 'the API keeps the image default user');
    assert.equal(service('worker').healthcheck?.disable, true);
  });

  /** `${VAR}`, `${VAR:-default}`, `${VAR?message}` … in any string of the parsed file (so comments do not count). */
  function interpolations(): { name: string; fallback: string | undefined }[] {
    const strings: string[] = [];
    const walk = (x: unknown): void => {
      if (typeof x === 'string') strings.push(x);
      else if (x && typeof x === 'object') {
        for (const [k, v] of Object.entries(x)) {
          strings.push(k);
          walk(v);
        }
      }
    };
    walk(compose);
    return strings.flatMap((s) => [...s.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?[^}]*\}/g)].map((m) => ({ name: m[1]!, fallback: m[2] })));
  }

  it('takes from .env exactly the variables the schema marks for .env.example, which lists them', () => {
    const used = new Set(interpolations().map((i) => i.name));
    assert.ok(used.has('API_TOKEN') && used.has('DB_PASSWORD'));
    const marked = VARIABLE_NAMES.filter((name) => docOf(name)?.envExample);
    assert.deepEqual([...used].sort(), [...marked].sort(), 'variables compose interpolates against envExample: true in the schema');
    const example = new Set([...read('.env.example').matchAll(/^#?\s*([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    for (const v of used) assert.ok(example.has(v), `.env.example lacks ${v}`);
  });

  it('falls back to the schema\'s own default where it has one', () => {
    for (const { name, fallback } of interpolations()) {
      const schemaDefault = docOf(name)?.default;
      if (fallback !== undefined && schemaDefault !== undefined) assert.equal(fallback, schemaDefault, `\${${name}:-${fallback}} against the default ${schemaDefault}`);
    }
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  // Join continuation lines and drop comments, so each instruction is one line.
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const instr = (name: string) => lines.filter((l) => l.toUpperCase().startsWith(`${name} `));

  it('has a build and a runtime stage on node:20-bookworm-slim', () => {
    const froms = instr('FROM');
    assert.equal(froms.length, 2, froms.join('\n'));
    for (const f of froms) assert.match(f, /^FROM node:20-bookworm-slim\b/);
  });

  it('installs with npm ci, production dependencies only at runtime', () => {
    const runs = instr('RUN').join('\n');
    assert.match(runs, /npm ci(?! --omit)/);
    assert.match(runs, /npm ci --omit=dev/);
    assert.match(runs, /npm run build/);
  });

  it('installs tini, the MariaDB clients and libdeflate at runtime, not redis', () => {
    const apt = instr('RUN').filter((l) => l.includes('apt-get install')).at(-1);
    assert.ok(apt, 'no apt-get install');
    assert.match(apt, /--no-install-recommends/);
    for (const pkg of ['tini', 'mariadb-client', 'ca-certificates', 'libdeflate0']) assert.match(apt, new RegExp(`\\b${pkg}\\b`));
    assert.doesNotMatch(apt, /redis/);
  });

  it('builds the native bindings in the build stage and copies them into the runtime image', () => {
    const buildStage = text.slice(0, text.indexOf('AS runtime'));
    const runtimeStage = text.slice(text.indexOf('AS runtime'));
    assert.match(buildStage, /apt-get install[^\n]*\blibdeflate-dev\b/);
    for (const pkg of ['python3', 'make', 'g\\+\\+']) assert.match(buildStage, new RegExp(`apt-get install[^\\n]*\\s${pkg}\\s`));
    assert.match(buildStage, /COPY native \.\/native/);
    assert.match(buildStage, /COPY scripts\/build-native\.mjs /);
    assert.match(buildStage, /OOB_REQUIRE_LIBDEFLATE=1 npm ci/);
    // The runtime has no compiler: its npm ci must not try to build; the binding comes from the build stage.
    assert.match(runtimeStage, /npm ci --omit=dev --ignore-scripts/);
    const copy = instr('COPY').find((l) => l.includes('oob_libdeflate.node'));
    assert.equal(copy, 'COPY --from=build /app/native/libdeflate/build/Release/oob_libdeflate.node ./native/libdeflate/build/Release/');
    // Where src/engine/gzip/libdeflate.ts looks for it: from the project's root (WORKDIR /app, with package.json).
    assert.equal(path.posix.join('/app', BINDING), '/app/native/libdeflate/build/Release/oob_libdeflate.node');
    // The file times binding (src/engine/fs/file-times.ts) comes from the same build.
    assert.ok(instr('COPY').includes('COPY --from=build /app/native/libdeflate/build/Release/oob_file_times.node ./native/libdeflate/build/Release/'));
    assert.equal(path.posix.join('/app', FILE_TIMES_BINDING), '/app/native/libdeflate/build/Release/oob_file_times.node');
    assert.ok(instr('WORKDIR').every((w) => w === 'WORKDIR /app'));
    assert.match(text, /GZIP_INFLATE=libdeflate/);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.install, 'node scripts/build-native.mjs');
  });

  it('runs node under tini with a health check', () => {
    const entry = instr('ENTRYPOINT');
    assert.equal(entry.length, 1);
    assert.match(entry[0]!, /tini/);
    const health = instr('HEALTHCHECK');
    assert.equal(health.length, 1);
    assert.match(health[0]!, /\/healthz/);
    assert.match(health[0]!, /\bnode\b/);
  });

  it('runs a compiled entry point whose source exists', () => {
    const cmds = instr('CMD');
    assert.equal(cmds.length, 1);
    const args = JSON.parse(cmds[0]!.slice(4)) as string[];
    assert.equal(args[0], 'node');
    assertDistEntry(args, 'Dockerfile CMD');
    assert.ok(args.includes('--expose-gc'), 'the all-in-one process runs jobs: --expose-gc (gc-nudge.ts)');
    for (const l of [...instr('RUN'), ...cmds]) assert.doesNotMatch(l, /\btsx\b/, 'the image runs dist/, not tsx');
  });

  it('sets NODE_ENV=production, only known variables, and a non-root default user', () => {
    assert.match(text, /\bNODE_ENV=production\b/);
    for (const e of instr('ENV')) {
      for (const m of e.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)) assert.ok(known.has(m[1]!), `ENV ${m[1]} is not in the environment schema`);
    }
    const users = instr('USER');
    assert.equal(users.at(-1), 'USER node');
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(read('package.json')) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  it('keeps tsx a development dependency', () => {
    assert.equal(pkg.dependencies.tsx, undefined, 'tsx in dependencies: production runs dist/');
    assert.ok(pkg.devDependencies.tsx, 'the tests and the bench run TypeScript through tsx');
  });

  it('starts compiled JavaScript, built first, with --expose-gc where jobs run', () => {
    for (const [script, entry] of [
      ['start', 'start'],
      ['start:api', 'api/main'],
      ['start:worker', 'jobs/main'],
    ] as const) {
      const words = pkg.scripts[script]!.split(/\s+/);
      const assignments = words.slice(0, words.findIndex((w) => !/^[A-Z_]+=/.test(w)));
      const args = words.slice(assignments.length);
      if (script === 'start:worker') {
        for (const flag of WORKER_NODE_FLAGS) assert.ok(args.includes(flag), `${script} without ${flag}`);
        for (const [name, value] of Object.entries(WORKER_PROCESS_ENV)) assert.ok(assignments.includes(`${name}=\${${name}:-${value}}`), `${script} without ${name}`);
      } else assert.deepEqual(assignments, [], script); // npm start's worker child gets them from worker-child.ts
      assert.equal(args[0], 'node', script);
      assert.ok(args.includes(`dist/${entry}.js`), `${script}: ${pkg.scripts[script]}`);
      assertDistEntry(args, `npm run ${script}`);
      assert.equal(pkg.scripts[`pre${script}`], 'npm run build', `pre${script} must build dist/ first`);
      assert.equal(args.includes('--expose-gc'), script !== 'start:api', `${script}: --expose-gc only where jobs run`);
    }
  });
});
