/**
 * Cross-site request forgery guard for every request that changes something (any method but GET,
 * HEAD and OPTIONS), on the API and the dashboard alike. Two ways in need it:
 * - without API_TOKEN (loopback only) the API lets every request in, so any page open in a browser
 *   on the server could start runs with a plain `<form method=post>` or a `no-cors` fetch;
 * - with API_TOKEN the dashboard takes Basic auth, which the browser re-sends by itself, also with
 *   a form that another site submits to bull-board's API.
 * Such requests need no preflight and carry no secret the attacker must know, but the browser says
 * where they come from, in headers a page cannot set:
 * - `Sec-Fetch-Site` (every current browser): `same-origin` or `none` (typed in, bookmark) passes,
 *   anything else (`same-site`: another port of this host; `cross-site`) is refused. When present
 *   it decides alone: the browser computed it from the origin it saw itself. `Origin` can be
 *   `null` on a same-origin form POST here, because every answer says `Referrer-Policy: no-referrer`.
 * - otherwise (older browsers) `Origin`: it must be this server's own origin as the browser saw it,
 *   the connection's scheme and the Host header (no proxy is trusted: `trust proxy` is off);
 *   `null` (sandboxed frames, opaque origins) is refused.
 * A request with neither header is not from a browser's page (curl, scripts, the tests): it passes,
 * and the token check after this decides as before.
 */
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './http-error.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const OWN_SITE = new Set(['same-origin', 'none']);

export function sameOrigin(req: Request, _res: Response, next: NextFunction): void {
  if (SAFE_METHODS.has(req.method)) return next();
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return OWN_SITE.has(site.trim().toLowerCase()) ? next() : next(refused(req, `comes from another site, says the browser (Sec-Fetch-Site: ${quote(site)})`));
  const origin = req.headers.origin;
  if (origin === undefined) return next();
  const own = ownOrigin(req);
  if (own !== undefined && origin === own) return next();
  next(refused(req, `comes from a page of ${quote(origin)}, not of this server (${own ?? 'whose origin is unknown: no Host header'})`));
}

/** `scheme://host[:port]` as a browser serializes it: lower case, no default port. */
export function ownOrigin(req: Request): string | undefined {
  const host = req.headers.host;
  if (!host) return undefined;
  try {
    return new URL(`${req.protocol}://${host}`).origin;
  } catch {
    return undefined;
  }
}

function refused(req: Request, why: string): HttpError {
  return new HttpError(
    403,
    'cross_site_request',
    `cross-site request refused: ${req.method} ${req.path.slice(0, 200)} ${why}; nothing was done. Changes are accepted only from this ` +
      "server's own pages (the backup screens, the dashboard) and from clients that are not browsers",
  );
}

/** A header value for a message: quoted, and cut short. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
