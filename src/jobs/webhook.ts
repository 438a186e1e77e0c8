/**
 * One HTTP delivery of an alert to one webhook: POST JSON, bounded by a timeout, and a verdict a
 * retry policy can act on. A 2xx is delivered; 408, 429, 5xx, network errors and timeouts are worth
 * another attempt (with Retry-After, when the receiver sends one); any other status is final.
 *
 * Webhook URLs often carry their secret in the path or query (Slack, Teams, ntfy tokens) or as
 * user:password: only `origin()` of a URL (scheme, host, port) may appear in logs, job data or
 * error messages, and `problem` texts are scrubbed of the full URL.
 */

import { origin } from '../core/url-origin.js';

export { origin };

export type Delivery = { ok: true } | { ok: false; retry: boolean; problem: string; retryAfterMs?: number };

export async function postAlert(url: string, body: string, o: { timeoutMs: number; fetchImpl?: typeof fetch }): Promise<Delivery> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  const { target, authorization } = splitCredentials(url);
  const scrub = (text: string) => text.split(url).join(origin(url)).split(target).join(origin(url));
  try {
    const res = await (o.fetchImpl ?? fetch)(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'oob-backup', ...(authorization ? { authorization } : {}) },
      body,
      signal,
    });
    // Read (and bound) the body so the connection is released; its text helps with a 4xx.
    const text = (await res.text().catch(() => '')).slice(0, 200);
    if (res.status >= 200 && res.status < 300) return { ok: true };
    const retry = res.status === 408 || res.status === 429 || res.status >= 500;
    return { ok: false, retry, problem: scrub(`HTTP ${res.status}${text ? `: ${text}` : ''}`), retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
  } catch (err) {
    const problem = signal.aborted ? `no answer within ${o.timeoutMs} ms` : errorText(err);
    return { ok: false, retry: true, problem: scrub(problem) };
  }
}

/** `https://user:pw@host/x` → Basic auth header + `https://host/x` (fetch refuses URLs with credentials). */
function splitCredentials(url: string): { target: string; authorization?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { target: url };
  }
  if (!u.username && !u.password) return { target: url };
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { target: u.href, authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Scheme, host and port: what may be logged of a webhook URL (no path, query or user:password). */

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    // fetch reports "fetch failed" and puts the useful part (ECONNREFUSED ...) in the cause.
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
