/**
 * Lowering a worker process's CPU priority. Archiving keeps every core busy (parallel gzip) for
 * minutes; on a practice's single server that must not slow MariaDB, Elexis or this service's own
 * API (bench/api.ts measures the API while an archive runs).
 *
 * os.setPriority(pid) changes only the thread whose id is pid (Linux keeps a nice value per
 * thread), so every thread that already exists is reniced through /proc/self/task; threads started
 * later (libuv's pool, zlib work, child processes such as mariadb-dump) inherit it from the main
 * thread that starts them.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Logger } from './logger.js';

/** Raise the niceness of every thread of this process to at least `nice` (never lowers it). */
export function lowerPriority(nice: number, logger: Logger): void {
  if (nice <= 0) return;
  let tids: number[];
  try {
    tids = fs.readdirSync('/proc/self/task').map(Number);
  } catch {
    tids = [process.pid]; // not Linux: the main thread, and what it starts from now on
  }
  const failed: string[] = [];
  for (const tid of tids) {
    try {
      if (os.getPriority(tid) < nice) os.setPriority(tid, nice);
    } catch (err) {
      failed.push(`${tid}: ${(err as Error).message}`); // the thread ended meanwhile, or not permitted
    }
  }
  if (failed.length > 0) logger.warn({ nice, failed }, 'could not lower the priority of every thread');
  else logger.info({ nice, threads: tids.length }, 'worker runs at lower CPU priority');
}
