/**
 * Datensicherung konfigurieren: the five crontab fields and "Generationen", as the OOB
 * documentation shows them, the schedule in words while typing (cronstrue, German or English) and
 * its next five runs (asked from the API, which checks with the same rules as when saving), the
 * API's 400 at the field it names. Below it the verify schedule, the same way without generations,
 * and the archive mode of each volume (volume-modes.tsx).
 */
import cronstrue from 'cronstrue';
import 'cronstrue/locales/de';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Notice } from './components';
import { dateTime } from './format';
import { currentLang, t, type TextKey } from './i18n';
import type { CronView } from './types';
import { VolumeModes } from './volume-modes';

const FIELDS = ['minute', 'hour', 'day', 'month', 'weekday'] as const;
type Field = (typeof FIELDS)[number] | 'keep';
type Values = Record<Field, string>;

export function ConfigureScreen() {
  return (
    <div class="screen">
      <h2>{t('nav.configure')}</h2>
      <details class="card help">
        <summary>{t('cfg.helpTitle')}</summary>
        <ul>
          {(['cfg.help1', 'cfg.help2', 'cfg.help3', 'cfg.help4', 'cfg.help5'] as const).map((k) => (
            <li>{t(k)}</li>
          ))}
        </ul>
        <p>{t('cfg.helpKeep')}</p>
      </details>
      <CronForm kind="backup" path="/api/schedule" />
      <CronForm kind="verify" path="/api/verify-schedule" />
      <VolumeModes />
    </div>
  );
}

/** The schedule in words, or undefined when cronstrue cannot read it (the API's check says why). */
function inWords(v: Values): string | undefined {
  try {
    const text = cronstrue.toString(FIELDS.map((f) => v[f].trim() || '?').join(' '), { locale: currentLang(), use24HourTimeFormat: true, throwExceptionOnParseError: true, verbose: false });
    return text;
  } catch {
    return undefined;
  }
}

function CronForm(props: { kind: 'backup' | 'verify'; path: string }) {
  const withKeep = props.kind === 'backup';
  const [values, setValues] = useState<Values | null>(null);
  const [saved, setSaved] = useState<CronView | null>(null);
  const [preview, setPreview] = useState<CronView | null>(null);
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const [status, setStatus] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const id = (f: string) => `${props.kind}-${f}`;

  useEffect(() => {
    api<CronView>('GET', props.path).then((s) => {
      setSaved(s);
      setValues({ minute: s.minute, hour: s.hour, day: s.day, month: s.month, weekday: s.weekday, keep: String(s.keep ?? '') });
    }, (e: Error) => setStatus({ kind: 'error', text: e.message }));
  }, []);

  // The next runs of what is typed: asked from the API a moment after the last keystroke.
  useEffect(() => {
    if (!values) return;
    const timer = setTimeout(() => {
      const body = Object.fromEntries(FIELDS.map((f) => [f, values[f]]));
      api<CronView>('POST', '/api/schedule/preview', body).then(
        (p) => (setPreview(p), setFieldError((e) => (e && e.field !== 'keep' ? null : e))),
        (e: unknown) => (setPreview(null), e instanceof ApiError && e.field ? setFieldError({ field: e.field, message: e.message }) : undefined),
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [values && FIELDS.map((f) => values[f]).join(' ')]);

  if (!values) return <section class="card" aria-busy="true">{status ? <Notice kind="error">{status.text}</Notice> : t('app.loading')}</section>;

  const save = async (e: Event) => {
    e.preventDefault();
    setStatus(null);
    const body: Record<string, string | number> = Object.fromEntries(FIELDS.map((f) => [f, values[f]]));
    if (withKeep) body.keep = /^\d+$/.test(values.keep.trim()) ? Number(values.keep.trim()) : values.keep;
    try {
      const s = await api<CronView>('PUT', props.path, body);
      setSaved(s);
      setFieldError(null);
      setStatus({ kind: 'ok', text: t('cfg.saved') });
    } catch (err) {
      if (err instanceof ApiError && err.field && err.field !== 'body') {
        setFieldError({ field: err.field, message: err.message });
        document.getElementById(id(err.field))?.focus();
      } else setStatus({ kind: 'error', text: (err as Error).message });
    }
  };
  const turnOff = async () => {
    const s = await api<CronView>('DELETE', props.path).catch((err: Error) => (setStatus({ kind: 'error', text: err.message }), null));
    if (!s) return;
    setSaved(s);
    setStatus({ kind: 'ok', text: t('cfg.turnedOff') });
  };
  const words = inWords(values);
  const fields: Field[] = withKeep ? [...FIELDS, 'keep'] : [...FIELDS];

  return (
    <form class="card" onSubmit={save} aria-labelledby={id('h')} noValidate>
      <h3 id={id('h')}>{t(withKeep ? 'cfg.backupTitle' : 'cfg.verifyTitle')}</h3>
      <p class="hint">{saved?.enabled ? t('cfg.isOn', { tz: saved.timezone }) : t('cfg.isOff')}</p>
      <div class="cron-fields">
        {fields.map((f) => {
          const bad = fieldError?.field === f;
          return (
            <div class="field">
              <label for={id(f)}>{t(`field.${f}` as TextKey)}</label>
              <input
                id={id(f)}
                name={f}
                value={values[f]}
                inputMode={f === 'keep' ? 'numeric' : 'text'}
                autocomplete="off"
                spellcheck={false}
                aria-invalid={bad ? 'true' : undefined}
                aria-describedby={`${id(f)}-hint${bad ? ` ${id(f)}-error` : ''}`}
                onInput={(e) => setValues({ ...values, [f]: (e.currentTarget as HTMLInputElement).value })}
              />
              <span class="hint" id={`${id(f)}-hint`}>
                {f === 'keep' && saved?.localRetention ? t('cfg.keepUnused', { policy: saved.localRetention }) : t(`range.${f}` as TextKey)}
              </span>
              {bad ? (
                <span class="field-error" id={`${id(f)}-error`} role="alert">
                  {t('cfg.fieldInvalid')} {fieldError!.message}
                </span>
              ) : null}
            </div>
          );
        })}
      </div>
      <div class="meaning" aria-live="polite">
        <p>
          <strong>{t('cfg.meaning')}</strong> <span data-testid={`${props.kind}-words`}>{words ?? t('cfg.unreadable')}</span>
        </p>
        {preview ? (
          <>
            <p><strong>{t('cfg.nextRuns', { tz: preview.timezone })}</strong></p>
            <ol class="plain" data-testid={`${props.kind}-next`}>
              {preview.nextRuns.map((r) => (
                <li>{dateTime(r, preview.timezone)}</li>
              ))}
            </ol>
          </>
        ) : null}
      </div>
      <div class="actions">
        <button type="submit" class="primary">{t('cfg.save')}</button>{' '}
        {saved?.enabled ? (
          <button type="button" onClick={turnOff}>{t('cfg.turnOff')}</button>
        ) : null}
      </div>
      {status ? <Notice kind={status.kind}>{status.text}</Notice> : null}
    </form>
  );
}
