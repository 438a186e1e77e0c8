/**
 * The folders are the architecture, and imports point down only:
 *
 *   start.ts (all in one) ─┬─> api/   (routes, thin handlers, auth, errors)
 *                          └─> jobs/  (one processor per job kind, the worker wiring)
 *   api/, jobs/ ──> runtime/ (config, context, logger, process wiring)
 *   api/, jobs/, runtime/ ──> stores/ (state in Redis), db/ (MariaDB clients), engine/ (archive format, file work)
 *   stores/, db/ ──> engine/ ──> core/ (pure domain logic)
 *
 *   ui/ (the backup screens, bundled for the browser) ──> nothing of src/: only the REST API
 *
 * Checked in `npm test` (npm run lint:deps). The engine and the database clients know nothing of
 * queues, Redis, HTTP or the configuration: plain options in, plain results out.
 */
const layer = (name) => `^src/${name}/`;
const forbid = (name, comment, fromPath, toPath) => ({ name, comment, severity: 'error', from: { path: fromPath }, to: { path: toPath } });

module.exports = {
  forbidden: [
    forbid('core-is-pure', 'core/ holds pure domain logic: it imports only core/', layer('core'), '^src/(?!core/)'),
    forbid('engine-knows-no-app', 'engine/ imports only core/ and engine/', layer('engine'), '^src/(?!core/|engine/)'),
    forbid('db-knows-no-app', 'db/ imports only core/, engine/ and db/', layer('db'), '^src/(?!core/|engine/|db/)'),
    forbid('stores-know-no-app', 'stores/ imports only core/, engine/ and stores/', layer('stores'), '^src/(?!core/|engine/|stores/)'),
    forbid('runtime-below-roles', 'runtime/ (config, context, process wiring) must not import api/ or jobs/', layer('runtime'), '^src/(api|jobs)/|^src/start\\.ts$'),
    forbid('api-not-jobs', 'api/ adds jobs, it never runs them: no import of jobs/', layer('api'), '^src/jobs/|^src/start\\.ts$'),
    forbid('jobs-not-api', 'jobs/ must not import api/', layer('jobs'), '^src/api/|^src/start\\.ts$'),
    forbid('ui-knows-only-the-api', 'ui/ (the backup screens, in the browser) knows the service only through its REST API: no import of src/', '^ui/', '^src/'),
    forbid('src-not-ui', 'src/ serves the built screens (dist/ui) as files; it imports nothing of ui/', '^src/', '^ui/'),
    forbid('engine-no-queues-redis-http', 'engine/, db/ and core/ use no BullMQ, ioredis or Express', '^src/(core|engine|db)/', '^node_modules/(bullmq|ioredis|express|@bull-board)/'),
    {
      name: 'no-circular',
      comment: 'a cycle makes the layers meaningless',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.tsx', '.js'] },
  },
};
