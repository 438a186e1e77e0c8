/**
 * Safety backups made by a version before safety backups were marked (`safetyFor` in the manifest,
 * engine/manifest-notes.ts) look like any run's archives, so after an upgrade they would still
 * count as generations and push good sets out at the next prune (found testing an upgrade). The
 * restore records in Redis (kept 30 days, stores/restore-requests.ts) name them: a completed
 * restore's summary has its safety backup's stamp and volumes (or, of a SQL restore, its dump).
 * Those archives of `volume` get the note now; an archive already noted is left as it is.
 */
import type { AppContext } from '../runtime/context.js';
import { noteSafetyBackup } from '../engine/manifest-notes.js';

interface SummaryFields {
  safetyBackupStamp?: unknown;
  volumes?: unknown;
  volume?: unknown;
  safetyDump?: unknown;
}

/** The safety backup files (or, for a set, stamp and volumes) one restore's summary names. */
function named(summary: SummaryFields): { stamp?: string; volumes: string[]; file?: string } {
  if (typeof summary.safetyDump === 'string') return { volumes: [], file: summary.safetyDump };
  if (typeof summary.safetyBackupStamp !== 'string') return { volumes: [] };
  const volumes = Array.isArray(summary.volumes)
    ? summary.volumes.map((v: { volume?: unknown }) => v?.volume).filter((v): v is string => typeof v === 'string')
    : typeof summary.volume === 'string' ? [summary.volume] : [];
  return { stamp: summary.safetyBackupStamp, volumes };
}

export async function noteEarlierSafetyBackups(ctx: AppContext, volume: string, log: AppContext['logger']): Promise<string[]> {
  const outcomes = await ctx.restores.completedSummaries();
  if (outcomes.length === 0) return [];
  const archives = (await ctx.store.listArchives()).filter((a) => a.volume === volume && a.safetyFor === null);
  const noted: string[] = [];
  for (const { id, summary } of outcomes) {
    const n = named(summary as SummaryFields);
    for (const a of archives) {
      const isIt = n.file !== undefined ? a.file === n.file : a.stamp === n.stamp && n.volumes.includes(a.volume);
      if (!isIt || noted.includes(a.file)) continue;
      await noteSafetyBackup(ctx.config.backupDir, a.file, id);
      noted.push(a.file);
    }
  }
  if (noted.length) log.warn({ files: noted }, 'safety backups of an earlier version marked as such (from the restore records): they count as no generation');
  return noted;
}
