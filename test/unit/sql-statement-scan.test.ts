/** SQL text read as the mariadb client splits it into statements (src/core/sql-statement-scan.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withoutData, withoutValues } from '../../src/db/load.js';
import { SqlStatementScan } from '../../src/core/sql-statement-scan.js';

const scanned = (text: string, piece = text.length || 1, database: string | undefined = 'elexis') => {
  const s = new SqlStatementScan(database);
  for (let o = 0; o < text.length; o += piece) s.see(Buffer.from(text.slice(o, o + piece)));
  s.end();
  return s;
};
const scan = (text: string, piece?: number) => scanned(text, piece).foreign;

describe('SqlStatementScan: statements on another database', () => {
  it('finds USE, CREATE/DROP/ALTER DATABASE (or SCHEMA) naming another database, in any chunking', () => {
    for (const line of [
      'USE `praxis_alt`;',
      'use praxis_alt',
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `praxis_alt` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
      'create schema if not exists praxis_alt;',
      '  DROP DATABASE IF EXISTS `praxis_alt`;',
      'ALTER DATABASE `praxis_alt` CHARACTER SET latin1 COLLATE latin1_german2_ci ;',
    ]) {
      for (const piece of [1, 7, 4096]) {
        assert.deepEqual(scan(`-- MariaDB dump\nSET NAMES utf8mb4;\n${line}\nINSERT INTO t VALUES (1);\n`, piece)?.database, 'praxis_alt', `${line} in pieces of ${piece}`);
      }
    }
    assert.equal(scan('USE `we``ird`;')?.database, 'we`ird');
    // Inside versioned comments, which the server runs as SQL (an audit's hand-made file dropped a database so).
    assert.equal(scan('/*!40000 DROP DATABASE victim */\n;\n')?.database, 'victim');
    assert.equal(scan('/*!40000 USE victim */;\nCREATE TABLE planted (id INT);\n')?.database, 'victim');
    assert.equal(scan('/*M!100101 CREATE DATABASE `victim` */;\n')?.database, 'victim');
    assert.equal(scan('/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n/*M!999999\\- enable the sandbox mode */\n/*!40000 USE elexis */;\n'), undefined);
    // Two statements on one line: the client sends each (found by an audit: only line starts were looked at).
    assert.equal(scan('SELECT 1; USE other;\n')?.database, 'other');
    assert.equal(scan("INSERT INTO t VALUES ('a;'); /* x */ USE `other`;\n")?.database, 'other');
    // A delimiter at a line's end inside a quoted name ends nothing: the next line is no statement's start.
    assert.equal(scan('CREATE TABLE `c;\nUSE x` (id INT);\nINSERT INTO `c;\nUSE x` VALUES (1);\n'), undefined);
    assert.equal(scan("INSERT INTO t VALUES ('it\\'s;\nUSE x');\n"), undefined);
    // In binary mode (as the restore runs the client) `use` is the server's statement, ended by the
    // delimiter: this is one statement, which the server refuses, not a switch to `other`.
    assert.equal(scan('use elexis\nUSE other;\n'), undefined);
  });

  it('lets statements on the database itself pass, and text inside a statement or a routine body', () => {
    assert.equal(scan('CREATE DATABASE /*!32312 IF NOT EXISTS*/ `elexis`;\nUSE `elexis`;\nALTER DATABASE `elexis` CHARACTER SET utf8mb4 ;\n'), undefined);
    assert.equal(scan("INSERT INTO t VALUES ('USE other');\n-- USE other\n# USE other;\nSELECT 1 -- ; USE other;\n;\nUSER_TABLE\n"), undefined);
    // A procedure's comment and a string over several lines (mariadb-dump writes bodies as created).
    const body = [
      'DELIMITER ;;',
      'CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()',
      'BEGIN',
      '  -- Use this procedure after the nightly import.',
      "  SELECT 'first line;",
      'use with care;',
      "Drop database after reading';",
      'END ;;',
      'DELIMITER ;',
      '',
    ].join('\n');
    for (const piece of [1, 5, 4096]) assert.equal(scan(body, piece), undefined, `pieces of ${piece}`);
    // A statement left open across lines: its continuation is no statement start either.
    assert.equal(scan('INSERT INTO t VALUES\n(1),\nUSE other\n(2);\n'), undefined);
  });
});

