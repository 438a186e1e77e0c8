/** Errors a handler throws to answer 4xx; the error middleware renders `{error: {code, message, field?}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Extra response headers, e.g. `Allow` on a 405. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, field?: string) => new HttpError(400, 'invalid_request', message, field);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const conflict = (code: string, message: string) => new HttpError(409, code, message);
export const unsupportedMediaType = (message: string, field?: string) => new HttpError(415, 'unsupported_media_type', message, field);
