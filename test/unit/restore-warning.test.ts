/** The warning of a SQL restore names where the SQL comes from: an upload, the set's own dump, or its copy on a target. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filesRestoreWarning, sqlRestoreWarning } from '../../src/core/restore-warning.js';

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

describe('single-file restore warning', () => {
  it('one document: "wird" (singular), several: "werden"', () => {
    assert.match(filesRestoreWarning('2026-12-03-1746', 'lucindadata', ['dokumente/brief.txt'], 'beside', false).de, /"dokumente\/brief.txt" aus der Sicherung vom 2026-12-03-1746 wird im Volume/);
    assert.match(filesRestoreWarning('2026-12-03-1746', 'lucindadata', ['a', 'b'], 'beside', false).de, /"a", "b" aus der Sicherung vom 2026-12-03-1746 werden im Volume/);
    const inPlace = filesRestoreWarning('2026-12-03-1746', 'lucindadata', ['dokumente/brief.txt'], 'in-place', true);
    assert.match(inPlace.de, /im Volume lucindadata wird durch den Stand/);
    assert.match(inPlace.en, /will be replaced by its state/);
    assert.match(filesRestoreWarning('2026-12-03-1746', 'lucindadata', ['a', 'b'], 'in-place', true).de, /werden durch den Stand/);
  });
});
