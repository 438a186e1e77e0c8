/**
 * The API token in the browser: in sessionStorage, so it is gone when the tab closes, unless the
 * admin ticks "remember", which keeps it in localStorage. Never in a URL or a cookie (a cookie
 * would travel with cross-site requests; the API only takes the Authorization header).
 */
const KEY = 'oob-backup.token';

export function getToken(): string | null {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
}

export function setToken(token: string, remember: boolean): void {
  forgetToken();
  (remember ? localStorage : sessionStorage).setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}
