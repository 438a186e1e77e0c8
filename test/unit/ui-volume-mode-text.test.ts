/** The configure screen's weekday names and the overview's words for a volume's archive mode (issue 16). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modeText, weekdays } from '../../ui/volume-mode-text.js';

describe('archive mode in words', () => {
  it('names the weekdays Monday first, with the API\'s fullOn (0 = Sunday), in German and English', () => {
    assert.deepEqual(
      weekdays('de-CH').map((d) => `${d.value} ${d.name}`),
      ['1 Montag', '2 Dienstag', '3 Mittwoch', '4 Donnerstag', '5 Freitag', '6 Samstag', '0 Sonntag'],
    );
    assert.equal(weekdays('en-GB')[0]!.name, 'Monday');
  });

  it('says full, incremental, and the level of the newest archive', () => {
    assert.deepEqual(modeText({ mode: 'full', lastArchive: { level: 2 } }), { key: 'mode.full' });
    assert.deepEqual(modeText({ mode: 'incremental', lastArchive: null }), { key: 'mode.incremental' });
    assert.deepEqual(modeText({ mode: 'incremental', lastArchive: {} }), { key: 'mode.incremental' });
    assert.deepEqual(modeText({ mode: 'incremental', lastArchive: { level: 0 } }), { key: 'mode.levelFull' });
    assert.deepEqual(modeText({ mode: 'incremental', lastArchive: { level: 3 } }), { key: 'mode.level', n: 3 });
  });
});
