/**
 * Ein Dokument zurückholen: choose a set and a volume, browse its archive, tick files or folders,
 * and restore them beside the live data (a new folder Wiederhergestellt-<stamp> in the volume, the
 * default: nothing is overwritten) or in place (the chosen paths replaced, after a safety backup).
 * The API's warning and the same confirmation as every restore; verified like any restore.
 */
import { useState } from 'preact/hooks';
import { api } from './api';
import { ArchiveBrowser, type Chosen } from './archive-browser';
import { Notice, SafetyBackupChoice } from './components';
import { stampText } from './format';
import { t } from './i18n';
import { usePoll } from './poll';
import { ConfirmRestore, RestoreProgress } from './restore-progress';
import type { BackupSet, CronView, RestoreRequestAnswer } from './types';

type Into = 'beside' | 'in-place';

export function DocumentsScreen() {
  const sets = usePoll(() => api<{ sets: BackupSet[] }>('GET', '/api/backups'), 60_000);
  // Times in the server's zone (TZ), as everywhere on these screens, not the browser's (an audit found them 12 h off).
  const schedule = usePoll(() => api<CronView>('GET', '/api/schedule'), 300_000);
  const volumeSets = (sets.data?.sets ?? []).filter((s) => s.archives.some((a) => a.kind === 'volume'));
  const [stamp, setStamp] = useState<string | null>(null);
  const [volume, setVolume] = useState<string | null>(null);
  const set = volumeSets.find((s) => s.stamp === stamp) ?? volumeSets[0];
  const volumes = (set?.archives ?? []).filter((a) => a.kind === 'volume').map((a) => a.volume);
  const vol = volume && volumes.includes(volume) ? volume : volumes[0];

  return (
    <div class="screen">
      <h2>{t('nav.documents')}</h2>
      <p class="hint">{t('files.intro')}</p>
      {sets.error ? <Notice kind="error">{sets.error.message}</Notice> : null}
      {sets.data && volumeSets.length === 0 ? <p>{t('restore.noSets')}</p> : null}
      {set && vol ? (
        <>
          <div class="card pickers">
            <div class="field">
              <label for="files-set">{t('files.set')}</label>
              <select id="files-set" value={set.stamp} onChange={(e) => setStamp((e.currentTarget as HTMLSelectElement).value)}>
                {volumeSets.map((s) => (
                  <option value={s.stamp}>{stampText(s.stamp)}</option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="files-volume">{t('files.volume')}</label>
              <select id="files-volume" value={vol} onChange={(e) => setVolume((e.currentTarget as HTMLSelectElement).value)}>
                {volumes.map((v) => (
                  <option value={v}>{v}</option>
                ))}
              </select>
            </div>
          </div>
          <FilesRestore key={`${set.stamp}/${vol}`} stamp={set.stamp} volume={vol} timezone={schedule.data?.timezone} />
        </>
      ) : null}
    </div>
  );
}

function FilesRestore(props: { stamp: string; volume: string; timezone?: string }) {
  const [chosen, setChosen] = useState(new Map<string, Chosen>());
  const [into, setInto] = useState<Into>('beside');
  const [safety, setSafety] = useState(true);
  const [request, setRequest] = useState<RestoreRequestAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmed, setConfirmed] = useState<string | null>(null);
  // Any change after the request was made asks for a new one (the warning must say what happens).
  const changed = () => (setRequest(null), setError(null));

  if (confirmed) return <RestoreProgress id={confirmed} kind={into} />;
  const toggle = (e: Chosen, on: boolean) => {
    const next = new Map(chosen);
    if (on) next.set(e.key, e);
    else next.delete(e.key);
    setChosen(next);
    changed();
  };
  const ask = async () => {
    setError(null);
    try {
      const body = { stamp: props.stamp, volumes: [props.volume], paths: [...chosen.keys()], into, skipSafetyBackup: into === 'in-place' && !safety };
      setRequest(await api<RestoreRequestAnswer>('POST', '/api/restores', body));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="columns">
      <section class="card wide" aria-labelledby="browse-h">
        <h3 id="browse-h">{t('files.browseTitle', { volume: props.volume, stamp: stampText(props.stamp) })}</h3>
        <ArchiveBrowser stamp={props.stamp} volume={props.volume} chosen={chosen} onToggle={toggle} timezone={props.timezone} />
      </section>
      <section class="card" aria-labelledby="chosen-files-h">
        <h3 id="chosen-files-h">{t('files.chosenTitle', { n: chosen.size })}</h3>
        <ul class="chosen-list">
          {[...chosen.values()].map((c) => (
            <li>
              {c.path}
              {c.type === 'directory' ? '/' : ''}{' '}
              <button type="button" class="link" onClick={() => toggle(c, false)} aria-label={t('files.remove', { name: c.path })}>✕</button>
            </li>
          ))}
        </ul>
        <fieldset>
          <legend>{t('files.whereTo')}</legend>
          <label class="check">
            <input type="radio" name="into" value="beside" checked={into === 'beside'} onChange={() => (setInto('beside'), changed())} /> {t('files.beside', { folder: `Wiederhergestellt-${props.stamp}` })}
          </label>
          <label class="check">
            <input type="radio" name="into" value="in-place" checked={into === 'in-place'} onChange={() => (setInto('in-place'), changed())} /> {t('files.inPlace')}
          </label>
        </fieldset>
        {into === 'in-place' ? <SafetyBackupChoice on={safety} onChange={(on) => (setSafety(on), changed())} kind="set" /> : null}
        <button type="button" class="primary" disabled={chosen.size === 0} onClick={ask}>
          {t('files.next')}
        </button>
        {error ? <Notice kind="error">{error}</Notice> : null}
        {request ? <ConfirmRestore request={request} onConfirmed={setConfirmed} /> : null}
      </section>
    </div>
  );
}
