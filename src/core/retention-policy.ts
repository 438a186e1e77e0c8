/**
 * Retention policies as the admin writes them (OFFSITE_RETENTION, LOCAL_RETENTION):
 *   keep:N         the N newest archives of each volume
 *   gfs:D/W/M      grandfather-father-son: the newest archive of each of the last D days, W weeks
 *                  and M months that have one (see ./gfs.ts)
 *   never          delete nothing (object-locked buckets, append-only servers: the remote's job)
 */
export type RetentionPolicy = { kind: 'keep'; keep: number } | { kind: 'gfs'; daily: number; weekly: number; monthly: number } | { kind: 'never' };

export function parseRetentionPolicy(text: string): RetentionPolicy | { problem: string } {
  const t = text.trim().toLowerCase();
  if (t === 'never') return { kind: 'never' };
  const keep = /^keep:(\d{1,5})$/.exec(t);
  if (keep && Number(keep[1]) >= 1) return { kind: 'keep', keep: Number(keep[1]) };
  const gfs = /^gfs:(\d{1,4})\/(\d{1,4})\/(\d{1,4})$/.exec(t);
  if (gfs) {
    const [daily, weekly, monthly] = [gfs[1], gfs[2], gfs[3]].map(Number) as [number, number, number];
    if (daily + weekly + monthly >= 1) return { kind: 'gfs', daily, weekly, monthly };
  }
  return { problem: `expected keep:N (N ≥ 1), gfs:DAYS/WEEKS/MONTHS (e.g. gfs:7/4/12) or never, got "${text.trim()}"` };
}

export function describePolicy(p: RetentionPolicy): string {
  if (p.kind === 'never') return 'never';
  if (p.kind === 'keep') return `keep:${p.keep}`;
  return `gfs:${p.daily}/${p.weekly}/${p.monthly}`;
}
