/**
 * What to do about a failed job, chosen by the API's reason (English, written for the logs): the
 * text key of the advice the overview shows beside it. Order matters: a verification that failed
 * because the disk is full is about space first.
 */
// No import: the unit test loads this file outside the browser bundle. The keys are in texts-de.ts.
export type AdviceKey = 'advice.space' | 'advice.corrupt' | 'advice.missing' | 'advice.database' | 'advice.generic';

const RULES: [RegExp, AdviceKey][] = [
  [/ENOSPC|no space|not enough free space/i, 'advice.space'],
  [/failed verification|checksum|corrupt|sha256|unexpected end/i, 'advice.corrupt'],
  [/ENOENT|missing|does not exist|not configured any more|cannot read VOLUMES_DIR/i, 'advice.missing'],
  [/mariadb|database|DB_HOST/i, 'advice.database'],
];

export function adviceFor(reason: string): AdviceKey {
  return RULES.find(([pattern]) => pattern.test(reason))?.[1] ?? 'advice.generic';
}

/**
 * Whether a failed restore's reason says the live data was left as it was. A restore of several
 * volumes whose swap failed for one rolls that one back but keeps the others restored ("… failed
 * and was rolled back: …. Already restored: elexisdb."): that is no "nothing was changed".
 */
export function restoreLeftDataUntouched(reason: string | null | undefined): boolean {
  if (!reason || /Already restored:/.test(reason)) return false;
  return /nothing was changed|not touched|rolled back/i.test(reason);
}

/**
 * BullMQ's reason for a parent that failed with its child (`failParentOnFailure`): "child
 * <prefix>:archive:archive-pacsdata-… failed". The child's own failure is listed with its reason
 * and advice; the parent's would only repeat it as an unexplained second failure.
 */
export function failedWithItsChild(reason: string | null | undefined): boolean {
  return /^child \S+ failed$/.test(reason ?? '');
}
