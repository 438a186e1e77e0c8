/**
 * Wiederherstellen: the backup sets newest first (left) and the SQL upload (right). Choosing a set
 * asks the API for a restore request at once, so the warning shown is the API's own text for
 * exactly what would happen; every change of the volumes or of the safety backup asks again.
 * Nothing is queued before "Wiederherstellen bestätigen".
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { Notice, SafetyBackupChoice } from './components';
import { bytes, stampText } from './format';
import { t } from './i18n';
import { usePoll } from './poll';
import { ConfirmRestore, RestoreProgress } from './restore-progress';
import { SqlUpload } from './sql-upload';
import type { Archive, BackupSet, RestoreRequestAnswer } from './types';

export function RestoreScreen() {
  const sets = usePoll(() => api<{ sets: BackupSet[] }>('GET', '/api/backups'), 15_000);
  const [chosen, setChosen] = useState<string | null>(null);
  const set = sets.data?.sets.find((s) => s.stamp === chosen);
  return (
    <div class="screen">
      <h2>{t('nav.restore')}</h2>
      <div class="columns">
        <section class="card wide" aria-labelledby="sets-h">
          <h3 id="sets-h">{t('restore.setsTitle')}</h3>
          {sets.error ? <Notice kind="error">{sets.error.message}</Notice> : null}
          {sets.data && sets.data.sets.length === 0 ? <p>{t('restore.noSets')}</p> : null}
          <ul class="sets">
            {(sets.data?.sets ?? []).map((s) => (
              <li>
                <button type="button" class="set" aria-pressed={s.stamp === chosen} onClick={() => setChosen(s.stamp)} data-stamp={s.stamp}>
                  <span class="set-when">{stampText(s.stamp)}</span>
                  {s.archives.some((a) => a.safetyFor) ? <span class="set-safety">{t('restore.safetySet')}</span> : null}
                  <span class="set-what">
                    {s.archives.map((a) => `${a.volume} ${bytes(archiveSize(a))}${a.chainProblem ? ' ✗' : a.verified ? (a.verified.ok ? ' ✓' : ' ✗') : ''}`).join(' · ')}
                  </span>
                  <span class="set-verified">
                    {s.remote ? t('restore.remoteSet') : localOf(s).every((a) => a.verified?.ok && !a.chainProblem) ? t('restore.setVerified') : localOf(s).some((a) => (a.verified && !a.verified.ok) || a.chainProblem) ? t('restore.setBad') : t('restore.setUnverified')}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {set ? <SetRestore key={set.stamp} set={set} onEnded={sets.reload} /> : null}
        </section>
        <SqlUpload onEnded={sets.reload} />
      </div>
    </div>
  );
}

/** An archive known only from a target has no local size: its copy's. */
function archiveSize(a: Archive): number {
  return a.remote ? (a.copies?.[0]?.size ?? 0) : a.size;
}

/** The set's archives in BACKUP_DIR (a set here may also list archives found only on a target). */
const localOf = (s: BackupSet) => s.archives.filter((a) => !a.remote);

function SetRestore(props: { set: BackupSet; onEnded: () => void }) {
  const { set } = props;
  // A set found only on the targets (a new server after a disaster), or archives of a set found only
  // there (another volume of it was restored already), are fetched from one of them.
  const remoteArchives = set.archives.filter((a) => set.remote || a.remote);
  const targets = [...new Set(remoteArchives.flatMap((a) => (a.copies ?? []).map((c) => c.target)))];
  const [from, setFrom] = useState<string | undefined>(targets[0]);
  const volumeArchives = set.archives.filter((a) => a.kind === 'volume');
  const [volumes, setVolumes] = useState<string[]>(volumeArchives.length ? volumeArchives.map((a) => a.volume) : set.archives.map((a) => a.volume));
  const [safety, setSafety] = useState(true);
  const [request, setRequest] = useState<RestoreRequestAnswer | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirmed, setConfirmed] = useState<string | null>(null);
  const asked = useRef(0);

  useEffect(() => {
    if (volumes.length === 0) return setRequest(null);
    const n = ++asked.current;
    setPending(true);
    const fetched = from && volumes.some((v) => remoteArchives.some((a) => a.volume === v));
    api<RestoreRequestAnswer>('POST', '/api/restores', { stamp: set.stamp, volumes, skipSafetyBackup: !safety, ...(fetched ? { from } : {}) }).then(
      (r) => n === asked.current && (setRequest(r), setError(null)),
      (e: Error) => n === asked.current && (setRequest(null), setError(e.message)),
    ).finally(() => n === asked.current && setPending(false));
  }, [volumes.join(','), safety, from]);

  if (confirmed) return <RestoreProgress id={confirmed} onEnded={props.onEnded} kind={volumes.some((v) => set.archives.find((a) => a.volume === v)?.kind === 'sql') ? 'sql' : 'set'} />;
  // A dump restores on its own (through the SQL path); volumes together.
  const toggle = (volume: string, kind: string, on: boolean) => {
    if (!on) return setVolumes(volumes.filter((v) => v !== volume));
    if (kind === 'sql') return setVolumes([volume]);
    setVolumes([...volumes.filter((v) => set.archives.find((a) => a.volume === v)?.kind === 'volume'), volume]);
  };
  return (
    <div class="card chosen" aria-labelledby="chosen-h">
      <h4 id="chosen-h">{t('restore.chosen', { stamp: stampText(set.stamp) })}</h4>
      <fieldset>
        <legend>{t('restore.whichVolumes')}</legend>
        {set.archives.map((a) => (
          <label class="check">
            <input type="checkbox" name="restore-volume" value={a.volume} checked={volumes.includes(a.volume)} onChange={(e) => toggle(a.volume, a.kind, (e.currentTarget as HTMLInputElement).checked)} />{' '}
            {a.kind === 'sql' ? t('restore.dumpItem', { volume: a.volume }) : a.volume} ({bytes(archiveSize(a))})
          </label>
        ))}
      </fieldset>
      {targets.length > 0 ? (
        <label class="field">
          {t('restore.fromTarget')}{' '}
          <select name="restore-from" value={from} onChange={(e) => setFrom((e.currentTarget as HTMLSelectElement).value)}>
            {targets.map((x) => (
              <option value={x}>{x}</option>
            ))}
          </select>
        </label>
      ) : null}
      <SafetyBackupChoice on={safety} onChange={setSafety} kind="set" />
      {volumes.length === 0 ? <Notice kind="info">{t('restore.chooseOne')}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {request && volumes.length > 0 ? <ConfirmRestore request={request} disabled={pending} onConfirmed={setConfirmed} /> : null}
    </div>
  );
}
