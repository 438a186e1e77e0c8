/**
 * Rules about the request itself, checked before any route: its path must be valid percent-encoding,
 * a JSON route's body must say it is JSON, and a body must arrive within HTTP_REQUEST_TIMEOUT.
 */
import type { NextFunction, Request, Response } from 'express';
import { discardRest } from '../stores/uploads.js';
import { errorBody } from './errors.js';
import { HttpError, unsupportedMediaType } from './http-error.js';

/**
 * `%E0%A4%A` or `%zz` in the path or query is a client's mistake (400), wherever it is, not a 500
 * of whichever code decodes it first (the router for `:stamp`, bull-board for its query).
 */
export function validUrl(req: Request, _res: Response, next: NextFunction): void {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  // decodeURIComponent also refuses `%FF`, valid percent-encoding of a byte that is no UTF-8: said
  // as such, with what to use instead for a name that is not UTF-8 (an audit found it misnamed).
  const what = 'is not valid percent-encoding of UTF-8 text (a lone "%", or bytes such as %FF that are no UTF-8: a name that is not UTF-8 is given by its key, e.g. dirKey)';
  if (!decodes(q < 0 ? url : url.slice(0, q))) return next(new HttpError(400, 'invalid_path', `the path ${what}`));
  if (q >= 0 && !decodes(url.slice(q + 1).replace(/\+/g, ' '))) {
    return next(new HttpError(400, 'invalid_query', `the query string ${what}`));
  }
  next();
}

function decodes(s: string): boolean {
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

/** A body is there when the client framed one: chunked, or a Content-Length above 0. */
export function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Routes that take JSON refuse any other body with 415, instead of reading it as "no body" (for
 * `POST /api/backups` that meant "all volumes"). A request without a body (no Content-Length, or
 * 0, as `curl -X POST` and `fetch` without a body send it) still means "the defaults".
 */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  if (req.method === 'GET' || req.method === 'HEAD' || !hasBody(req) || req.is('application/json')) return next();
  const type = req.headers['content-type'];
  next(unsupportedMediaType(type ? `the body must be JSON (Content-Type: application/json), got ${JSON.stringify(type)}` : 'the body has no Content-Type; send JSON with Content-Type: application/json', 'body'));
}

/**
 * Node's own requestTimeout is off (it would cut a long SQL upload: 300 s of 10 MB/s is 3 GB), so
 * this bounds every other request's body: not complete within `timeoutMs` of its headers → 408 and
 * the connection is closed. A client dripping a JSON body byte by byte cannot hold a socket longer.
 */
export function bodyDeadline(timeoutMs: number) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    const timer = setTimeout(() => {
      if (req.complete || res.headersSent) return;
      res.status(408).set('Connection', 'close').json(errorBody('request_timeout', `the request body did not arrive within ${timeoutMs / 1000} s (HTTP_REQUEST_TIMEOUT)`));
    }, timeoutMs);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
    next();
  };
}

/** How long the rest of a body is still read (and dropped) after the request was answered. */
export const REFUSED_BODY_LINGER_MS = 5000;

/**
 * Once a request is answered before its body was read (a 401 without a token, a 404, a 403, a GET
 * that came with a body), Node reads and drops the rest for as long as it comes, and Node's own
 * requestTimeout is off (see bodyDeadline): a host without the token could hold any number of
 * sockets by dripping a body it announced as 100 MB. The client gets REFUSED_BODY_LINGER_MS to
 * finish (so it reads the answer instead of running into a reset), then the socket is closed.
 */
export function boundedDrain(req: Request, res: Response, next: NextFunction): void {
  res.once('finish', () => {
    if (hasBody(req) && !req.complete) discardRest(req, REFUSED_BODY_LINGER_MS);
  });
  next();
}
