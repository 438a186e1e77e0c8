/**
 * "Jetzt sichern": all volumes (and the database dump) or the ones ticked, then that run's
 * progress per volume — archive, verification, pruning — until every volume is done or failed.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Notice, ProgressBar, type Progress } from './components';
import { stampText } from './format';
import { t } from './i18n';
import { useRates } from './poll';
import type { JobView, RunAnswer, VolumeState } from './types';

export function RunNow(props: { volumes: VolumeState[]; jobs: JobView[]; onStarted: () => void }) {
  const names = props.volumes.filter((v) => v.kind === 'volume').map((v) => v.name);
  const [chosen, setChosen] = useState<Set<string> | null>(null); // null: all, the database dump included
  const [run, setRun] = useState<RunAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const all = chosen === null || names.every((n) => chosen.has(n));

  const toggle = (name: string, on: boolean) => {
    const next = new Set(chosen ?? names);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  };
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const body = all ? undefined : { volumes: names.filter((n) => chosen!.has(n)) };
      setRun(await api<RunAnswer>('POST', '/api/backups', body));
      props.onStarted();
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'run_exists' ? t('run.exists') : err instanceof ApiError && err.code === 'restore_running' ? t('run.restoreRunning') : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const nothing = chosen !== null && chosen.size === 0;

  return (
    <section class="card" aria-labelledby="run-h">
      <h3 id="run-h">{t('run.title')}</h3>
      <fieldset>
        <legend>{t('run.which')}</legend>
        {names.map((n) => (
          <label class="check">
            <input type="checkbox" name="run-volume" value={n} checked={chosen === null || chosen.has(n)} onChange={(e) => toggle(n, (e.currentTarget as HTMLInputElement).checked)} /> {n}
          </label>
        ))}
        <p class="hint">{all ? t('run.allHint') : t('run.someHint')}</p>
      </fieldset>
      <button type="button" class="primary" onClick={start} disabled={busy || nothing}>
        {t('run.button')}
      </button>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {run ? <RunProgress run={run} jobs={props.jobs} /> : null}
    </section>
  );
}

function RunProgress(props: { run: RunAnswer; jobs: JobView[] }) {
  const rate = useRates();
  const byId = new Map(props.jobs.map((j) => [j.id, j]));
  const rows = props.run.jobs.map((r) => {
    const archive = byId.get(r.archiveJobId);
    const verify = byId.get(r.verifyJobId);
    const prune = byId.get(r.pruneJobId);
    const failed = [archive, verify, prune].find((j) => j?.state === 'failed');
    const finished = prune?.state === 'completed';
    const step = verify?.state === 'active' || archive?.state === 'completed' ? verify : archive;
    const p = (step?.progress ?? {}) as Progress;
    const what = finished ? t('run.stepDone') : step === verify && verify ? t('run.stepVerify') : archive?.state === 'active' ? t('run.stepArchive') : t('run.stepWaiting');
    const speed = step?.state === 'active' && p.bytesDone !== undefined ? rate(`${step.queue}:${step.id}`, p.bytesDone) : undefined;
    return { r, failed, finished, p, what, speed };
  });
  const done = rows.every((x) => x.finished || x.failed);
  const failures = rows.filter((x) => x.failed);
  return (
    <div class="run" aria-live="polite" data-stamp={props.run.stamp}>
      <h4>{done ? t('run.finished', { stamp: stampText(props.run.stamp) }) : t('run.running', { stamp: stampText(props.run.stamp) })}</h4>
      {rows.map(({ r, failed, finished, p, what, speed }) =>
        failed ? (
          <Notice kind="error" title={`${r.volume}:`}>
            {failed.failedReason}
          </Notice>
        ) : (
          <ProgressBar label={`${r.volume} – ${what}`} done={p.bytesDone ?? 0} total={p.bytesTotal ?? 0} rate={speed} finished={finished} />
        ),
      )}
      {done && failures.length === 0 ? <Notice kind="ok">{t('run.allDone')}</Notice> : null}
    </div>
  );
}
