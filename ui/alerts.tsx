/**
 * What needs the admin's attention, in plain words with what to do: volumes overdue, backups that
 * failed (and were not made good by a later one), paused queues, archives that shrank suddenly,
 * a backup disk running full. The API's own reason is shown beside our words.
 */
import type { JSX } from 'preact';
import { Notice } from './components';
import { bytes, dateTime, stampText } from './format';
import { adviceFor, failedWithItsChild } from './advice';
import { t, type TextKey } from './i18n';
import type { JobView, VolumesAnswer } from './types';

const JOB_KINDS: Record<string, TextKey> = { archive: 'kind.archive', dump: 'kind.dump', verify: 'kind.verify', prune: 'kind.prune', restore: 'kind.restore' };

/** Disk space below this share is worth a warning (a set of the practice's size may not fit). */
const LOW_SPACE_SHARE = 0.1;

/**
 * `loaded`: both the volumes and the jobs (with the worker count) have been read once. Until then
 * nothing is said: "all good" before the answers were in claimed a worker and reachable volumes
 * nobody had checked (and stood beside the error when /api/jobs failed).
 */
export function Alerts(props: { loaded: boolean; volumes: VolumesAnswer | undefined; jobs: JobView[]; paused: string[]; workers?: number | null; timezone?: string }) {
  const { volumes, jobs, paused } = props;
  if (!props.loaded) return null;
  const items: JSX.Element[] = [];
  if (props.workers === 0) items.push(<Notice kind="error" title={t('alert.noWorkerTitle')}>{t('alert.noWorker')}</Notice>);
  const newestStamp = new Map((volumes?.volumes ?? []).map((v) => [v.name, v.lastArchive?.stamp ?? '']));
  // Archives whose failed verification has its own notice below (what it means, what to do).
  const failedVerification = new Set((volumes?.volumes ?? []).filter((v) => v.lastArchive?.verified && !v.lastArchive.verified.ok).map((v) => `${v.name}@${v.lastArchive!.stamp}`));
  for (const v of volumes?.volumes ?? []) {
    if (v.unreachable) {
      items.push(
        <Notice kind="error" title={t('alert.unreachableTitle', { volume: v.name })}>
          {t('alert.unreachable')} <span class="reason">({v.unreachable})</span>
        </Notice>,
      );
    }
    if (v.overdue) {
      items.push(
        <Notice kind="error" title={t('alert.overdueTitle', { volume: v.name })}>
          {t('alert.overdue', { due: dateTime(v.overdue.expectedBy, props.timezone), last: v.overdue.lastSuccess ? dateTime(v.overdue.lastSuccess, props.timezone) : t('alert.never') })}{' '}
          <em>{t('advice.overdue')}</em>
        </Notice>,
      );
    }
    const drop = v.lastArchive?.sizeDrop;
    if (drop) {
      items.push(
        <Notice kind="warn" title={t('alert.sizeDropTitle', { volume: v.name })}>
          {t('alert.sizeDrop', { pct: Math.min(99, Math.round((1 - drop.ratio) * 100)), size: bytes(v.lastArchive!.size), previous: bytes(drop.previousSize) })} <em>{t('advice.sizeDrop')}</em>
        </Notice>,
      );
    }
    if (v.lastArchive?.verified && !v.lastArchive.verified.ok) {
      items.push(
        <Notice kind="error" title={t('alert.verifyFailedTitle', { volume: v.name })}>
          {v.lastArchive.verified.error ?? ''} <em>{t('advice.corrupt')}</em>
        </Notice>,
      );
    }
  }
  // A failure counts until a newer archive of the same volume exists.
  for (const j of jobs) {
    if (j.state !== 'failed' || !JOB_KINDS[j.queue]) continue;
    if (j.queue !== 'restore' && j.volume && j.stamp && (newestStamp.get(j.volume) ?? '') > j.stamp) continue;
    if (j.queue === 'prune' && /archive|verif/i.test(j.failedReason ?? '')) continue; // the archive's own failure says it
    if (failedWithItsChild(j.failedReason)) continue; // a verify whose archive or dump failed: that failure says it
    // The verify job that found the archive bad: the "failed its verification" notice says it, and two notices for one failure were one too many.
    if (j.queue === 'verify' && failedVerification.has(`${j.volume}@${j.stamp}`)) continue;
    const reason = j.failedReason ?? '';
    items.push(
      <Notice kind="error" title={t('alert.failedTitle', { what: t(JOB_KINDS[j.queue]!), volume: j.volume ?? '', when: j.stamp ? stampText(j.stamp) : dateTime(j.finishedAt, props.timezone) })}>
        <em>{t(adviceFor(reason))}</em> <span class="reason">({reason})</span>
      </Notice>,
    );
  }
  for (const q of paused) items.push(<Notice kind="warn" title={t('alert.pausedTitle', { queue: q })}>{t('alert.paused')}</Notice>);
  const disk = volumes?.backupDir;
  if (disk && disk.totalBytes > 0 && disk.freeBytes / disk.totalBytes < LOW_SPACE_SHARE) {
    items.push(<Notice kind="warn" title={t('alert.lowSpaceTitle')}>{t('alert.lowSpace', { free: bytes(disk.freeBytes) })} <em>{t('advice.space')}</em></Notice>);
  }
  if (items.length === 0) return <Notice kind="ok">{t('alert.allGood')}</Notice>;
  return <section aria-label={t('alert.label')} class="alerts">{items.slice(0, 12)}</section>;
}
