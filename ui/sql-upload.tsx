/**
 * Datenbank aus einer SQL-Datei: the file (`.sql` or `.sql.gz`, as mysqldump or mariadb-dump made
 * it) is sent as the raw request body with a progress bar; the API checks it and answers with a
 * restore request, which is confirmed like a set restore.
 */
import { useState } from 'preact/hooks';
import { upload } from './api';
import { Notice, ProgressBar, SafetyBackupChoice } from './components';
import { t } from './i18n';
import { ConfirmRestore, RestoreProgress } from './restore-progress';
import type { RestoreRequestAnswer } from './types';

/** `onEnded`: the restore ended (its safety dump is a new set for the list above). */
export function SqlUpload(props: { onEnded?: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [safety, setSafety] = useState(true);
  const [sent, setSent] = useState<{ done: number; total: number } | null>(null);
  const [request, setRequest] = useState<RestoreRequestAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmed, setConfirmed] = useState<string | null>(null);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setRequest(null);
    setSent({ done: 0, total: file.size });
    try {
      const r = await upload<RestoreRequestAnswer>(`/api/restores/sql${safety ? '' : '?skipSafetyBackup=true'}`, file, (done, total) => setSent({ done, total }));
      setSent({ done: file.size, total: file.size });
      setRequest(r);
    } catch (err) {
      setSent(null);
      setError((err as Error).message);
    }
  };
  if (confirmed) return <RestoreProgress id={confirmed} kind="sql" onEnded={props.onEnded} />;
  return (
    <form class="card" onSubmit={send} aria-labelledby="sql-h">
      <h3 id="sql-h">{t('sql.title')}</h3>
      <p class="hint">{t('sql.intro')}</p>
      <label for="sql-file">{t('sql.file')}</label>
      <input id="sql-file" type="file" accept=".sql,.gz,application/sql,application/gzip" onChange={(e) => (setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null), setRequest(null), setSent(null))} />
      <SafetyBackupChoice on={safety} onChange={(on) => (setSafety(on), setRequest(null), setSent(null))} kind="sql" />
      <button type="submit" class="primary" disabled={!file || (sent !== null && request === null && error === null)}>
        {t('sql.upload')}
      </button>
      {sent ? <ProgressBar label={t('sql.uploading', { name: file?.name ?? '' })} done={sent.done} total={sent.total} finished={request !== null} /> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {request ? <ConfirmRestore request={request} onConfirmed={setConfirmed} /> : null}
    </form>
  );
}
