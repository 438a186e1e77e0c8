import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitObject } from '../../src/engine/offsite/rclone-daemon.js';
import { remotePath } from '../../src/engine/offsite/rclone.js';

describe('splitObject: an object path as the rc API wants it (file system, name)', () => {
  it('undoes remotePath for every form of target', () => {
    for (const [target, fs] of [
      ['s3:bucket/dir', 's3:bucket/dir'],
      ['s3:bucket/dir/', 's3:bucket/dir'],
      ['nas:/backup/oob', 'nas:/backup/oob'],
      ['nas:/', 'nas:/'],
      ['dav:', 'dav:'],
      ['dav:sub', 'dav:sub'],
      ['my remote.1:a b/c', 'my remote.1:a b/c'],
    ] as const) {
      assert.deepEqual(splitObject(remotePath(target, 'x_2026-11-21-0315.tar.gz.age')), [fs, 'x_2026-11-21-0315.tar.gz.age'], target);
    }
  });
});
