/**
 * Übersicht: per volume its archive mode and last backup (when, size, verified, warnings, size drop), what needs
 * attention, the next runs, the free space of the backup disk, running jobs with progress, and
 * "Jetzt sichern". Polls faster while something runs.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { Alerts } from './alerts';
import { ProgressBar, type Progress } from './components';
import { bytes, dateTime, stampText } from './format';
import { t, type TextKey } from './i18n';
import { usePoll, useRates } from './poll';
import { RunNow } from './run-now';
import type { CronView, JobsAnswer, JobView, VolumesAnswer, VolumeState } from './types';
import { modeText } from './volume-mode-text';

const BUSY = new Set(['active', 'waiting', 'waiting-children', 'prioritized']);
const RUNNING_KIND: Record<string, TextKey> = { archive: 'kind.archive', dump: 'kind.dump', verify: 'kind.verify', prune: 'kind.prune', restore: 'kind.restore' };

export function Overview() {
  // Fast while something runs (progress bars), slow when idle: a page left open all night costs
  // a few small requests a minute.
  const [busy, setBusy] = useState(false);
  const volumes = usePoll(() => api<VolumesAnswer>('GET', '/api/volumes'), busy ? 5000 : 20_000);
  const schedule = usePoll(() => api<CronView>('GET', '/api/schedule'), 60_000);
  const jobs = usePoll(() => api<JobsAnswer>('GET', '/api/jobs?limit=30'), busy ? 1500 : 10_000);
  const rate = useRates();
  const tz = schedule.data?.timezone;
  const list = jobs.data?.jobs ?? [];
  const running = list.filter((j) => BUSY.has(j.state) && RUNNING_KIND[j.queue]);
  useEffect(() => setBusy(list.some((j) => RUNNING_KIND[j.queue] !== undefined && (BUSY.has(j.state) || j.state === 'delayed'))), [jobs.data]);
  const error = volumes.error ?? jobs.error ?? schedule.error;

  return (
    <div class="screen">
      <h2>{t('nav.overview')}</h2>
      {error ? <p class="notice notice-error" role="alert">{t('app.apiError', { message: error.message })}</p> : null}
      <Alerts loaded={volumes.data !== undefined && jobs.data !== undefined} volumes={volumes.data} jobs={list} paused={jobs.data?.paused ?? []} workers={jobs.data?.workers} timezone={tz} />
      <div class="columns">
        <section class="card wide" aria-labelledby="volumes-h">
          <h3 id="volumes-h">{t('overview.volumes')}</h3>
          <VolumeTable volumes={volumes.data?.volumes} />
        </section>
        <section class="card" aria-labelledby="next-h">
          <h3 id="next-h">{t('overview.nextRuns')}</h3>
          {schedule.data && !schedule.data.enabled ? <p>{t('overview.scheduleOff')}</p> : null}
          <ol class="plain">
            {(schedule.data?.nextRuns ?? []).map((r) => (
              <li>{dateTime(r, tz)}</li>
            ))}
          </ol>
          <h3>{t('overview.freeSpace')}</h3>
          <p data-testid="free-space">
            {volumes.data?.backupDir ? t('overview.freeOf', { free: bytes(volumes.data.backupDir.freeBytes), total: bytes(volumes.data.backupDir.totalBytes) }) : '–'}
          </p>
        </section>
      </div>
      <section class="card" aria-labelledby="running-h">
        <h3 id="running-h">{t('overview.running')}</h3>
        {running.length === 0 ? <p>{t('overview.nothingRunning')}</p> : running.map((j) => <RunningJob job={j} rate={rate} />)}
      </section>
      <RunNow volumes={volumes.data?.volumes ?? []} jobs={list} onStarted={() => (setBusy(true), jobs.reload(), volumes.reload())} />
    </div>
  );
}

function RunningJob(props: { job: JobView; rate: (id: string, done: number) => number | undefined }) {
  const { job } = props;
  const p = (job.progress ?? {}) as Progress & { phase?: string };
  const label = `${t(RUNNING_KIND[job.queue]!)} ${job.volume ?? ''}${p.phase ? ` (${p.phase})` : ''}`.trim();
  const done = p.bytesDone ?? 0;
  return <ProgressBar label={label} done={done} total={p.bytesTotal ?? 0} rate={job.state === 'active' ? props.rate(`${job.queue}:${job.id}`, done) : undefined} />;
}

/** "vollständig", or "inkrementell, Stufe 3" with the level of the newest archive. */
function modeWords(v: VolumeState): string {
  const m = modeText(v);
  return t(m.key, m.n === undefined ? {} : { n: m.n });
}

function VolumeTable(props: { volumes: VolumeState[] | undefined }) {
  if (!props.volumes) return <p aria-busy="true">{t('app.loading')}</p>;
  if (props.volumes.length === 0) return <p>{t('overview.noVolumes')}</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">{t('col.volume')}</th>
          <th scope="col">{t('col.lastBackup')}</th>
          <th scope="col" class="num">{t('col.size')}</th>
          <th scope="col">{t('col.verified')}</th>
          <th scope="col">{t('col.warnings')}</th>
        </tr>
      </thead>
      <tbody>
        {props.volumes.map((v) => {
          const a = v.lastArchive;
          return (
            <tr data-volume={v.name}>
              <th scope="row">
                {v.kind === 'sql' ? `${v.name} (${t('kind.dump')})` : v.name}
                {v.kind === 'volume' ? <span class="hint mode-of" data-testid={`mode-${v.name}`}>{modeWords(v)}</span> : null}
              </th>
              <td>{a ? stampText(a.stamp) : <span class="bad">{t('overview.never')}</span>}</td>
              <td class="num">
                {a ? bytes(a.size) : '–'}
                {a?.sizeDrop ? <span class="badge bad" title={t('alert.sizeDropTitle', { volume: v.name })}> {t('overview.sizeDrop')}</span> : null}
              </td>
              <td>{!a ? '–' : a.verified === null ? t('overview.notYet') : a.verified.ok ? <span class="good">{t('overview.verifiedOk')}</span> : <span class="bad">{t('overview.verifiedBad')}</span>}</td>
              <td>{a && a.warnings > 0 ? <span title={a.warningMessages.slice(0, 5).join('\n')}>{t('overview.warnings', { n: a.warnings })}</span> : a ? t('overview.noWarnings') : '–'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
