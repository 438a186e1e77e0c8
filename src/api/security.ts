/**
 * Response headers that make the browser hold back: no MIME sniffing of our JSON, no framing of
 * the dashboard by another site (clickjacking its retry/remove buttons), no Referer carrying our
 * URLs elsewhere. API answers get a CSP that allows nothing at all (they are data, never a page)
 * and `Cache-Control: no-store`: restore tokens, job states and schedules must never be served
 * from a cache. The dashboard's page loads its own scripts and styles, so it only gets
 * `frame-ancestors`. The backup screens (ui.ts) get a strict policy of their own: scripts, styles and
 * calls from this origin only, nothing inline.
 */
import type { NextFunction, Request, Response } from 'express';
import { isUiPath, UI_CSP } from './ui.js';

/** Sent by every response of the service, including the raw ones of clientError. */
export const BASE_SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const NOTHING_ALLOWED_CSP = "default-src 'none'; frame-ancestors 'none'";
const NO_FRAMING_CSP = "frame-ancestors 'none'";

export function securityHeaders(dashboardPath: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    res.set(BASE_SECURITY_HEADERS);
    const dashboard = req.path === dashboardPath || req.path.startsWith(`${dashboardPath}/`);
    res.set('Content-Security-Policy', dashboard ? NO_FRAMING_CSP : isUiPath(req.path) ? UI_CSP : NOTHING_ALLOWED_CSP);
    next();
  };
}

export function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}
