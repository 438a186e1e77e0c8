/**
 * Handlers know nothing of Express: they get a plain request and return `{status, body}`. The
 * adapter below is the only place that touches Express, and passes thrown errors to the error
 * middleware.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import type { AppContext } from '../runtime/context.js';

export interface ApiRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: IncomingHttpHeaders;
  /** The raw request body, for the one handler that streams an upload. */
  stream: Readable;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export type Handler = (ctx: AppContext, req: ApiRequest) => Promise<ApiResponse>;

export function adapt(ctx: AppContext, handler: Handler) {
  return (req: Request, res: Response, next: NextFunction) => {
    const apiReq: ApiRequest = {
      params: req.params as Record<string, string>,
      query: req.query as Record<string, unknown>,
      body: req.body,
      headers: req.headers,
      stream: req,
    };
    handler(ctx, apiReq).then(
      (r) => res.status(r.status).json(r.body),
      next,
    );
  };
}
