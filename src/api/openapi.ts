/**
 * GET /api/openapi.json: the REST contract as an OpenAPI 3.1 document, generated (zod-openapi) from
 * the zod schemas that validate the requests (./schemas/) and those that describe the answers
 * (./schemas/responses.ts). Every route of the route table (./routes.ts) has an operation here; a
 * unit test fails when one is missing. Built once, on first request.
 */
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { z } from 'zod';
import {
  confirmRestoreBody,
  entriesParams,
  entriesQuery,
  jobsQuery,
  runBackupBody,
  scheduleBody,
  setRestoreBody,
  sqlRestoreQuery,
  stampParams,
  verifyScheduleBody,
  volumeModeBody,
  volumeParams,
} from './schemas/index.js';
import * as out from './schemas/responses.js';

type Operation = ZodOpenApiOperationObject;

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(out.errorAnswer, description);
const idParams = (what: string) => z.object({ id: z.string().meta({ description: what }) });

/** The answers every /api route can give besides its own. */
const COMMON = {
  '401': error('no or wrong API token'),
  '503': error('Redis is away; nothing was done'),
};

/** What every request that changes something (POST, PUT, DELETE) can get besides (same-origin.ts). */
const crossSite = error('cross_site_request: a browser sent it from another site (Sec-Fetch-Site or Origin); nothing was done');

function op(summary: string, o: Omit<Operation, 'summary'>): Operation {
  return { summary, ...o, responses: { ...COMMON, ...o.responses } };
}

/** `op` of a POST, PUT or DELETE. */
function change(summary: string, o: Omit<Operation, 'summary'>): Operation {
  return op(summary, { ...o, responses: { '403': crossSite, ...o.responses } });
}

/** A setting's copy in BACKUP_DIR/.oob-settings cannot be written (src/stores/settings-mirror.ts): nothing saved. */
const NOT_SAVED = {
  '503': error('settings_not_saved: its copy in BACKUP_DIR/.oob-settings cannot be written (read-only, permissions, something in the way); nothing changed'),
  '507': error('settings_not_saved: no space for its copy in BACKUP_DIR/.oob-settings; nothing changed'),
};

const scheduleOps = (what: string, body: z.ZodType, answer: z.ZodType) => ({
  get: op(`the ${what}`, { responses: { '200': json(answer, `the ${what}`) } }),
  put: change(`save the ${what}`, {
    requestBody: { content: { 'application/json': { schema: body } } },
    responses: { '200': json(answer, `the saved ${what}`), '400': error('a field is invalid; field names it'), ...NOT_SAVED },
  }),
  delete: change(`turn the ${what} off`, { responses: { '200': json(answer, `the ${what}, enabled: false`), ...NOT_SAVED } }),
});

