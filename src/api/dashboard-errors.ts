/**
 * bull-board answers the errors of its own API (`/admin/queues/api/...`) as
 * `{"error": {"key": "ERRORS.QUEUE_NOT_FOUND", "options"?}, "message"?}`. Its UI reads those, so
 * they stay; this adds our `code` and `message` beside them, so that every error of the service
 * has them.
 */
import type { NextFunction, Request, Response } from 'express';

export function dashboardErrorShape(_req: Request, res: Response, next: NextFunction): void {
  const json = res.json.bind(res);
  res.json = (body?: unknown) => {
    const b = body as { error?: unknown; message?: unknown } | null | undefined;
    if (res.statusCode >= 400 && b && typeof b.error === 'object' && b.error !== null && typeof (b.error as { code?: unknown }).code !== 'string') {
      const key = String((b.error as { key?: unknown }).key ?? 'ERRORS.UNKNOWN');
      // bull-board labels a bad JSON body an internal error while answering 400.
      const code = res.statusCode < 500 && key === 'ERRORS.INTERNAL_SERVER_ERROR' ? 'invalid_request' : key.replace(/^ERRORS\./, '').toLowerCase();
      const message = typeof b.message === 'string' ? b.message : code.replace(/_/g, ' ');
      return json({ ...b, error: { ...b.error, code, message } });
    }
    return json(body);
  };
  next();
}
