import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chosenPathsProblem } from '../../src/core/chosen-paths.js';

describe('chosenPathsProblem', () => {
  it('lets normalized paths inside the volume pass, names of any bytes included', () => {
    assert.equal(chosenPathsProblem(['dokumente/brief.txt', 'Bericht_M\xfcller.txt', 'a/b']), undefined);
    assert.equal(chosenPathsProblem(['ab', 'a']), undefined, 'a name that only starts like another is not inside it');
  });
  it('refuses no paths, paths that leave the volume or are not normalized, and a path inside another chosen one', () => {
    assert.equal(chosenPathsProblem([]), 'the request names no paths');
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', 'a/', './a', 'a\0b']) assert.match(chosenPathsProblem([bad]) ?? '', /is not a normalized path inside the volume$/, JSON.stringify(bad));
    assert.match(chosenPathsProblem(['a', 'a/b']) ?? '', /^the request names "a\/b" and a folder above it$/);
  });
});
