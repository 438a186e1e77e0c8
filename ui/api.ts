/**
 * Every datum of the screens comes through here: the REST API of this same origin, with the token
 * the admin typed in (never in a URL), errors as the API's `{error: {code, message, field}}`.
 */
import { getToken } from './auth';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Called on a 401, so the app can ask for the token again. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(cb: () => void): void {
  onUnauthorized = cb;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok) return body as T;
  const err = (body as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
  if (res.status === 401) onUnauthorized();
  throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `${res.status} ${res.statusText}`, err?.field);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }), cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);
  return answer<T>(await fetch(path, init));
}

/**
 * The SQL upload as the raw body, with progress: fetch cannot report upload progress, XHR can.
 * `onProgress(done, total)` as the browser sends.
 */
export function upload<T>(path: string, file: Blob, onProgress: (done: number, total: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers({ 'content-type': 'application/octet-stream' }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
    xhr.onload = () => {
      const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      answer<T>(res).then(resolve, reject);
    };
    xhr.send(file);
  });
}
