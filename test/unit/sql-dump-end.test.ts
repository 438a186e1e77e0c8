/** DumpEndCheck: a mysqldump/mariadb-dump file must end with its completion line; a gzip must decompress to its end. */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DumpEndCheck, dumpHeaderTool, type DumpEndVerdict } from '../../src/core/sql-dump-end.js';

const HEAD = '/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: 127.0.0.1    Database: elexis\n';
const BODY = "CREATE TABLE `a` (`id` int);\nINSERT INTO `a` VALUES (1),(2);\n";
const END = '\n-- Dump completed on 2026-12-03  7:23:47\n';
const whole = HEAD + BODY + END;

/** Runs `bytes` through a DumpEndCheck in chunks of `chunk` bytes. */
async function judge(bytes: Buffer | string, chunk = 64 * 1024): Promise<DumpEndVerdict> {
  const b = Buffer.from(bytes);
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
  const check = new DumpEndCheck();
  let passed = 0;
  await pipeline(Readable.from(parts), check, new Writable({ write: (c: Buffer, _e, cb) => ((passed += c.length), cb()) }));
  assert.equal(passed, b.length, 'every byte passes through unchanged');
  return check.verdict();
}

/** The verdict without the longest statement's size (asserted on its own below). */
const verdictOf = (v: DumpEndVerdict) => (v.ok ? { ok: v.ok, dump: v.dump, gzip: v.gzip } : v);

describe('DumpEndCheck', () => {
  it('passes a complete dump, plain and gzip, in any chunking, with blanks or CRLF after the last line', async () => {
    for (const text of [whole, whole + '\n\n  \n', whole + '\n'.repeat(10_000), whole.replace(/\n/g, '\r\n'), '\ufeff' + whole, whole.replace(/ on [^\n]*/, '')]) {
      for (const chunk of [1, 7, 4096, 1 << 20]) {
        assert.deepEqual(verdictOf(await judge(text, chunk)), { ok: true, dump: true, gzip: false }, `plain, chunk ${chunk}`);
        assert.deepEqual(verdictOf(await judge(gzipSync(text), chunk)), { ok: true, dump: true, gzip: true }, `gzip, chunk ${chunk}`);
      }
    }
    // Concatenated gzip members (gzip a >> f; gzip b >> f) are one file for gunzip and the load.
    const members = Buffer.concat([gzipSync(HEAD + BODY), gzipSync(END)]);
    assert.deepEqual(verdictOf(await judge(members, 100)), { ok: true, dump: true, gzip: true });
  });

  it('refuses a dump cut short, and says where it stops', async () => {
    for (const chunk of [1, 13, 65536]) {
      const v = await judge(HEAD + BODY, chunk);
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, /looks like a mariadb-dump file cut short: it does not end with "-- Dump completed".*ends with "INSERT INTO `a` VALUES \(1\),\(2\);"$/);
      const g = await judge(gzipSync(HEAD + BODY), chunk);
      assert.equal(g.ok, false);
      assert.equal(g.gzip, true);
    }
    const mysql = await judge('-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n' + BODY);
    assert.match((mysql as { reason: string }).reason, /looks like a mysqldump file cut short/);
    // Statements after the completion line: the file does not end like a dump either.
    assert.equal((await judge(whole + 'UPDATE a SET id = 3;\n')).ok, false);
    // A last line longer than what is kept is shown by its end.
    const long = await judge(HEAD + 'INSERT INTO `a` VALUES ' + '(1),'.repeat(5000));
    assert.match((long as { reason: string }).reason, /ends with "….{120}"$/);
  });

  it('refuses a dump cut inside a routine or trigger body, whose last line looks like the completion line', async () => {
    const trigger = 'DELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN\n  SET @x = 1;\n  -- Dump completed check: nightly\n';
    for (const cut of [trigger, trigger.replace('check: nightly', 'on 2026-12-03 7:23:47')]) {
      const v = await judge(HEAD + BODY + cut, 7);
      assert.equal(v.ok, false, cut);
      assert.match((v as { reason: string }).reason, /cut short/);
    }
    // Text after the completion words is no completion line.
    assert.equal((await judge(HEAD + BODY + '-- Dump completed check: nightly\n')).ok, false);
  });

  it('reports the longest statement, what the server must take as one packet', async () => {
    const row = `INSERT INTO \`a\` VALUES (0x${'00ff'.repeat(20_000)});\n`;
    for (const chunk of [1000, 65536]) {
      const v = await judge(gzipSync(HEAD + BODY + row + END), chunk);
      assert.equal(v.ok && v.longestStatement, row.length - 1, 'the statement and its delimiter, not the line break');
    }
  });

  it('cannot judge SQL without a dump header: passes it', async () => {
    for (const text of [BODY, 'SET NAMES utf8mb4;\n' + HEAD + BODY, '-- my fix-up script\n' + BODY, '']) {
      assert.deepEqual(verdictOf(await judge(text, 5)), { ok: true, dump: false, gzip: false });
    }
    assert.deepEqual(verdictOf(await judge(gzipSync(BODY))), { ok: true, dump: false, gzip: true });
  });

  it('refuses a gzip cut mid-stream or damaged, whatever it holds', async () => {
    const big = gzipSync(HEAD + BODY.repeat(20_000) + END);
    const cut = await judge(big.subarray(0, big.length >> 1), 4096);
    assert.equal(cut.ok, false);
    assert.match((cut as { reason: string }).reason, /the SQL file is gzip and is cut short: it does not decompress to its end \(unexpected end of file, after \d+ bytes\)/);
    const headerless = gzipSync(BODY);
    assert.equal((await judge(headerless.subarray(0, headerless.length - 4))).ok, false, 'no header, still cut');
    const damaged = Buffer.from(big);
    damaged[damaged.length - 6]! ^= 0xff; // the CRC
    assert.match(((await judge(damaged)) as { reason: string }).reason, /is damaged: .*incorrect data check/);
    assert.equal((await judge(Buffer.concat([big, Buffer.from('trailing garbage')]))).ok, false);
  });

  it('dumpHeaderTool reads the first line, or the one after the sandbox line', () => {
    assert.equal(dumpHeaderTool(HEAD), 'mariadb-dump');
    assert.equal(dumpHeaderTool('\n\n-- MySQL dump 10.13  Distrib 5.7.44'), 'mysqldump');
    assert.equal(dumpHeaderTool('-- MySQL dump 10.16  Distrib 10.1.48-MariaDB'), 'mysqldump');
    assert.equal(dumpHeaderTool('-- phpMyAdmin SQL Dump\n-- MariaDB dump'), undefined);
    assert.equal(dumpHeaderTool('--\n-- MariaDB dump'), undefined);
  });
});
