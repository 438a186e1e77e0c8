/**
 * One directory of a volume's archive at a time (GET …/entries, paged), with a checkbox per entry:
 * folders open by their name, the path above leads back. Keys are the API's: base64url of the
 * path's bytes, so a name that is not UTF-8 is still chosen exactly (entry-keys.ts).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { Notice } from './components';
import { crumbs } from './entry-keys';
import { bytes, dateTime } from './format';
import { t, type TextKey } from './i18n';
import type { ArchiveEntry, EntriesAnswer } from './types';

export interface Chosen {
  key: string;
  path: string;
  type: ArchiveEntry['type'];
}

const PAGE = 100;

export function ArchiveBrowser(props: { stamp: string; volume: string; chosen: Map<string, Chosen>; onToggle: (e: Chosen, on: boolean) => void; timezone?: string }) {
  const [dirKey, setDirKey] = useState('');
  const [pages, setPages] = useState<EntriesAnswer[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const base = `/api/backups/${encodeURIComponent(props.stamp)}/archives/${encodeURIComponent(props.volume)}/entries`;

  const load = (key: string, cursor: string | null) => {
    setLoading(true);
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (key) q.set('dirKey', key);
    if (cursor) q.set('cursor', cursor);
    api<EntriesAnswer>('GET', `${base}?${q}`).then(
      (page) => (setPages((old) => (cursor ? [...old, page] : [page])), setError(null)),
      (e: Error) => setError(e.message),
    ).finally(() => setLoading(false));
  };
  useEffect(() => {
    setDirKey('');
    load('', null);
  }, [props.stamp, props.volume]);
  const open = (key: string) => {
    setDirKey(key);
    setPages([]);
    load(key, null);
  };
  const entries = pages.flatMap((p) => p.entries);
  const next = pages[pages.length - 1]?.nextCursor ?? null;

  return (
    <div class="browser">
      <nav aria-label={t('files.where')} class="crumbs">
        {crumbs(dirKey).map((c, i, all) =>
          i === all.length - 1 ? (
            <span aria-current="location">{c.name}</span>
          ) : (
            <>
              <button type="button" class="link" onClick={() => open(c.key)}>{c.name}</button>
              {i > 0 ? ' / ' : ' '}
            </>
          ),
        )}
      </nav>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <table class="entries" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col"><span class="sr-only">{t('files.choose')}</span></th>
            <th scope="col">{t('files.name')}</th>
            <th scope="col" class="num">{t('col.size')}</th>
            <th scope="col">{t('files.date')}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr data-path={e.path}>
              <td>
                <input type="checkbox" aria-label={t('files.chooseOne', { name: e.name })} checked={props.chosen.has(e.key)} onChange={(ev) => props.onToggle({ key: e.key, path: e.path, type: e.type }, (ev.currentTarget as HTMLInputElement).checked)} />
              </td>
              <td>
                {e.type === 'directory' ? (
                  <button type="button" class="link" onClick={() => open(e.key)} aria-label={t('files.open', { name: e.name })}>
                    {e.name}/
                  </button>
                ) : (
                  <span>{e.name}{e.type === 'symlink' ? ` → ${e.linkTarget ?? ''}` : ''}</span>
                )}
                {e.type !== 'directory' && e.type !== 'file' ? <span class="hint"> ({t(`entry.${e.type}` as TextKey)})</span> : null}
              </td>
              <td class="num">{e.type === 'file' ? bytes(e.size) : ''}</td>
              <td>{dateTime(e.mtime, props.timezone)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && entries.length === 0 && !error ? <p>{t('files.empty')}</p> : null}
      {next ? (
        <button type="button" onClick={() => load(dirKey, next)} disabled={loading}>
          {t('files.more')}
        </button>
      ) : null}
    </div>
  );
}
