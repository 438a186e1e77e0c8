/**
 * The warning a restore request answers with, in the words the OOB documentation uses with admins:
 * what gets deleted, that clients must be stopped, and that Elexis must be restarted afterwards.
 */
export interface RestoreWarning {
  de: string;
  en: string;
}

export function setRestoreWarning(stamp: string, volumes: string[], safetyBackup: boolean): RestoreWarning {
  const list = volumes.join(', ');
  const deSafety = safetyBackup
    ? 'Vorher wird automatisch eine Sicherung der aktuellen Daten erstellt.'
    : 'Es wird KEINE Sicherung der aktuellen Daten erstellt.';
  const enSafety = safetyBackup
    ? 'A backup of the current data is made automatically first.'
    : 'NO backup of the current data will be made.';
  return {
    de:
      `Achtung: Alle aktuellen Daten von ${list} werden gelöscht und durch die Sicherung vom ${stamp} ersetzt. ` +
      `${deSafety} Stoppen Sie vorher sämtliche Elexis- und Webelexis-Clients im Netzwerk. ` +
      'Nach der Wiederherstellung müssen Elexis-OOB und die betroffenen Dienste neu gestartet werden. ' +
      'Die Wiederherstellung kann einige Zeit dauern.',
    en:
      `Warning: all current data of ${list} will be deleted and replaced by the backup of ${stamp}. ` +
      `${enSafety} Stop all Elexis and Webelexis clients in the network first. ` +
      'After the restore, Elexis-OOB and the affected services must be restarted. The restore can take a while.',
  };
}

/**
 * `dump`: the set's own dump (its stamp, and the target it is fetched from) instead of an upload;
 * the warning names where the SQL comes from, so an admin restoring the nightly dump is not told
 * about a file they never uploaded.
 */
export function sqlRestoreWarning(database: string, safetyDump: boolean, dump?: { stamp: string; from?: string | null }): RestoreWarning {
  const deSource = dump
    ? `aus dem Datenbank-Abzug der Sicherung vom ${dump.stamp}${dump.from ? ` (geholt vom Auslagerungsziel ${dump.from})` : ''}`
    : 'aus der hochgeladenen SQL-Datei';
  const enSource = dump
    ? `from the database dump of the backup of ${dump.stamp}${dump.from ? ` (fetched from the target ${dump.from})` : ''}`
    : 'from the uploaded SQL file';
  return {
    de:
      `Achtung: Die Datenbank "${database}" wird gelöscht und ${deSource} neu erstellt. ` +
      `${safetyDump ? 'Vorher wird automatisch ein Abzug (Dump) der aktuellen Datenbank erstellt.' : 'Es wird KEIN Abzug der aktuellen Datenbank erstellt.'} ` +
      'Stoppen Sie vorher sämtliche Elexis- und Webelexis-Clients im Netzwerk und starten Sie Elexis danach neu.',
    en:
      `Warning: the database "${database}" will be dropped and recreated ${enSource}. ` +
      `${safetyDump ? 'A dump of the current database is made automatically first.' : 'NO dump of the current database will be made.'} ` +
      'Stop all Elexis and Webelexis clients in the network first, and restart Elexis afterwards.',
  };
}

/** The folder a single-file restore "beside" writes into, in the volume root. */
export function besideFolderName(stamp: string): string {
  return `Wiederhergestellt-${stamp}`;
}

/**
 * Single-file restore: which paths, from which backup, and where they go. `paths` are for display.
 * Beside overwrites nothing; in place replaces exactly the chosen paths (with a safety backup first
 * unless skipped).
 */
export function filesRestoreWarning(
  stamp: string,
  volume: string,
  paths: string[],
  into: 'beside' | 'in-place',
  safetyBackup: boolean,
): RestoreWarning {
  const shown = paths.slice(0, 10).map((p) => `"${p}"`).join(', ') + (paths.length > 10 ? ` (+${paths.length - 10})` : '');
  const folder = besideFolderName(stamp);
  // One path is the usual case (one document): "wird", not "werden" (found by a tester).
  const one = paths.length === 1;
  if (into === 'beside') {
    return {
      de:
        `${shown} aus der Sicherung vom ${stamp} ${one ? 'wird' : 'werden'} im Volume ${volume} in den neuen Ordner "${folder}" wiederhergestellt ` +
        '(ein Ordner mit allem darin, am selben relativen Ort). Bestehende Dateien werden nicht verändert oder überschrieben.',
      en:
        `${shown} from the backup of ${stamp} will be restored into the new folder "${folder}" of the volume ${volume} ` +
        '(a folder with everything in it, at the same relative place). No existing file is changed or overwritten.',
    };
  }
  const deSafety = safetyBackup ? 'Vorher wird automatisch eine Sicherung der aktuellen Daten des Volumes erstellt.' : 'Es wird KEINE Sicherung der aktuellen Daten erstellt.';
  const enSafety = safetyBackup ? "A backup of the volume's current data is made automatically first." : 'NO backup of the current data will be made.';
  return {
    de:
      `Achtung: ${shown} im Volume ${volume} ${one ? 'wird' : 'werden'} durch den Stand der Sicherung vom ${stamp} ersetzt; ` +
      `was dort jetzt liegt, wird gelöscht. Alles andere im Volume bleibt unverändert. ${deSafety} ` +
      'Schliessen Sie die betroffenen Dokumente in Elexis vorher.',
    en:
      `Warning: ${shown} in the volume ${volume} will be replaced by ${one ? 'its' : 'their'} state in the backup of ${stamp}; ` +
      `what is there now is deleted. Nothing else in the volume changes. ${enSafety} Close the affected documents in Elexis first.`,
  };
}
