import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESTORE_STALLED, restoreFailureText } from '../../src/core/restore-stall.js';

describe('restoreFailureText', () => {
  it("explains BullMQ's stall message: what became of the volumes, and what to do", () => {
    const text = restoreFailureText('job stalled more than allowable limit');
    assert.equal(text, RESTORE_STALLED);
    assert.match(text!, /worker running this restore stopped/);
    assert.match(text!, /never started twice/);
    assert.match(text!, /had not changed anything/);
  });
  it('keeps every other reason as it is, and no reason as null', () => {
    assert.equal(restoreFailureText('archive x failed verification: sha256 mismatch'), 'archive x failed verification: sha256 mismatch');
    assert.equal(restoreFailureText(''), null);
    assert.equal(restoreFailureText(undefined), null);
    assert.equal(restoreFailureText(null), null);
  });
});
