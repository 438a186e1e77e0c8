/** The API's HTTP server: where it listens, who may call it, and how long a client may take. */
import { flag, integer, seconds, text, variable, type Parsed } from './variables.js';

/** Names of this machine's loopback interface: the only HOST allowed without API_TOKEN. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

export const http = {
  title: 'API server',
  variables: {
    HOST: text({ defaultText: 'loopback', doc: 'listen address; `0.0.0.0` by default only when `API_TOKEN` is set' }),
    PORT: integer({ min: 0, max: 65535, default: 3000, doc: 'listen port of the API' }),
    API_TOKEN: variable(
      {
        secret: true,
        envExample: true,
        doc: 'bearer token for `/api` (≥ 16 chars, no blanks, not a `change-me` placeholder); without it the API listens on loopback only',
      },
      parseApiToken,
    ),
    ALLOWED_HOSTS: variable(
      {
        envExample: true,
        defaultText: 'loopback names on loopback, else any',
        doc: 'host names the API answers to (comma-separated, no port, or `*`); `localhost`, `127.0.0.1`, `::1` always work. Any other `Host` gets 403: a web page cannot use DNS rebinding to reach the API',
      },
      parseAllowedHosts,
    ),
    TLS_CERT_FILE: text({ doc: 'certificate of the API; with `TLS_KEY_FILE` the API serves HTTPS only (TLS ≥ 1.2)' }),
    TLS_KEY_FILE: text({ doc: 'private key of that certificate; set both or neither' }),
    HTTP_HEADERS_TIMEOUT: seconds({ min: 0.1, max: 3600, fractions: true, default: 30, doc: 'seconds a client has to send its request headers (against slowloris)' }),
    HTTP_REQUEST_TIMEOUT: seconds({
      min: 0.1,
      max: 86_400,
      fractions: true,
      default: 300,
      doc: 'seconds a client has to send a JSON body; a SQL upload has no total limit (see `UPLOAD_IDLE_TIMEOUT`)',
    }),
    MAX_UPLOAD_BYTES: integer({ min: 1024, max: Number.MAX_SAFE_INTEGER, default: 20 * 1024 ** 3, defaultText: '20 GiB (`21474836480`)', doc: 'largest SQL upload, in bytes' }),
    UPLOAD_IDLE_TIMEOUT: seconds({
      min: 0.1,
      max: 3600,
      fractions: true,
      default: 60,
      doc: 'an upload is cut (408) when this many seconds bring less than 64 KiB: a stalled or dripping client. A slow but steady upload of any length goes through',
    }),
    DASHBOARD_READ_ONLY: flag({ default: false, doc: 'bull-board without retry/clean/remove buttons' }),
  },
};

function parseApiToken(token: string): Parsed<string> {
  if (token.length < 16) return { problem: 'must be at least 16 characters (e.g. `openssl rand -hex 32`)' };
  // A token is sent as `Authorization: Bearer <token>`, which ends at the first blank.
  if (/\s/.test(token)) return { problem: 'must not contain spaces or other blanks' };
  // The placeholder that .env.example held is known to everyone who read it: `cp .env.example .env`
  // and `docker compose up` without editing it put the API behind it (found by an audit).
  if (/change-?me/i.test(token)) return { problem: 'is still a placeholder (change-me); set a token of your own (e.g. `openssl rand -hex 32`)' };
  return { value: token };
}

/**
 * ALLOWED_HOSTS: the names the Host header may carry (DNS rebinding: a page of evil.example whose
 * name resolves to 127.0.0.1 sends `Host: evil.example`), lower case; `'*'` = any. The loopback
 * names are always allowed on top; the default depends on HOST (see config-from-env.ts).
 */
function parseAllowedHosts(raw: string): Parsed<string[] | '*'> {
  if (raw === '*') return { value: '*' };
  const names: string[] = [];
  for (const n of raw.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)) {
    const ipv6 = /^\[?([0-9a-f]*:[0-9a-f:.]*:[0-9a-f.]*)\]?$/.exec(n);
    if (ipv6) {
      names.push(ipv6[1]!);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(n)) {
      names.push(n);
    } else {
      return { problem: `expected host names without scheme or port, comma-separated (or *), got "${n}"` };
    }
  }
  return { value: names };
}
