/** The words beside a progress bar: with a total, without one (an incremental archive), done. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressText } from '../../ui/progress-text.js';
import { readFileSync } from 'node:fs';

describe('progress in words', () => {
  it('x of y with a total; so far, not "waiting", once bytes flow without one; done', () => {
    assert.deepEqual(progressText(50, 200, false), { key: 'progress.of', value: 0.25 });
    assert.deepEqual(progressText(300, 200, false), { key: 'progress.of', value: 1 });
    assert.deepEqual(progressText(0, 0, false), { key: 'progress.waiting', value: undefined });
    assert.deepEqual(progressText(4096, 0, false), { key: 'progress.sofar', value: undefined }, 'an incremental archive at work');
    assert.deepEqual(progressText(4096, 0, true), { key: 'progress.done', value: 1 });
  });

  it('has the words in German and English (the texts type-check against each other in the UI build)', () => {
    for (const lang of ['de', 'en']) {
      const texts = readFileSync(new URL(`../../ui/texts-${lang}.ts`, import.meta.url), 'utf8');
      for (const key of ['progress.done', 'progress.of', 'progress.sofar', 'progress.waiting']) assert.ok(texts.includes(`'${key}': '`), `${lang}: ${key}`);
      assert.match(texts, /'progress\.sofar': '\{done\} [a-z ]+'/);
    }
  });
});
