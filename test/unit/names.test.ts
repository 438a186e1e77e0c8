import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { archiveFileName, formatStamp, isValidStamp, isValidVolumeName, parseArchiveName, stampToDate } from '../../src/core/names.js';

describe('archive names', () => {
  const cases: [string, ReturnType<typeof parseArchiveName>][] = [
    ['elexisdb_2026-11-21-0315.tar.gz', { volume: 'elexisdb', stamp: '2026-11-21-0315', file: 'elexisdb_2026-11-21-0315.tar.gz', kind: 'volume', incremental: false }],
    ['pacs-data_2024-01-01-0000.tar.gz', { volume: 'pacs-data', stamp: '2024-01-01-0000', file: 'pacs-data_2024-01-01-0000.tar.gz', kind: 'volume', incremental: false }],
    ['elexisdb-sql_2026-11-21-0315.sql.gz', { volume: 'elexisdb-sql', stamp: '2026-11-21-0315', file: 'elexisdb-sql_2026-11-21-0315.sql.gz', kind: 'sql', incremental: false }],
    ['pacsdata_2026-11-22-0315.inc.tar.gz', { volume: 'pacsdata', stamp: '2026-11-22-0315', file: 'pacsdata_2026-11-22-0315.inc.tar.gz', kind: 'volume', incremental: true }],
    ['pacsdata_2026-11-22-0315.inc.sql.gz', undefined],
    ['pacsdata_2026-11-22-0315.inc.tar.gz.snar', undefined],
    ['elexisdb_2026-11-21-0315.sql', undefined],
    ['elexisdb_2026-11-21-0315.tar', undefined],
    ['elexisdb_2026-11-21-0315.tar.gz.partial', undefined],
    ['elexisdb_2026-11-21-0315.tar.gz.sha256', undefined],
    ['Elexisdb_2026-11-21-0315.tar.gz', undefined],
    ['elexisdb_2026-13-21-0315.tar.gz', undefined],
    ['elexisdb_2026-11-21-2460.tar.gz', undefined],
    ['elexisdb_2026-11-21-315.tar.gz', undefined],
    ['notes.txt', undefined],
    ['_2026-11-21-0315.tar.gz', undefined],
  ];
  for (const [file, expected] of cases) {
    it(`parses ${file}`, () => assert.deepEqual(parseArchiveName(file), expected));
  }

  it('builds the name earlier OOB versions used', () => {
    assert.equal(archiveFileName('elexisdb', '2026-11-21-0315'), 'elexisdb_2026-11-21-0315.tar.gz');
    assert.equal(archiveFileName('pacsdata', '2026-11-21-0315', true), 'pacsdata_2026-11-21-0315.inc.tar.gz');
  });

  it('validates volume names and stamps', () => {
    assert.ok(isValidVolumeName('lucindadata'));
    assert.ok(!isValidVolumeName('../etc'));
    assert.ok(!isValidVolumeName('-x'));
    assert.ok(!isValidVolumeName('.oob-restore-1'));
    assert.ok(isValidStamp('2026-11-21-0315'));
    assert.ok(!isValidStamp('2026-11-21-03:15'));
  });
});

describe('stamps in a time zone', () => {
  it('formats the local minute in Europe/Zurich, winter and summer', () => {
    assert.equal(formatStamp(new Date('2026-11-21T02:15:59.999Z'), 'Europe/Zurich'), '2026-11-21-0315');
    assert.equal(formatStamp(new Date('2026-07-01T01:15:00Z'), 'Europe/Zurich'), '2026-07-01-0315');
    assert.equal(formatStamp(new Date('2026-12-31T23:30:00Z'), 'Europe/Zurich'), '2027-01-01-0030');
  });

  it('maps a stamp back to its instant, across DST', () => {
    assert.equal(stampToDate('2026-11-21-0315', 'Europe/Zurich').toISOString(), '2026-11-21T02:15:00.000Z');
    assert.equal(stampToDate('2026-07-01-0315', 'Europe/Zurich').toISOString(), '2026-07-01T01:15:00.000Z');
    assert.equal(stampToDate('2026-03-29-0315', 'Europe/Zurich').toISOString(), '2026-03-29T01:15:00.000Z');
    assert.equal(stampToDate('2026-10-25-0315', 'Europe/Zurich').toISOString(), '2026-10-25T02:15:00.000Z');
    assert.equal(stampToDate('2026-11-21-0315', 'UTC').toISOString(), '2026-11-21T03:15:00.000Z');
  });

  it('round-trips every minute of a DST-change day that exists once', () => {
    for (let t = Date.parse('2026-03-28T22:00:00Z'); t < Date.parse('2026-03-29T22:00:00Z'); t += 60_000) {
      const stamp = formatStamp(new Date(t), 'Europe/Zurich');
      assert.equal(stampToDate(stamp, 'Europe/Zurich').getTime(), t, stamp);
    }
  });
});

describe('stampInstants: every instant a stamp names', () => {
  it('two in the hour that the end of summer time repeats, earliest first; one otherwise and in the skipped hour', async () => {
    const { stampInstants } = await import('../../src/core/names.js');
    const iso = (stamp: string) => stampInstants(stamp, 'Europe/Zurich').map((d) => d.toISOString());
    assert.deepEqual(iso('2026-10-25-0245'), ['2026-10-25T00:45:00.000Z', '2026-10-25T01:45:00.000Z']);
    assert.deepEqual(iso('2026-10-25-0159'), ['2026-10-24T23:59:00.000Z']);
    assert.deepEqual(iso('2026-10-25-0300'), ['2026-10-25T02:00:00.000Z']);
    assert.deepEqual(iso('2026-12-03-0315'), ['2026-12-03T02:15:00.000Z']);
    // 02:30 of the last Sunday in March does not exist in Zurich: stampToDate's one reading.
    assert.deepEqual(iso('2026-03-29-0230'), [stampToDate('2026-03-29-0230', 'Europe/Zurich').toISOString()]);
    assert.deepEqual(stampInstants('2026-10-25-0245', 'UTC').map((d) => d.toISOString()), ['2026-10-25T02:45:00.000Z']);
  });
});