export const API_PATHS: ZodOpenApiPathsObject = {
  '/api/schedule': scheduleOps('backup schedule', scheduleBody, out.scheduleAnswer),
  '/api/schedule/preview': {
    post: change('check five crontab fields and give their next runs; nothing is saved (the settings screen asks while typing)', {
      requestBody: { content: { 'application/json': { schema: verifyScheduleBody } } },
      responses: { '200': json(out.verifyScheduleAnswer, 'the fields, the cron pattern and the next five runs'), '400': error('a field is invalid; field names it') },
    }),
  },
  '/api/verify-schedule': scheduleOps('verify schedule', verifyScheduleBody, out.verifyScheduleAnswer),
  '/api/backups': {
    get: op('the backup sets, newest first (read from BACKUP_DIR)', { responses: { '200': json(out.backupSets, 'the sets') } }),
    post: change('run a backup now', {
      requestBody: { content: { 'application/json': { schema: runBackupBody } } },
      responses: { '202': json(out.runStarted, 'the run started'), '400': error('invalid volumes'), '409': error('that minute has a set, a restore runs, or a queue is paused') },
    }),
  },
  '/api/backups/{stamp}': {
    get: op('one backup set', { requestParams: { path: stampParams }, responses: { '200': json(out.backupSet, 'the set'), '404': error('no such set') } }),
  },
  '/api/backups/{stamp}/verify': {
    post: change('verify every archive of a set now', { requestParams: { path: stampParams }, responses: { '202': json(out.runStarted, 'verify jobs queued'), '404': error('no such set') } }),
  },
  '/api/backups/{stamp}/archives/{volume}/entries': {
    get: op("one directory of a volume's archive, paged (for restoring single files); of an incremental archive, the volume as it was at that point", {
      requestParams: { path: entriesParams, query: entriesQuery },
      responses: {
        '200': json(out.entriesAnswer, 'the directory level'),
        '400': error('invalid query'),
        '404': error('no such set, volume archive or directory'),
        '422': error('the archive cannot be read (corrupt or hostile)'),
      },
    }),
  },
  '/api/volumes': {
    get: op("every volume (and the database dump) with its size, archive mode, newest archive and overdue state, and the backup disk's space (the overview)", {
      responses: { '200': json(out.volumesAnswer, 'the volumes') },
    }),
  },
  '/api/volumes/{name}': {
    put: change("set a volume's archive mode: full, or incremental with a new full every fullEvery runs / on the fullOn weekday", {
      requestParams: { path: volumeParams },
      requestBody: { content: { 'application/json': { schema: volumeModeBody } } },
      responses: { '200': json(out.volumeAnswer, 'the volume'), '400': error('a field is invalid; field names it'), '404': error('no such volume'), ...NOT_SAVED },
    }),
  },
  '/api/jobs': { get: op('jobs of every queue, newest first, paged', { requestParams: { query: jobsQuery }, responses: { '200': json(out.jobsAnswer, 'jobs') } }) },
  '/api/jobs/{id}': { get: op('one job', { requestParams: { path: idParams('job id') }, responses: { '200': json(out.jobAnswer, 'the job'), '404': error('no such job') } }) },
  '/api/restores': {
    post: change('request a restore of a set, some of its volumes, or chosen paths of one volume (confirm it next)', {
      requestBody: { content: { 'application/json': { schema: setRestoreBody } } },
      responses: {
        '201': json(out.restoreRequested, 'the request, its token and warning'),
        '400': error('invalid input; field names it'),
        '404': error('no such set'),
        '422': error('the archive (or one its chain needs) cannot be read'),
      },
    }),
  },
  '/api/restores/sql': {
    post: change('upload a SQL dump (raw body, plain or gzip) to restore the database', {
      requestParams: { query: sqlRestoreQuery },
      requestBody: { content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } } },
      responses: {
        '201': json(out.restoreRequested, 'the request, its token and warning'),
        '408': error('the upload stalled'),
        '413': error('larger than MAX_UPLOAD_BYTES'),
        '415': error('not SQL'),
        '422': error('a mysqldump/mariadb-dump file without its "-- Dump completed" line, or a gzip cut short or damaged (sql_incomplete); a file that switches to another database than DB_NAME (sql_other_database)'),
        '507': error('no space for the upload'),
      },
    }),
  },
  '/api/restores/{id}/confirm': {
    post: change('confirm a restore request with its token: queues the restore', {
      requestParams: { path: idParams('restore request id') },
      requestBody: { content: { 'application/json': { schema: confirmRestoreBody } } },
      responses: {
        '202': json(out.restoreConfirmed, 'the restore job is queued'),
        '403': error('wrong token (wrong_token), or a cross-site request from a browser (cross_site_request)'),
        '404': error('no such request'),
        '409': error('confirmed already'),
        '410': error('expired'),
      },
    }),
  },
  '/api/restores/{id}': {
    get: op('state, progress and summary of a restore', { requestParams: { path: idParams('restore request id') }, responses: { '200': json(out.restoreView, 'the restore'), '404': error('no such request') } }),
  },
  '/api/openapi.json': {
    get: op('this document', { responses: { '200': { description: 'the OpenAPI 3.1 document', content: { 'application/json': { schema: z.looseObject({ openapi: z.string() }) } } } } }),
  },
};

let built: object | undefined;

export function openApiDocument(): object {
  built ??= createDocument({
    openapi: '3.1.0',
    info: {
      title: 'oob-backup',
      version: '1',
      description:
        'Backup service of Elexis-OOB. Every /api call needs `Authorization: Bearer <API_TOKEN>` when a token is configured. ' +
        'Errors are `{"error": {"code", "message", "field"?}}`. ' +
        'A POST, PUT or DELETE that a browser sends from another site (its Sec-Fetch-Site or Origin header says so) is refused with 403 `cross_site_request`.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: API_PATHS,
  });
  return built;
}
