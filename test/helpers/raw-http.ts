/**
 * HTTP requests with full control over what goes on the wire (Host header, odd methods, bodies
 * without Content-Type, raw bytes), for the tests of the API's edges. `sendRaw` writes bytes to a
 * TCP socket as they are, for what no HTTP client would send.
 */
import http from 'node:http';
import net from 'node:net';

export interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: any;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  timeoutMs?: number;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function request(base: string, r: RawRequest): Promise<RawResult> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: r.method ?? 'GET', path: r.path, headers: r.headers, agent: false, setHost: !Object.keys(r.headers ?? {}).some((h) => h.toLowerCase() === 'host') },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(r.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer within ${r.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Writes `bytes` to a new connection and reads until the server closes it (or `timeoutMs`). */
export function sendRaw(base: string, bytes: Buffer | string, timeoutMs = 5000): Promise<{ raw: string; status: number; headers: Record<string, string>; json: any; closedBy: 'server' | 'timeout' }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    let closedBy: 'server' | 'timeout' = 'server';
    const timer = setTimeout(() => {
      closedBy = 'timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    socket.on('close', () => {
      clearTimeout(timer);
      let raw = Buffer.concat(chunks).toString('utf8');
      // Skip interim answers (100 Continue) before the final one.
      while (/^HTTP\/1\.[01] 1\d\d /.test(raw) && raw.includes('\r\n\r\n')) raw = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = rest.join('\r\n\r\n');
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
      resolve({ raw, status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, json: parse(body), closedBy });
    });
    socket.write(bytes);
  });
}

/** The payload of a chunked body (as text; enough for the JSON answers read here). */
function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = eol < 0 ? NaN : parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
