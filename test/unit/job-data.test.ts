import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runJobDataProblem } from '../../src/jobs/job-data.js';

describe('job data that names files', () => {
  it('accepts what a run queues: full, incremental and dump names of that volume and stamp', () => {
    assert.equal(runJobDataProblem({ volume: 'pacsdata', stamp: '2024-01-02-0315' }), undefined);
    assert.equal(runJobDataProblem({ volume: 'pacsdata', stamp: '2024-01-02-0315', file: 'pacsdata_2024-01-02-0315.tar.gz', kind: 'volume' }), undefined);
    assert.equal(runJobDataProblem({ volume: 'pacsdata', stamp: '2024-01-02-0315', file: 'pacsdata_2024-01-02-0315.inc.tar.gz', kind: 'volume' }), undefined);
    assert.equal(runJobDataProblem({ volume: 'elexisdb-sql', stamp: '2024-01-02-0315', file: 'elexisdb-sql_2024-01-02-0315.sql.gz', kind: 'sql' }), undefined);
  });
  it('refuses paths, other volumes and stamps, and wrong kinds', () => {
    const cases: [object, RegExp][] = [
      [{ volume: '../pacsdata', stamp: '2024-01-02-0315' }, /^volume/],
      [{ volume: 'constructor', stamp: '2024-01-02-0315/../../x' }, /^stamp/],
      [{ volume: 'pacsdata', stamp: '2024-13-02-0315' }, /^stamp/],
      [{ volume: 'pacsdata', stamp: '2024-01-02-0315', file: '../outside.tar.gz' }, /^file/],
      [{ volume: 'pacsdata', stamp: '2024-01-02-0315', file: 'pacsdata_2024-01-01-0315.tar.gz' }, /^file/],
      [{ volume: 'pacsdata', stamp: '2024-01-02-0315', file: 'elexisdb_2024-01-02-0315.tar.gz' }, /^file/],
      [{ volume: 'pacsdata', stamp: '2024-01-02-0315', file: 'pacsdata_2024-01-02-0315.tar.gz', kind: 'sql' }, /^file/],
      [{ volume: 'pacsdata', stamp: '2024-01-02-0315', kind: 'tar' }, /^kind/],
      [{ volume: 7, stamp: '2024-01-02-0315' }, /^volume/],
    ];
    for (const [data, want] of cases) assert.match(runJobDataProblem(data as never) ?? 'accepted', want, JSON.stringify(data));
  });
});
