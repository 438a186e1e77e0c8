/**
 * Bearer-token auth for /api and the dashboard. The comparison is constant-time over SHA-256
 * digests, so neither the token's content nor its length leaks through timing.
 *
 * The header must be exactly `<scheme> <credentials>`: `Bearer <token> extra` is refused, not read
 * as `<token>`. Basic auth (any user, the token as password) is accepted only where it is asked
 * for, the dashboard, so a browser can log in there: a browser resends Basic credentials on its
 * own, which is what cross-site request forgery needs, so the API proper never takes them.
 */
import { tokenMatches } from '../core/tokens.js';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './http-error.js';


export interface Credential {
  scheme: 'bearer' | 'basic';
  secret: string;
}

/** `Bearer <token>` or `Basic <base64 of user:password>`, one or more spaces between, nothing after. */
export function credentialFrom(header: string | undefined): Credential | undefined {
  const m = header === undefined ? null : /^([A-Za-z]+) +(\S+)$/.exec(header.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer') return { scheme, secret: m[2]! };
  if (scheme === 'basic' && /^[A-Za-z0-9+/]+={0,2}$/.test(m[2]!)) {
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? { scheme, secret: decoded.slice(colon + 1) } : undefined;
  }
  return undefined;
}

/**
 * Without a configured token the server only listens on loopback (see config), and lets all in.
 * `basicRealm`: also accept Basic auth, and challenge a browser for it.
 */
export function requireToken(apiToken: string | undefined, opts: { basicRealm?: string } = {}) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (apiToken === undefined) return next();
    const given = credentialFrom(req.headers.authorization);
    const accepted = given !== undefined && (given.scheme === 'bearer' || opts.basicRealm !== undefined);
    if (accepted && tokenMatches(given.secret, apiToken)) return next();
    if (opts.basicRealm) res.setHeader('WWW-Authenticate', `Basic realm="${opts.basicRealm}", charset="UTF-8"`);
    else res.setHeader('WWW-Authenticate', 'Bearer realm="oob-backup"');
    next(new HttpError(401, 'unauthorized', 'missing or wrong API token (Authorization: Bearer <API_TOKEN>)'));
  };
}
