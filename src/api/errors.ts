/**
 * Every error the service answers has one shape, `{"error": {"code", "message", "field"?}}`, and a
 * client's mistake is never a 5xx. This module renders them: HttpErrors thrown by our handlers,
 * the errors Express's body parser and router raise for bad input (each mapped to its 4xx), Redis
 * being away (503), and, last, our own bugs (500, details only in the log).
 */
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { rateLimitedWarn, type Logger } from '../runtime/logger.js';
import { SETTING_LABELS, SettingsCopyError } from '../stores/settings-mirror.js';
import { HttpError } from './http-error.js';
import { redisUnavailable, REDIS_RETRY_AFTER_S } from './redis-gate.js';

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

/**
 * What body-parser (express.json) reports, by its `type`. Anything else it raises with a 4xx status
 * is passed on with that status as `invalid_request`.
 */
const BODY_ERRORS: Record<string, { status: number; code: string; message?: (e: { message?: string; body?: unknown }) => string; field?: string }> = {
  'entity.parse.failed': { status: 400, code: 'invalid_json', message: (e) => notJsonMessage(e), field: 'body' },
  'entity.too.large': { status: 413, code: 'too_large', message: () => 'request body too large (at most 64 KiB of JSON)' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset', message: (e) => `${e.message}; send JSON as UTF-8` },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding', message: () => 'unsupported Content-Encoding; use gzip, deflate, br or none' },
  'request.aborted': { status: 400, code: 'aborted', message: () => 'the client closed the request before its body was complete' },
  'request.size.invalid': { status: 400, code: 'invalid_length', message: () => 'the body is not as long as its Content-Length says' },
  'parameters.too.many': { status: 413, code: 'too_large', message: () => 'too many parameters' },
};

/**
 * express.json accepts only an object or an array at the top (strict) and reports `null`, `123` or
 * `"text"` as a parse failure with JSON.parse's words, "is not valid JSON": true of none of them.
 */
function notJsonMessage(e: { message?: string; body?: unknown }): string {
  if (typeof e.body === 'string') {
    try {
      const value: unknown = JSON.parse(e.body);
      return `request body must be a JSON object, not ${value === null ? 'null' : typeof value}`;
    } catch {
      // not JSON at all: JSON.parse's own words below
    }
  }
  return `request body is not valid JSON: ${e.message}`;
}

export function errorMiddleware(logger: Logger, redis: Redis) {
  const log = logger.child({ module: 'api' });
  // One line per 10 s while Redis is away, not one per request of every polling client.
  const warnUnavailable = rateLimitedWarn(log, 'answered 503: Redis unavailable');
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      // Half an answer is out (e.g. a body deadline answered while the body was still read): the
      // connection cannot carry a second one.
      req.socket.destroy();
      return;
    }
    const { status, body, headers } = render(err, redis);
    if (body.error.code === 'redis_unavailable') {
      warnUnavailable(err as Error, { method: req.method, url: req.originalUrl });
    } else if (status >= 500) {
      const e = err as Error;
      log.error({ err: e?.message, stack: e?.stack, method: req.method, url: req.originalUrl }, 'request failed');
    }
    res.set(headers).status(status).json(body);
  };
}

function render(err: unknown, redis: Redis): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, body: errorBody(err.code, err.message, err.field), headers: err.headers ?? {} };
  if (redisUnavailable(err, redis)) {
    return {
      status: 503,
      body: errorBody('redis_unavailable', 'Redis (the job queue) is not reachable; nothing was done. Try again in a moment.'),
      headers: { 'Retry-After': String(REDIS_RETRY_AFTER_S) },
    };
  }
  if (err instanceof SettingsCopyError) {
    // Not the client's mistake (4xx) nor a bug (500): the server cannot keep the setting where it
    // must (beside the backups, so that it survives Redis losing its data) until a person frees
    // space (507 Insufficient Storage, as for an upload) or makes the directory writable (503).
    const fix = err.fix;
    return {
      status: err.diskFull ? 507 : 503,
      body: errorBody('settings_not_saved', `the ${SETTING_LABELS[err.setting] ?? err.setting} setting was not saved, nothing was changed: its copy beside the backups, ${err.file}, cannot be written (${err.reason}). ${fix[0]!.toUpperCase()}${fix.slice(1)}, then save again.`),
      headers: {},
    };
  }
  const e = (err ?? {}) as { type?: string; status?: number; statusCode?: number; message?: string; expose?: boolean };
  const known = e.type ? BODY_ERRORS[e.type] : undefined;
  if (known) return { status: known.status, body: errorBody(known.code, known.message ? known.message(e) : String(e.message), known.field), headers: {} };
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // The router's "Failed to decode param" (bad percent-encoding in :stamp or :id) lands here.
    const code = err instanceof URIError ? 'invalid_path' : 'invalid_request';
    return { status, body: errorBody(code, e.expose === false ? 'bad request' : String(e.message)), headers: {} };
  }
  return { status: 500, body: errorBody('internal', 'internal error; see the service log'), headers: {} };
}
