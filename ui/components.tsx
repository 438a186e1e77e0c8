/** Small pieces the screens share: a labelled progress bar, a message box, an error line. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { t } from './i18n';
import { bytes, duration, percent } from './format';
import { progressText } from './progress-text';

export interface Progress {
  bytesDone?: number;
  bytesTotal?: number;
  entries?: number;
}

/**
 * A real <progress> (screen readers announce it) with its numbers in words beside it: bytes done of
 * total (or so far, without a total: progress-text.ts), and, when the caller knows them, the rate
 * and the time left.
 */
export function ProgressBar(props: { label: string; done: number; total: number; rate?: number; finished?: boolean; id?: string }) {
  const { label, done, total, rate, finished } = props;
  const { key, value } = progressText(done, total, finished);
  const left = rate && rate > 0 && total > done ? (total - done) / rate : undefined;
  return (
    <div class="progress" data-finished={finished ? 'true' : 'false'} id={props.id}>
      <div class="progress-label">
        <span>{label}</span>
        <span class="progress-numbers">
          {t(key, { done: bytes(done), total: bytes(total), pct: percent(done, total) })}
          {!finished && rate ? ` · ${bytes(rate)}/s` : ''}
          {!finished && left !== undefined ? ` · ${t('progress.left', { time: duration(left) })}` : ''}
        </span>
      </div>
      <progress max={1} value={value} aria-label={label} />
    </div>
  );
}

export function Notice(props: { kind: 'error' | 'warn' | 'ok' | 'info'; title?: string; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${props.kind}`} role={props.kind === 'error' || props.kind === 'warn' ? 'alert' : 'status'}>
      {props.title ? <strong>{props.title} </strong> : null}
      {props.children}
    </div>
  );
}

/**
 * "Safety backup first", on by default. Switching it off takes a second, explicit click on a
 * button that says what is given up; switching it on again is one click.
 */
export function SafetyBackupChoice(props: { on: boolean; onChange: (on: boolean) => void; kind: 'set' | 'sql' }) {
  const [asking, setAsking] = useState(false);
  const label = props.kind === 'set' ? t('safety.label') : t('safety.labelSql');
  return (
    <div class="safety">
      <label>
        <input
          type="checkbox"
          checked={props.on}
          onChange={(e) => {
            const want = (e.currentTarget as HTMLInputElement).checked;
            if (want) {
              setAsking(false);
              props.onChange(true);
            } else {
              (e.currentTarget as HTMLInputElement).checked = true;
              setAsking(true);
            }
          }}
        />{' '}
        {label}
      </label>
      {asking ? (
        <div class="notice notice-warn" role="alert">
          <p>{t('safety.really')}</p>
          <button type="button" class="danger" onClick={() => (setAsking(false), props.onChange(false))}>
            {t('safety.confirmOff')}
          </button>{' '}
          <button type="button" onClick={() => setAsking(false)}>
            {t('safety.keepOn')}
          </button>
        </div>
      ) : null}
    </div>
  );
}
