/**
 * Host header check against DNS rebinding. A page from evil.example whose DNS name is switched to
 * 127.0.0.1 after loading can send requests to our loopback port that its browser considers
 * same-origin, and read the answers; without API_TOKEN (the loopback-only setup) nothing else
 * would stop it. Its requests still carry `Host: evil.example`, so only the names in ALLOWED_HOSTS
 * and this machine's loopback names are answered; everything else gets 403 before any route runs.
 */
import type { NextFunction, Request, Response } from 'express';
import { LOOPBACK_HOSTS } from '../runtime/config.js';
import { HttpError } from './http-error.js';

/** The host name of a Host header, lower case, without port, brackets or a trailing dot. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(h);
  if (v6) return v6[1];
  const m = /^([a-z0-9.-]+)(?::\d+)?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : undefined;
}

export function hostAllowed(header: string | undefined, allowed: string[] | '*'): boolean {
  if (allowed === '*') return true;
  const name = hostName(header);
  return name !== undefined && (LOOPBACK_HOSTS.includes(name) || allowed.includes(name));
}

export function hostCheck(allowed: string[] | '*') {
  return (req: Request, _res: Response, next: NextFunction) => {
    // HTTP/1.1 requires it (HTTP/1.0 clients may omit it; they are not browsers that rebind).
    if (req.headers.host === undefined && req.httpVersion === '1.1') return next(new HttpError(400, 'missing_host', 'the request has no Host header'));
    if (req.headers.host === undefined && allowed === '*') return next();
    if (hostAllowed(req.headers.host, allowed)) return next();
    next(
      new HttpError(
        403,
        'host_not_allowed',
        `this server does not answer to the host name in the request (${JSON.stringify(req.headers.host ?? '')}); add it to ALLOWED_HOSTS`,
      ),
    );
  };
}
