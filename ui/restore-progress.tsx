/**
 * The end of every restore: the API's warning in the page's language, the confirmation, then the
 * restore's progress by phase until its summary ("Elexis jetzt neu starten") or its failure.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { restoreLeftDataUntouched } from './advice';
import { Notice, ProgressBar } from './components';
import { stampText } from './format';
import { currentLang, t, type TextKey } from './i18n';
import type { RestoreRequestAnswer, RestoreView } from './types';

const SET_PHASES = ['check', 'extract', 'safety-backup', 'swap', 'done'];
/** `done`: the upload removed, the clients of the database checked (restore-sql.ts), as a set's last step. */
const SQL_PHASES = ['check-sql', 'safety-dump', 'load', 'done'];
/** Single files beside the live data: no safety backup (nothing is overwritten). */
const BESIDE_PHASES = ['check', 'extract', 'swap', 'done'];

export type RestoreKind = 'set' | 'sql' | 'in-place' | 'beside';
const ENDED = new Set(['completed', 'failed', 'interrupted', 'expired']);

/** The warning of a request, with the button that confirms it. `disabled`: the request is being renewed. */
export function ConfirmRestore(props: { request: RestoreRequestAnswer; onConfirmed: (id: string) => void; disabled?: boolean }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // An encrypted copy from a target: the age identity goes with the confirmation, and nowhere else.
  const [identity, setIdentity] = useState('');
  const confirm = async () => {
    setBusy(true);
    try {
      await api('POST', `/api/restores/${props.request.id}/confirm`, { token: props.request.token, ...(identity.trim() ? { ageIdentity: identity } : {}) });
      setIdentity('');
      props.onConfirmed(props.request.id);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 410 ? t('restore.expired') : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="confirm">
      <div class="notice notice-warn warning-text" role="alert" data-testid="restore-warning">
        <strong>{t('restore.warningTitle')}</strong>
        <p>{props.request.warning[currentLang()]}</p>
      </div>
      {props.request.encrypted ? <IdentityInput value={identity} onChange={setIdentity} /> : null}
      <button type="button" class="danger" onClick={confirm} disabled={busy || props.disabled}>
        {t('restore.confirm')}
      </button>
      {error ? <Notice kind="error">{error}</Notice> : null}
    </div>
  );
}

/** The age identity as text, pasted or read from the chosen key file (in the browser: it is not uploaded on its own). */
function IdentityInput(props: { value: string; onChange: (text: string) => void }) {
  return (
    <div class="identity">
      <label class="field">
        {t('restore.identity')}
        <textarea name="age-identity" rows={3} autocomplete="off" spellcheck={false} value={props.value} onInput={(e) => props.onChange((e.currentTarget as HTMLTextAreaElement).value)} />
      </label>
      <label class="field">
        {t('restore.identityFile')}{' '}
        <input type="file" name="age-identity-file" onChange={(e) => void (e.currentTarget as HTMLInputElement).files?.[0]?.text().then(props.onChange)} />
      </label>
      <p class="hint">{t('restore.identityNote')}</p>
    </div>
  );
}

/** `onEnded`: called once the restore has ended (a safety backup is a new set to list). */
export function RestoreProgress(props: { id: string; kind: RestoreKind; onEnded?: () => void }) {
  const [view, setView] = useState<RestoreView | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = () =>
      api<RestoreView>('GET', `/api/restores/${props.id}`)
        .then((v) => (setView(v), setError(null), v), (e: Error) => (setError(e.message), null))
        .then((v) => {
          if (stop) return;
          if (v && ENDED.has(v.state)) props.onEnded?.();
          else timer = setTimeout(poll, 1000);
        });
    void poll();
    return () => ((stop = true), clearTimeout(timer));
  }, [props.id]);

  const phases = props.kind === 'sql' ? SQL_PHASES : props.kind === 'beside' ? BESIDE_PHASES : SET_PHASES;
  const files = props.kind === 'beside' || props.kind === 'in-place';
  const phase = view?.progress?.phase;
  const at = view?.state === 'completed' ? phases.length : phase ? phases.indexOf(phase) : -1;
  const p = view?.progress;
  // A safety step passed without a copy (switched off, or a new database with nothing to keep) is
  // said so, never "done" (an audit read "safety backup – done" where none was made).
  const noSafety = view?.skipSafetyBackup === true || (view?.state === 'completed' && !view.summary?.safetyBackupStamp && !view.summary?.safetyDump);
  const passed = (ph: string) => (noSafety && (ph === 'safety-backup' || ph === 'safety-dump') ? t('progress.skipped') : t('progress.done'));
  return (
    <section class="card restore-progress" aria-live="polite" data-state={view?.state ?? 'loading'}>
      <h3>{t('restore.progressTitle')}</h3>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <p>{t('restore.state', { state: view ? t(`state.${view.state}` as TextKey) : '…' })}</p>
      <ol class="phases">
        {phases.map((ph, i) => (
          <li class={i < at ? 'phase-done' : i === at ? 'phase-now' : 'phase-later'} aria-current={i === at ? 'step' : undefined}>
            {t(`phase.${ph}` as TextKey)}
            {i < at ? ` – ${passed(ph)}` : ''}
          </li>
        ))}
      </ol>
      {view?.state === 'active' && p?.bytesTotal ? <ProgressBar label={`${t(`phase.${p.phase}` as TextKey)} ${p.volume ?? ''}`} done={p.bytesDone ?? 0} total={p.bytesTotal} /> : null}
      {view?.state === 'completed' ? (
        <Notice kind="ok" title={t('restore.doneTitle')}>
          {files ? (
            <p class="restart">{view.summary?.target ? t('files.doneBeside', { folder: view.summary.target }) : t('files.doneInPlace')}</p>
          ) : (
            <p class="restart">{t(props.kind === 'sql' ? 'restore.restartNow' : 'restore.restartOob')}</p>
          )}
          {files && view.summary?.files !== undefined ? <p>{t('files.doneCount', { files: view.summary.files })}</p> : null}
          {view.summary?.volumes?.map((v) => <p>{t('restore.doneVolume', { volume: v.volume, files: v.files })}</p>)}
          {view.summary?.safetyBackupStamp ? <p>{t('restore.safetyWas', { stamp: stampText(view.summary.safetyBackupStamp) })}</p> : null}
          {view.summary?.safetyDump ? <p>{t('restore.safetyDumpWas', { file: view.summary.safetyDump })}</p> : null}
          <SqlCautions summary={view.summary} />
        </Notice>
      ) : null}
      {view && (view.state === 'failed' || view.state === 'interrupted' || view.state === 'expired') ? (
        <Notice kind="error" title={t('restore.failedTitle')}>
          <p>{view.failedReason}</p>
          {sqlLoadFailed(view.failedReason) ? (
            <p class="caution">
              {t('restore.sqlLoadFailed')} {sqlSafetySet(view.failedReason) ? t('restore.sqlWayBack', { stamp: stampText(sqlSafetySet(view.failedReason)!) }) : null}
            </p>
          ) : (
            <p><em>{restoreLeftDataUntouched(view.failedReason) ? t('restore.failedUntouched') : t('restore.failedCheck')}</em></p>
          )}
        </Notice>
      ) : null}
    </section>
  );
}

/** A SQL restore whose load failed after the database was dropped (src/jobs/restore-sql.ts says so). */
const sqlLoadFailed = (reason: string | null) => /^loading the SQL file into \S+ failed/.test(reason ?? '');
/** The set that holds the database from before, as that reason names it. */
const sqlSafetySet = (reason: string | null) => /\(backup set (\d{4}-\d{2}-\d{2}-\d{4})\)/.exec(reason ?? '')?.[1];

/** What a completed SQL restore could not vouch for (src/jobs/sql-restore-summary.ts), as the API's message says it too. */
function SqlCautions(props: { summary: RestoreView['summary'] }) {
  const s = props.summary;
  if (!s) return null;
  return (
    <>
      {s.warnings && s.warnings.count > 0 ? <p class="caution">{t('restore.loadChanged', { n: s.warnings.count, first: s.warnings.messages[0] ?? '' })}</p> : null}
      {s.clientsDuringLoad ? <p class="caution">{t('restore.clientsDuring', { clients: s.clientsDuringLoad })}</p> : null}
      {s.otherUsersUnchecked ? <p class="caution">{t('restore.otherUsersUnchecked')}</p> : null}
    </>
  );
}
