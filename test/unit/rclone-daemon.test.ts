import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitObject } from '../../src/engine/offsite/rclone-daemon.js';
import { remotePath, uploadLimit } from '../../src/engine/offsite/rclone.js';

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

describe('uploadLimit: the daemon only uploads', () => {
  it('keeps the upload half of each rate, in a plain value and in every timetable item', () => {
    assert.equal(uploadLimit('2M'), '2M');
    assert.equal(uploadLimit('10M:1M'), '10M');
    assert.equal(uploadLimit('off'), 'off');
    assert.equal(uploadLimit('08:00,512k:1M 12:00,10M Mon-19:00,off'), '08:00,512k 12:00,10M Mon-19:00,off');
    assert.equal(uploadLimit(' 08:00,1.5M:256k  19:00,off '), '08:00,1.5M 19:00,off');
  });
});
