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

export function sqlRestoreWarning(database: string, safetyDump: boolean): RestoreWarning {
  return {
    de:
      `Achtung: Die Datenbank "${database}" wird gelöscht und aus der hochgeladenen SQL-Datei neu erstellt. ` +
      `${safetyDump ? 'Vorher wird automatisch ein Abzug (Dump) der aktuellen Datenbank erstellt.' : 'Es wird KEIN Abzug der aktuellen Datenbank erstellt.'} ` +
      'Stoppen Sie vorher sämtliche Elexis- und Webelexis-Clients im Netzwerk und starten Sie Elexis danach neu.',
    en:
      `Warning: the database "${database}" will be dropped and recreated from the uploaded SQL file. ` +
      `${safetyDump ? 'A dump of the current database is made automatically first.' : 'NO dump of the current database will be made.'} ` +
      'Stop all Elexis and Webelexis clients in the network first, and restart Elexis afterwards.',
  };
}
