import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fill } from '../../ui/fill.js';

describe('the screen texts: placeholders and counted words', () => {
  it('fills values and picks the word for the count ("1 Datei", not "1 Dateien")', () => {
    const text = '{volume}: {files} {files|Datei|Dateien} zurückgeschrieben.';
    assert.equal(fill(text, { volume: 'pacs', files: 1 }), 'pacs: 1 Datei zurückgeschrieben.');
    assert.equal(fill(text, { volume: 'pacs', files: 0 }), 'pacs: 0 Dateien zurückgeschrieben.');
    assert.equal(fill(text, { volume: 'pacs', files: 20000 }), 'pacs: 20000 Dateien zurückgeschrieben.');
  });
  it('leaves a placeholder without its value as it is', () => {
    assert.equal(fill('{n} {n|Warnung|Warnungen} in {where}', { n: 2 }), '2 Warnungen in {where}');
  });
});
