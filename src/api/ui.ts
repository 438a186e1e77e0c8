/**
 * The backup screens (issue 15): a static page at `/` and its bundle under `/ui/`, built by
 * `npm run build` from ui/ into dist/ui (scripts/build-ui.ts). The files hold no data and no
 * secret, so they are served without the token; every datum the page shows comes from /api with
 * the token the admin typed in. A missing build is a clear 503, not a bare 404.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import { HttpError } from './http-error.js';

export const UI_ASSETS_PATH = '/ui';

/**
 * The page's own policy: its scripts, styles and API calls from this origin only, no inline
 * script or style, no plugins, no framing, no form posting elsewhere.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** True for the paths the page is served at (they get UI_CSP instead of the API's "nothing"). */
export function isUiPath(p: string): boolean {
  return p === '/' || p.startsWith(`${UI_ASSETS_PATH}/`);
}

/** dist/ui beside this module's own tree: from src/api (tsx) and dist/api (compiled) alike. */
const UI_DIR = path.resolve(import.meta.dirname, '../../dist/ui');

export function mountUi(app: express.Express, dir = UI_DIR): void {
  const notBuilt = () => new HttpError(503, 'ui_not_built', `the backup screens are not built (${dir} is missing): run npm run build`);
  // Revalidated on every load: an updated service must not run yesterday's page against today's API.
  const headers = { cacheControl: true, maxAge: 0, etag: true, lastModified: true };
  app.get('/', (_req, res, next) => {
    if (!existsSync(path.join(dir, 'index.html'))) return next(notBuilt());
    res.sendFile('index.html', { root: dir, ...headers }, (err) => err && next(err));
  });
  app.use(UI_ASSETS_PATH, express.static(dir, { index: false, redirect: false, dotfiles: 'ignore', ...headers }));
}
