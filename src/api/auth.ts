/**
 * Bearer-token auth for /api and the dashboard. The comparison is constant-time over SHA-256
 * digests, so neither the token's content nor its length leaks through timing. Basic auth with the
 * token as password is accepted too, so a browser can open the dashboard.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './http-error.js';

export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function credentialFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/** Without a configured token the server only listens on loopback (see config), and lets all in. */
export function requireToken(apiToken: string | undefined, opts: { basicRealm?: string } = {}) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (apiToken === undefined) return next();
    const given = credentialFrom(req.headers.authorization);
    if (given !== undefined && tokenMatches(given, apiToken)) return next();
    if (opts.basicRealm) res.setHeader('WWW-Authenticate', `Basic realm="${opts.basicRealm}", charset="UTF-8"`);
    next(new HttpError(401, 'unauthorized', 'missing or wrong API token (Authorization: Bearer <API_TOKEN>)'));
  };
}
