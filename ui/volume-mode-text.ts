/**
 * The words for a volume's archive mode: the overview's "inkrementell, Stufe 3" and the weekday
 * choices of the configure screen. No import: the unit test loads this file outside the browser
 * bundle. The keys are in texts-de.ts.
 */
export type ModeTextKey = 'mode.full' | 'mode.incremental' | 'mode.level' | 'mode.levelFull';

/** The mode, and in incremental mode the level of the newest archive when there is one. */
export function modeText(v: { mode: 'full' | 'incremental'; lastArchive: { level?: number } | null }): { key: ModeTextKey; n?: number } {
  if (v.mode !== 'incremental') return { key: 'mode.full' };
  const level = v.lastArchive?.level;
  if (level === undefined) return { key: 'mode.incremental' };
  return level === 0 ? { key: 'mode.levelFull' } : { key: 'mode.level', n: level };
}

/**
 * The seven weekdays, Monday first as a Swiss calendar shows them, with the API's fullOn value
 * (0 = Sunday) and the name Intl gives in that locale: 2026-01-04 was a Sunday.
 */
export function weekdays(localeTag: string): { value: number; name: string }[] {
  const format = new Intl.DateTimeFormat(localeTag, { weekday: 'long', timeZone: 'UTC' });
  return [1, 2, 3, 4, 5, 6, 0].map((value) => ({ value, name: format.format(new Date(Date.UTC(2026, 0, 4 + value))) }));
}
