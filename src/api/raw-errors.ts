/**
 * Answers Node's HTTP layer gives on its own, before Express sees a request: a request it cannot
 * parse (bad request line, unknown method, bad header), headers too large, headers too slow, an
 * `Expect` it does not know, a CONNECT. By default they go out as bare status lines or a dropped
 * connection; here they get the service's JSON error shape and security headers like every other
 * answer.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../runtime/logger.js';
import { errorBody } from './errors.js';
import { BASE_SECURITY_HEADERS } from './security.js';

const REASONS: Record<number, string> = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Content Too Large', 417: 'Expectation Failed', 431: 'Request Header Fields Too Large' };

/** What a parser error code means for the client. */
function classify(err: NodeJS.ErrnoException): { status: number; code: string; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', message: 'the request headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request headers did not arrive in time (HTTP_HEADERS_TIMEOUT)' };
    case 'HPE_INVALID_METHOD':
      return { status: 405, code: 'method_not_allowed', message: 'unknown HTTP method' };
    default:
      return { status: 400, code: 'bad_request', message: `the request is not valid HTTP (${err.code ?? 'parse error'})` };
  }
}

function rawResponse(status: number, code: string, message: string): string {
  const body = JSON.stringify(errorBody(code, message));
  const headers = {
    ...BASE_SECURITY_HEADERS,
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

export function attachRawErrorAnswers(server: http.Server, logger: Logger): void {
  const log = logger.child({ module: 'api' });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A response already on its way (Node's own default does the same): the connection is unusable.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, code, message } = classify(err);
    log.debug({ err: err.code, status }, 'malformed request');
    socket.end(rawResponse(status, code, message));
  });
  // `Expect: 100-continue` is answered by Node; anything else would get a bare 417.
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = JSON.stringify(errorBody('expectation_failed', `unsupported Expect: ${JSON.stringify(req.headers.expect)}; only 100-continue is supported`));
    res.writeHead(417, { ...BASE_SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
  });
  // No proxying here; without a listener Node would just drop the connection.
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    socket.end(rawResponse(405, 'method_not_allowed', 'CONNECT is not supported'));
  });
}
