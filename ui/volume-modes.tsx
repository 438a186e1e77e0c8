/**
 * "Sicherungsart pro Datenbestand" on the configure screen: per data volume full or incremental
 * archives (issue 16), for incremental the chain length (fullEvery) and an optional weekday for a
 * new full (fullOn), saved with PUT /api/volumes/:name, the API's 400 shown at the field it names.
 * The database dump has no mode (always a full dump), so it is not listed.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Notice } from './components';
import { bytes } from './format';
import { locale, t } from './i18n';
import type { VolumeMode, VolumesAnswer, VolumeState } from './types';
import { weekdays } from './volume-mode-text';

/** Used when a volume is switched to incremental for the first time: the API's own default. */
const DEFAULT_FULL_EVERY = 7;

export function VolumeModes() {
  const [volumes, setVolumes] = useState<VolumeState[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<VolumesAnswer>('GET', '/api/volumes').then(
      (a) => setVolumes(a.volumes.filter((v) => v.kind === 'volume')),
      (e: Error) => setError(e.message),
    );
  }, []);
  return (
    <section class="card" aria-labelledby="modes-h">
      <h3 id="modes-h">{t('modes.title')}</h3>
      <p>{t('modes.explain')}</p>
      <p class="hint">{t('modes.dbHint')}</p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {!volumes && !error ? <p aria-busy="true">{t('app.loading')}</p> : null}
      {volumes?.length === 0 ? <p>{t('overview.noVolumes')}</p> : null}
      {(volumes ?? []).map((v) => (
        <VolumeModeForm key={v.name} volume={v} />
      ))}
    </section>
  );
}

interface Draft {
  mode: VolumeMode;
  fullEvery: string;
  fullOn: string;
}

function draftOf(v: VolumeState): Draft {
  return { mode: v.mode, fullEvery: String(v.fullEvery ?? DEFAULT_FULL_EVERY), fullOn: v.fullOn === null ? '' : String(v.fullOn) };
}

function VolumeModeForm(props: { volume: VolumeState }) {
  const name = props.volume.name;
  const [draft, setDraft] = useState<Draft>(draftOf(props.volume));
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const [status, setStatus] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const id = (f: string) => `mode-${name}-${f}`;

  const save = async (e: Event) => {
    e.preventDefault();
    setStatus(null);
    const body: Record<string, unknown> = { mode: draft.mode };
    if (draft.mode === 'incremental') {
      // Sent as typed when it is no whole number, so the API's check names the field.
      const every = draft.fullEvery.trim();
      body.fullEvery = /^\d+$/.test(every) ? Number(every) : every;
      body.fullOn = draft.fullOn === '' ? null : Number(draft.fullOn);
    }
    try {
      const saved = await api<VolumeState>('PUT', `/api/volumes/${encodeURIComponent(name)}`, body);
      setDraft(draftOf(saved));
      setFieldError(null);
      setStatus({ kind: 'ok', text: t('cfg.saved') });
    } catch (err) {
      if (err instanceof ApiError && err.field && err.field !== 'body' && document.getElementById(id(err.field))) {
        setFieldError({ field: err.field, message: err.message });
        document.getElementById(id(err.field))?.focus();
      } else setStatus({ kind: 'error', text: (err as Error).message });
    }
  };
  const errorAt = (f: string) =>
    fieldError?.field === f ? (
      <span class="field-error" id={id(`${f}-error`)} role="alert">
        {t('cfg.fieldInvalid')} {fieldError.message}
      </span>
    ) : null;
  const described = (f: string) => `${id(`${f}-hint`)}${fieldError?.field === f ? ` ${id(`${f}-error`)}` : ''}`;

  return (
    <form class="volume-mode" data-volume-mode={name} onSubmit={save} aria-labelledby={id('h')} noValidate>
      <h4 id={id('h')}>
        {name} <span class="hint">{t('modes.size', { size: bytes(props.volume.size) })}</span>
      </h4>
      <fieldset>
        <legend>{t('modes.kind')}</legend>
        {(['full', 'incremental'] as const).map((m) => (
          <label class="check">
            <input type="radio" name={id('mode')} id={id(m)} value={m} checked={draft.mode === m} onChange={() => setDraft({ ...draft, mode: m })} />{' '}
            {t(m === 'full' ? 'modes.full' : 'modes.incremental')}
          </label>
        ))}
        {errorAt('mode')}
      </fieldset>
      {draft.mode === 'incremental' ? (
        <div class="mode-fields">
          <div class="field">
            <label for={id('fullEvery')}>{t('modes.fullEvery')}</label>
            <input
              id={id('fullEvery')}
              value={draft.fullEvery}
              inputMode="numeric"
              autocomplete="off"
              aria-invalid={fieldError?.field === 'fullEvery' ? 'true' : undefined}
              aria-describedby={described('fullEvery')}
              onInput={(e) => setDraft({ ...draft, fullEvery: (e.currentTarget as HTMLInputElement).value })}
            />
            <span class="hint" id={id('fullEvery-hint')}>{t('modes.fullEveryHint')}</span>
            {errorAt('fullEvery')}
          </div>
          <div class="field">
            <label for={id('fullOn')}>{t('modes.fullOn')}</label>
            <select
              id={id('fullOn')}
              value={draft.fullOn}
              aria-invalid={fieldError?.field === 'fullOn' ? 'true' : undefined}
              aria-describedby={described('fullOn')}
              onChange={(e) => setDraft({ ...draft, fullOn: (e.currentTarget as HTMLSelectElement).value })}
            >
              <option value="">{t('modes.fullOnNone')}</option>
              {weekdays(locale()).map((d) => (
                <option value={String(d.value)}>{d.name}</option>
              ))}
            </select>
            <span class="hint" id={id('fullOn-hint')}>{t('modes.fullOnHint')}</span>
            {errorAt('fullOn')}
          </div>
        </div>
      ) : null}
      <div class="actions">
        <button type="submit" class="primary">{t('modes.save', { volume: name })}</button>
      </div>
      {status ? <Notice kind={status.kind}>{status.text}</Notice> : null}
    </form>
  );
}
