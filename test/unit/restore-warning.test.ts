/** The warning of a SQL restore names where the SQL comes from: an upload, the set's own dump, or its copy on a target. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sqlRestoreWarning } from '../../src/core/restore-warning.js';

describe('SQL restore warning', () => {
  it('an upload is "the uploaded SQL file"', () => {
    const w = sqlRestoreWarning('elexis', true);
    assert.match(w.de, /aus der hochgeladenen SQL-Datei neu erstellt/);
    assert.match(w.en, /from the uploaded SQL file/);
  });
  it("the set's own dump names the set, not an upload (found by a tester)", () => {
    const w = sqlRestoreWarning('elexis', true, { stamp: '2026-12-03-1746' });
    assert.match(w.de, /aus dem Datenbank-Abzug der Sicherung vom 2026-12-03-1746 neu erstellt/);
    assert.match(w.en, /from the database dump of the backup of 2026-12-03-1746\./);
    assert.doesNotMatch(w.de + w.en, /hochgeladen|uploaded/);
  });
  it('a dump fetched from a target names the target', () => {
    const w = sqlRestoreWarning('elexis', false, { stamp: '2026-12-03-1746', from: 'nas:/oob' });
    assert.match(w.de, /\(geholt vom Auslagerungsziel nas:\/oob\) neu erstellt\. Es wird KEIN Abzug/);
    assert.match(w.en, /\(fetched from the target nas:\/oob\)\. NO dump/);
  });
});
