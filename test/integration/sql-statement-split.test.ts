/**
 * The restore's checks of a SQL file (src/core/sql-statement-scan.ts) must see the statements the
 * `mariadb` client sends, run as the restore runs it (`--binary-mode --sandbox --comments`): the
 * client itself is the reference. Each text below is fed to the real client with `-v`, which
 * echoes every statement it sends, and to the scanner in chunks of many sizes; both must find the
 * same statements in the same order. An audit found the scanner splitting by lines, so that a
 * table named "c;" + line break + "USE x" made a dump of ours unrestorable, and `SELECT 1; USE
 * other;` went unseen.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SqlStatementScan } from '../../src/core/sql-statement-scan.js';
import { MARIADB_ARGS } from '../helpers/service.js';

const DB = `oob_split_${randomBytes(4).toString('hex')}`;
const client = (sql: string, db = DB) =>
  spawnSync('mariadb', [...MARIADB_ARGS, '--batch', '--binary-mode', '--sandbox', '--comments', '--force', '-v', db], { input: sql, encoding: 'utf8' });

const DUMP_LIKE = `/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
--
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS \`c;
USE x\`;
CREATE TABLE \`c;
USE x\` (
  \`id\` int(11) NOT NULL,
  \`note\` text DEFAULT 'a;
DROP DATABASE y' COMMENT 'it''s; -- not a comment',
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO \`c;
USE x\` VALUES (1,'x\\';\\nUSE z;'),(2,'a\\\\'),(3,"q\\";"),(4,'/* not; a comment */'),(5,'# no;');
/*!40000 ALTER TABLE \`c;
USE x\` DISABLE KEYS */;
DELIMITER ;;
CREATE PROCEDURE \`p\`()
BEGIN
  -- Use this procedure; after the import.
  SELECT 'first line;
use with care;;
done';
  SELECT 1;
END ;;
DELIMITER ;
/*!50001 CREATE ALGORITHM=UNDEFINED */
/*!50013 DEFINER=\`root\`@\`localhost\` SQL SECURITY DEFINER */
/*!50001 VIEW \`v\` AS select 1 AS \`x;y\` */;
-- Dump completed on 2026-12-04  6:00:00
`;

const HAND_WRITTEN = `DO 1; DO 2;DO 3 ;   -- after; the delimiter
DO 4 # c ; d
;
DO 5 --; x
;
DO 6 /* a;
b */ + 1; /* before */ DO 7;
   /* only a comment; */
DO 8 /*!40000 + 1 */;/*!40000 DO 9 */;
DO 10 -- 
;
DO \`a;b\`;
DO 11, '\\\\'; DO 12, "\\\\\\"; DO 13";
DO 14, \`a\\\`;
delimiter $$
DO 15; DO 16 $$
DO 17$$ DO 18$$
DELIMITER ;
DO '--'; DO 19 --
;
DO 20;
`;

describe("SQL text split into statements as the mariadb client splits it (the client as reference)", () => {
  before(() => {
    const made = client(`CREATE DATABASE ${DB};`, '');
    assert.equal(made.status, 0, made.stderr);
  });
  after(() => {
    client(`DROP DATABASE IF EXISTS ${DB};`, '');
  });

  for (const [name, sql] of [['a dump with quoted names, strings and a routine over lines', DUMP_LIKE], ['statements side by side, comments and delimiters by hand', HAND_WRITTEN]] as const) {
    it(name, () => {
      const sent = clientStatements(sql);
      assert.ok(sent.length >= 8, `the client sent ${sent.length} statements: ${JSON.stringify(sent)}`);
      for (const piece of [1, 2, 3, 5, 17, 64, sql.length]) {
        const seen: string[] = [];
        const scan = new SqlStatementScan('x', (head) => seen.push(start(head)));
        const bytes = Buffer.from(sql);
        for (let o = 0; o < bytes.length; o += piece) scan.see(bytes.subarray(o, o + piece));
        scan.end();
        assert.deepEqual(seen, sent, `pieces of ${piece}`);
        assert.equal(scan.endsInsideStatement, false);
      }
    });
  }

  it('finds no other database in either text (the names and strings only look like statements)', () => {
    for (const sql of [DUMP_LIKE, HAND_WRITTEN]) {
      const scan = new SqlStatementScan(DB);
      scan.see(Buffer.from(sql));
      scan.end();
      assert.equal(scan.foreign, undefined);
    }
  });
});

/**
 * The statements the client echoes with -v, by their start; comment-only ones left out, as is a
 * leading versioned comment for version 999999 (MariaDB's sandbox line: SQL for no server).
 */
function clientStatements(sql: string): string[] {
  const run = client(sql);
  const out: string[] = [];
  const echo = /^-{14}\n([\s\S]*?)\n-{14}\n/gm;
  for (let m = echo.exec(run.stdout); m; m = echo.exec(run.stdout)) {
    const text = withoutLeadingComments(m[1]!);
    if (text !== '') out.push(start(text));
  }
  return out;
}

function withoutLeadingComments(text: string): string {
  let t = text.trimStart();
  for (;;) {
    const next = t.replace(/^(?:--(?:[ \t][^\n]*)?(?:\n|$)|#[^\n]*(?:\n|$)|\/\*(?:M?!9{6}|(?!M?!))[\s\S]*?\*\/)/, '').trimStart();
    if (next === t) return t;
    t = next;
  }
}

/** A statement's first two words (the client's echo keeps its comments, the scanner's head has a space there). */
const start = (text: string) => text.trim().split(/\s+/).slice(0, 2).join(' ').slice(0, 14);
