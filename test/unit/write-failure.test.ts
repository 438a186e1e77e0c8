import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { ArchiveError, HostileArchiveError } from '../../src/engine/archive-errors.js';
import { isWriteFailure, writeFailureHint, WriterThreadError } from '../../src/engine/extract/write-failure.js';

const errnoError = (): Error => {
  try {
    fs.mkdirSync('/proc/self/no-such-dir/x');
  } catch (err) {
    return err as Error;
  }
  throw new Error('mkdir under /proc succeeded');
};

describe('isWriteFailure: the volume or the archive', () => {
  it('a system call that failed, also wrapped, and a writer thread\'s failure are the volume\'s', () => {
    assert.equal(isWriteFailure(errnoError()), true);
    assert.equal(isWriteFailure(new Error('cannot extract "./a": ENOENT', { cause: errnoError() })), true);
    assert.equal(isWriteFailure(new WriterThreadError('cannot write "./image.dcm": ENOSPC: no space left on device, write')), true);
  });
  it('a damaged or hostile archive, or anything else, is not', () => {
    assert.equal(isWriteFailure(new ArchiveError('corrupt', 'bad header')), false);
    assert.equal(isWriteFailure(new ArchiveError('truncated', 'short read', { cause: errnoError() })), false);
    assert.equal(isWriteFailure(new HostileArchiveError('../x', 'leaves the directory')), false);
    assert.equal(isWriteFailure(new Error('checksum mismatch')), false);
    assert.equal(isWriteFailure('ENOSPC'), false);
  });
  it('a full file system gets a hint', () => {
    assert.match(writeFailureHint(new WriterThreadError('cannot write "./a": ENOSPC: no space left on device, write')), /file system is full/);
    assert.equal(writeFailureHint(errnoError()), '');
  });
});