describe('SqlStatementScan: statement sizes and the end', () => {
  it('measures the longest statement over its lines, in any chunking', () => {
    const big = `INSERT INTO t VALUES (0x${'ab'.repeat(5000)});`;
    const text = `-- c\nSET NAMES utf8mb4;\nINSERT INTO t VALUES\n(1),\n(2);\n${big}\nDELIMITER ;;\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND ;;\nDELIMITER ;\n`;
    for (const piece of [1, 3, 100, 65536]) {
      const s = scanned(text, piece);
      assert.equal(s.longestStatement, big.length, `pieces of ${piece}`);
      assert.equal(s.endsInsideStatement, false);
    }
    // From its first byte to its delimiter: the line breaks inside count, the one after it does not.
    assert.equal(scanned('  INSERT INTO t VALUES (1),\n(2),\n(3);\n').longestStatement, 'INSERT INTO t VALUES (1),\n(2),\n(3);'.length);
  });

  it('tells a text that ends inside a statement or a DELIMITER block', () => {
    assert.equal(scanned('INSERT INTO t VALUES (1),\n(2),\n').endsInsideStatement, true);
    assert.equal(scanned('DELIMITER ;;\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN\n  -- Dump completed check\n').endsInsideStatement, true);
    assert.equal(scanned('DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SELECT 1; END ;;\n').endsInsideStatement, true, 'the delimiter was not set back');
    assert.equal(scanned('SELECT 1;\n-- Dump completed on 2026-12-03 12:00:00\n').endsInsideStatement, false);
    // A line that is one comment, as MariaDB's sandbox line: no statement.
    assert.equal(scanned('/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n-- Dump completed\n').endsInsideStatement, false);
    assert.equal(scanned('/* a */ SELECT 1\n').endsInsideStatement, true);
  });
});

describe('SqlStatementScan: the definers of views, triggers, routines and events', () => {
  it("finds each CREATE's DEFINER as mariadb-dump writes it, quoted any way, and no DEFINER text in data", () => {
    const s = scanned(
      [
        '/*!50001 CREATE ALGORITHM=UNDEFINED */',
        '/*!50013 DEFINER=`admin`@`%` SQL SECURITY DEFINER */',
        '/*!50001 VIEW `v` AS select 1 AS `x` */;',
        "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 1 */;",
        'DELIMITER ;;',
        "CREATE DEFINER='o''brien'@'10.0.0.%' PROCEDURE p() SELECT 'DEFINER=`body`@`x`';;",
        'DELIMITER ;',
        'CREATE DEFINER=bare@localhost FUNCTION f() RETURNS INT RETURN 1;',
        'CREATE DEFINER=CURRENT_USER VIEW w AS SELECT 1;',
        "INSERT INTO notes VALUES ('CREATE DEFINER=`data`@`x` VIEW');",
        'CREATE TABLE t (a INT);',
        "INSERT INTO t VALUES ('DEFINER=`data2`@`x`');",
        '',
      ].join('\n'),
    );
    assert.deepEqual([...s.definers], ['admin@%', 'root@localhost', "o'brien@10.0.0.%", 'bare@localhost']);
  });
});

describe('load warnings without the values they quote', () => {
  it("keeps the column, drops the value (a patient's data has no place in the log)", () => {
    assert.equal(withoutValues("Incorrect integer value: 'Müller' for column `db`.`t`.`v` at row 1"), "Incorrect integer value: '…' for column `db`.`t`.`v` at row 1");
    assert.equal(withoutValues("Incorrect date value: 'it''s \\'x' for column 'd' at row 2"), "Incorrect date value: '…' for column 'd' at row 2");
    assert.equal(withoutValues("Data truncated for column 's' at row 1"), "Data truncated for column 's' at row 1");
  });
});

describe("the client's error without the data it echoes and quotes", () => {
  it('keeps its ERROR lines with their line numbers, drops the echoed statement, masks what it quotes', () => {
    const echoed = (statement: string, error: string) => `--------------\n${statement}\n--------------\n\n${error}`;
    assert.equal(
      withoutData(echoed("INSERT INTO t VALUES (97,'Patientin Anna Zürcher 97')", "ERROR 1062 (23000) at line 3: Duplicate entry '97-Zürcher' for key 'PRIMARY'")),
      "ERROR 1062 (23000) at line 3: Duplicate entry '…' for key 'PRIMARY'",
    );
    assert.equal(
      withoutData(echoed("INSERT INTO t VALUES (99,'Berta'),(100 'Carla Xy')", "ERROR 1064 (42000) at line 1: You have an error in your SQL syntax; check the manual … to use near ''Carla Xy')' at line 1")),
      "ERROR 1064 (42000) at line 1: You have an error in your SQL syntax; check the manual … to use near '…' at line 1",
    );
    // A fragment over several lines: its first line has no closing quote, the others are no ERROR lines.
    assert.equal(withoutData("ERROR 1064 (42000) at line 7: … to use near 'Anna\nZürcher')' at line 1"), "ERROR 1064 (42000) at line 7: … to use near '…'");
    // The tail kept of a long stderr can begin inside the echo.
    assert.equal(
      withoutData("…tin Anna')\n--------------\n\nERROR 1366 (22007) at line 2: Incorrect string value: '\\xF0\\x9F D...' for column `db`.`t`.`n` at row 1"),
      'ERROR 1366 (22007) at line 2: Incorrect string value: \'…\' for column `db`.`t`.`n` at row 1',
    );
    assert.equal(withoutData("ERROR at line 3: Unknown command '\\!'."), "ERROR at line 3: Unknown command '\\!'.");
  });
});
