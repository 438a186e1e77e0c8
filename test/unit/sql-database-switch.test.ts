/** Statements that switch a SQL file to another database (src/core/sql-database-switch.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseSwitchScan } from '../../src/core/sql-database-switch.js';

const scan = (text: string, piece = text.length || 1) => {
  const s = new DatabaseSwitchScan('elexis');
  for (let o = 0; o < text.length; o += piece) s.see(Buffer.from(text.slice(o, o + piece)));
  s.end();
  return s.foreign;
};

describe('DatabaseSwitchScan', () => {
  it('finds USE, CREATE DATABASE/SCHEMA and DROP DATABASE naming another database, in any chunking', () => {
    for (const line of ['USE `praxis_alt`;', 'use praxis_alt;', 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `praxis_alt` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;', 'create schema if not exists praxis_alt;', '  DROP DATABASE IF EXISTS `praxis_alt`;']) {
      for (const piece of [1, 7, 4096]) {
        assert.deepEqual(scan(`-- MariaDB dump\nSET NAMES utf8mb4;\n${line}\nINSERT INTO t VALUES (1);\n`, piece)?.database, 'praxis_alt', `${line} in pieces of ${piece}`);
      }
    }
    assert.equal(scan('USE `we``ird`')?.database, 'we`ird');
  });

  it('lets statements on the database itself and text that merely mentions USE pass', () => {
    assert.equal(scan('CREATE DATABASE /*!32312 IF NOT EXISTS*/ `elexis`;\nUSE `elexis`;\n'), undefined);
    assert.equal(scan("INSERT INTO t VALUES ('USE other');\n-- USE other\nSELECT 1; USE other;\nUSER_TABLE\n"), undefined);
  });
});
