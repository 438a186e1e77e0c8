/**
 * Our side of the end-to-end bench: what the OOB main screen does, through the REST API, timed from
 * the request to the moment the API says it is done (polled every POLL_MS), with the worker's peak
 * RSS during it. Per volume: the jobs' own timestamps (GET /api/jobs) for archives and verifications;
 * for a restore (one job for all volumes) the worker's log lines of each volume's steps.
 */
import { http, waitForJobsSettled } from '../test/helpers/service.js';
import { syncDisk } from './e2e-gnu.js';
import { API_TOKEN, peakRssMiB, resetPeakRss, rssMiB, type BenchService } from './e2e-service.js';

const POLL_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;

/** One request; its JSON answer (typed by the caller), or an Error when the status is not `expect`. */
async function api<T>(svc: BenchService, method: string, url: string, body?: unknown, expect = 200): Promise<T> {
  const r = await http(svc.url, method, url, body, API_TOKEN);
  if (r.status !== expect) throw new Error(`${method} ${url} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as T;
}

interface JobView {
  id: string;
  volume: string;
  stamp: string;
  state: string;
  startedAt: string | null;
  finishedAt: string | null;
  failedReason: string | null;
}

interface ArchiveView {
  volume: string;
  file: string;
  sha256: string | null;
  verified: { ok: boolean; error?: string } | null;
}

/** Polls `probe` until it returns a value; throws after `timeoutMs`. */
async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 1_800_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

interface JobTimes {
  volume: string;
  seconds: number;
}

/** Seconds from start to finish of each job of a queue for this stamp (its latest job per volume). */
async function jobTimes(svc: BenchService, queue: string, stamp: string, ids?: string[]): Promise<JobTimes[]> {
  const { jobs } = await api<{ jobs: JobView[] }>(svc, 'GET', `/api/jobs?queue=${queue}&limit=1000`);
  const out = new Map<string, JobTimes>();
  // Newest first: the first job seen per volume is the latest.
  for (const j of jobs) {
    if (j.stamp !== stamp || (ids && !ids.includes(j.id)) || out.has(j.volume) || !j.startedAt || !j.finishedAt) continue;
    out.set(j.volume, { volume: j.volume, seconds: (Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000 });
  }
  return [...out.values()];
}

/**
 * Runs `fn` with the worker's peak RSS reset before (to its RSS then, `rssAtStartMiB`: a long-running
 * worker keeps some of what earlier jobs allocated); the peak in MiB afterwards.
 */
async function withPeak<T>(svc: BenchService, fn: () => Promise<T>): Promise<T & { peakRssMiB: number | undefined; rssAtStartMiB: number | undefined }> {
  syncDisk();
  const rssAtStartMiB = resetPeakRss(svc.worker.pid) ? rssMiB(svc.worker.pid) : undefined;
  const r = await fn();
  return { ...r, peakRssMiB: peakRssMiB(svc.worker.pid), rssAtStartMiB };
}

export interface ArchiveRun {
  stamp: string;
  /** Archive file name per volume, as listed. */
  files: Record<string, string>;
  /** POST /api/backups → every archive of the stamp listed with its sha256. */
  listedSeconds: number;
  /** POST /api/backups → every archive's verification done (verified.ok). */
  verifiedSeconds: number;
  archiveJobs: JobTimes[];
  verifyJobs: JobTimes[];
}

export function archiveViaApi(svc: BenchService, volumes: string[]) {
  return withPeak(svc, async (): Promise<ArchiveRun> => {
    const t0 = performance.now();
    const { stamp } = await api<{ stamp: string }>(svc, 'POST', '/api/backups', {}, 202);
    let listedSeconds: number | undefined;
    const files: Record<string, string> = {};
    const verifiedSeconds = await until(async () => {
      const r = await http(svc.url, 'GET', `/api/backups/${stamp}`, undefined, API_TOKEN);
      if (r.status === 404) return undefined; // no archive written yet
      const archives = (r.body as { archives: ArchiveView[] }).archives.filter((a) => volumes.includes(a.volume));
      if (archives.length < volumes.length || archives.some((a) => !a.sha256)) return undefined;
      listedSeconds ??= seconds(t0);
      for (const a of archives) files[a.volume] = a.file;
      const failed = archives.find((a) => a.verified && !a.verified.ok);
      if (failed) throw new Error(`verification of ${failed.volume} failed: ${failed.verified!.error}`);
      return archives.every((a) => a.verified?.ok) ? seconds(t0) : undefined;
    }, `the archives of ${stamp}`);
    await waitForJobsSettled(svc.url, API_TOKEN, 600_000); // the prunes
    return {
      stamp,
      files,
      listedSeconds: listedSeconds!,
      verifiedSeconds,
      archiveJobs: await jobTimes(svc, 'archive', stamp),
      verifyJobs: await jobTimes(svc, 'verify', stamp),
    };
  });
}

export interface VolumeSteps {
  volume: string;
  /** Extracted into staging while verified (one pass). */
  extract: number;
  safetyBackup: number;
  /**
   * Swapped in, plus the removal of its previous data (which runs beside the other volumes'
   * removals once every volume is swapped in, so the volumes' figures overlap there).
   */
  swap: number;
}

export interface RestoreRun {
  /** POST /api/restores/:id/confirm → GET /api/restores/:id says completed. */
  seconds: number;
  volumes: VolumeSteps[];
  safetyBackupStamp: string | null;
}

export function restoreViaApi(svc: BenchService, stamp: string, volumes: string[], safetyBackup: boolean) {
  return withPeak(svc, async (): Promise<RestoreRun> => {
    const req = await api<{ id: string; token: string }>(svc, 'POST', '/api/restores', { stamp, volumes, skipSafetyBackup: !safetyBackup }, 201);
    const logFrom = svc.worker.logs().length;
    const t0 = performance.now();
    await api(svc, 'POST', `/api/restores/${req.id}/confirm`, { token: req.token }, 202);
    const done = await until(async () => {
      const r = await api<{ state: string; failedReason: string | null; summary: { safetyBackupStamp: string | null } }>(svc, 'GET', `/api/restores/${req.id}`);
      if (['failed', 'interrupted', 'expired'].includes(r.state)) throw new Error(`restore ${r.state}: ${r.failedReason}`);
      return r.state === 'completed' ? { seconds: seconds(t0), summary: r.summary } : undefined;
    }, `restore ${req.id}`);
    await waitForJobsSettled(svc.url, API_TOKEN, 600_000);
    return { seconds: done.seconds, volumes: restoreSteps(svc.worker.logs().slice(logFrom), req.id, volumes), safetyBackupStamp: done.summary.safetyBackupStamp };
  });
}

/**
 * Each volume's steps from the worker's log lines of this restore (src/jobs/restore-set.ts): its
 * extraction from "extracting and verifying archive" to "… extracted into staging"; its safety
 * backup and its swap from the previous step's end to "safety backup written" / "volume replaced",
 * and the removal of its previous data as "previous data removed" reports it. The one flush of
 * all volumes' file systems before the first swap counts in the first volume's swap.
 */
function restoreSteps(logs: string, restoreId: string, volumes: string[]): VolumeSteps[] {
  const events: { msg: string; volume?: string; at: number; durationMs?: number }[] = [];
  for (const line of logs.split('\n')) {
    if (!line.includes(restoreId)) continue;
    try {
      const j = JSON.parse(line) as { msg: string; volume?: string; time: string; restoreId?: string; durationMs?: number };
      if (j.restoreId === restoreId) events.push({ msg: j.msg, volume: j.volume, at: Date.parse(j.time), durationMs: j.durationMs });
    } catch {
      // not a log line of ours
    }
  }
  const at = (msg: string, volume: string) => events.find((e) => e.msg === msg && e.volume === volume)?.at;
  const steps = new Map(volumes.map((v) => [v, { volume: v, extract: 0, safetyBackup: 0, swap: 0 }]));
  let last: number | undefined;
  for (const e of events) {
    const s = e.volume ? steps.get(e.volume) : undefined;
    if (s && e.msg === 'archive verified and extracted into staging') s.extract = (e.at - at('extracting and verifying archive', s.volume)!) / 1000;
    if (s && last !== undefined && e.msg === 'safety backup written') s.safetyBackup = (e.at - last) / 1000;
    if (s && last !== undefined && e.msg === 'volume replaced by the backup') s.swap += (e.at - last) / 1000;
    if (s && e.msg === 'previous data removed') s.swap += (e.durationMs ?? 0) / 1000;
    if (['archive verified and extracted into staging', 'safety backup written', 'volume replaced by the backup'].includes(e.msg)) last = e.at;
  }
  const missing = volumes.filter((v) => !steps.get(v)!.extract || !steps.get(v)!.swap);
  if (missing.length) throw new Error(`the worker's log lacks the restore steps of ${missing.join(', ')} (did its messages change? see src/jobs/restore-set.ts)`);
  return [...steps.values()];
}

export interface VerifyRun {
  /** POST /api/backups/:stamp/verify → every verify job completed. */
  seconds: number;
  jobs: JobTimes[];
}

export function verifyViaApi(svc: BenchService, stamp: string) {
  return withPeak(svc, async (): Promise<VerifyRun> => {
    const t0 = performance.now();
    const { jobs } = await api<{ jobs: { jobId: string }[] }>(svc, 'POST', `/api/backups/${stamp}/verify`, undefined, 202);
    const ids = jobs.map((j) => j.jobId);
    const s = await until(async () => {
      const states = await Promise.all(ids.map((id) => api<JobView>(svc, 'GET', `/api/jobs/${encodeURIComponent(id)}`)));
      const failed = states.find((j) => j.state === 'failed');
      if (failed) throw new Error(`a verify job failed: ${failed.failedReason}`);
      return states.every((j) => j.state === 'completed') ? seconds(t0) : undefined;
    }, `the verification of ${stamp}`);
    return { seconds: s, jobs: await jobTimes(svc, 'verify', stamp, ids) };
  });
}

/** Before measuring: no scheduled backup or verification may start in the middle, and the API's paths are warm. */
export async function prepareService(svc: BenchService): Promise<void> {
  await api(svc, 'DELETE', '/api/schedule');
  await api(svc, 'DELETE', '/api/verify-schedule');
  for (let i = 0; i < 5; i++) await api(svc, 'GET', '/api/backups');
}
