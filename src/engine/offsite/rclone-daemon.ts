/**
 * One `rclone rcd` for the steps of one copy (the upload of a plain archive, the target's check of
 * it, the sidecars, the completion marker), driven through its remote-control API. Each step as an
 * rclone process of its own paid a process start and a new connection to the target (an SSH
 * handshake on SFTP, 0.2-0.35 s each, three of them one after the other on a copy's critical path);
 * one daemon keeps one connection for all of them (BENCHMARKS.md, "rclone as a daemon").
 *
 * Nobody else can drive it: it listens on 127.0.0.1 only, on a port the kernel picks, behind a
 * password made for this daemon alone. The password is in no command line (which `ps` shows), no
 * environment and no file: rclone gets only its SHA-1 in an htpasswd file (a private temp
 * directory, removed with the daemon; rclone reads it at every request, so it stays while the
 * daemon runs; rc-auth-dir.ts; small files read back from the target pass through it too), and a
 * hash of 192 random bits lets nobody in. The daemon ends with the copy and
 * serves no files (no --rc-serve). Its errors are told with every value of the rclone config
 * blanked out, as a process's stderr is.
 *
 * A command is one HTTP request that rclone answers when the command is done, however long that
 * takes (an upload on a slow uplink, a target hashing a large object): node:http sets no time
 * limit, and the daemon's own limits (an hour by default) are lifted. Asking an `_async` job for its
 * status instead would notice its end only at the next look (measured: up to a second late, twice
 * per copy).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redact, startChild, type Child } from './child.js';
import { sweepStaleAuthDirs, writeAuthDir } from './rc-auth-dir.js';
import { uploadLimit, type RcloneOptions, type RemoteEntry } from './rclone.js';

/** How long rclone may take to start listening before the copy fails. */
const START_TIMEOUT_MS = 30_000;
/** How long a broken connection waits for the daemon's exit, whose reason then says more. */
const EXIT_GRACE_MS = 500;
/**
 * rclone settings in the environment the daemon must not take: logging ones would hide or move the
 * line its port is read from (RCLONE_LOG_LEVEL=ERROR, RCLONE_QUIET, RCLONE_LOG_FILE made every copy
 * wait 30 s and fail), and the rc ones would change how it listens or authenticates.
 */
const IGNORED_ENV = /^RCLONE_(RC_|LOG_|SYSLOG|QUIET$|VERBOSE$)/;

function daemonEnv(configFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: configFile };
  for (const key of Object.keys(env)) if (IGNORED_ENV.test(key)) delete env[key];
  return env;
}

export interface CopyOptions {
  signal?: AbortSignal;
  /** rclone's own count of bytes sent, every second and once at the end. */
  onBytes?: (sent: number) => void;
  /** The caller checks the object itself: rclone does not hash it. */
  callerChecks?: boolean;
}

/** How often a running upload's byte count is asked for (core/stats), for the job's progress. */
const PROGRESS_EVERY_MS = 1000;

export class RcloneDaemon {
  private readonly agent = new http.Agent({ keepAlive: true });

  private constructor(
    private readonly child: Child,
    /** Where it listens (`http://127.0.0.1:<port>/`). */
    readonly url: string,
    private readonly authorization: string,
    private readonly secrets: readonly string[],
    private readonly authDir: string,
  ) {}

  static async start(o: RcloneOptions, signal?: AbortSignal): Promise<RcloneDaemon> {
    await sweepStaleAuthDirs();
    const user = 'oob-backup';
    const password = randomBytes(24).toString('hex');
    const authDir = await writeAuthDir(user, password);
    const htpasswd = path.join(authDir, 'htpasswd');
    let announced: (url: string) => void = () => undefined;
    const listening = new Promise<string>((resolve) => (announced = resolve));
    const args = [
      'rcd',
      '--rc-addr', '127.0.0.1:0',
      '--rc-htpasswd', htpasswd,
      '--rc-server-read-timeout', '0s',
      '--rc-server-write-timeout', '0s',
      // Its port is read from this level's line, whatever RCLONE_* logging the environment holds.
      '--log-level', 'NOTICE',
      '--retries', '1',
      '--low-level-retries', '3',
      ...(o.bwlimit ? ['--bwlimit', uploadLimit(o.bwlimit)] : []),
    ];
    // setpriv (util-linux, in every Debian) execs rclone with a parent-death signal: a worker that
    // dies (killed, out of memory, process.exit at its deadline) takes its daemon with it.
    const child = startChild('setpriv', ['--pdeathsig', 'TERM', '--', 'rclone', ...args], {
      env: daemonEnv(o.configFile),
      stdio: ['ignore', 'ignore', 'pipe'],
      secrets: o.secrets,
      signal,
      what: 'rclone remote control',
      stderrLine: (line) => {
        const m = /Serving remote control on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line);
        if (m) announced(m[1]!);
        return line;
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rclone remote control did not start listening within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    });
    try {
      const url = await Promise.race([listening, child.done.then(() => Promise.reject(new Error('rclone remote control ended before it listened'))), timeout]);
      return new RcloneDaemon(child, url, `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, o.secrets, authDir);
    } catch (err) {
      child.kill();
      await child.done.catch(() => undefined);
      await fs.rm(authDir, { recursive: true, force: true });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The rclone process's id. */
  get pid(): number | undefined {
    return this.child.proc.pid;
  }

  /** Ends the daemon (and whatever it still does) and waits for it. */
  async close(): Promise<void> {
    this.agent.destroy();
    this.child.kill();
    await this.child.done.catch(() => undefined);
    await fs.rm(this.authDir, { recursive: true, force: true });
  }

  /**
   * A local file (an absolute path) to an object, read by rclone itself. It is sent even when an
   * object of the same size and time is there (an earlier, failed attempt). `callerChecks`: rclone
   * does not hash it, as the caller checks the object with the one hash it computed itself
   * (send.ts), so the target hashes it once; without it rclone checks it (a manifest too large to be sent whole).
   * `onBytes`: rclone's own count of bytes sent, every second and once at the end.
   */
  copyFile(source: string, object: string, o: CopyOptions = {}): Promise<void> {
    const slash = source.lastIndexOf('/');
    return this.copyObject({ fs: source.slice(0, slash) || '/', name: source.slice(slash + 1) }, object, o);
  }

  /**
   * An object of any rclone file system to an object (copyFile; an HttpSource's stream).
   * `singleStream`: rclone reads the source from its start to its end in one request, never in
   * ranges side by side (its multi-thread copy, for targets that write at offsets).
   * `secret`: a string of the source's name that error messages must not repeat.
   */
  async copyObject(from: { fs: string; name: string }, object: string, o: CopyOptions & { singleStream?: boolean; secret?: string } = {}): Promise<void> {
    const [dstFs, dstRemote] = splitObject(object);
    const group = `copy-${randomBytes(6).toString('hex')}`;
    let finished = false;
    const report = async () => {
      const stats = await this.call<{ bytes?: number }>('core/stats', { group }, 'progress', o.signal);
      if (typeof stats.bytes === 'number' && !finished) o.onBytes?.(stats.bytes);
    };
    const poll = o.onBytes && setInterval(() => void report().catch(() => undefined), PROGRESS_EVERY_MS);
    try {
      const params = {
        srcFs: from.fs,
        srcRemote: from.name,
        dstFs,
        dstRemote,
        _group: group,
        _config: { IgnoreTimes: true, IgnoreChecksum: o.callerChecks === true, ...(o.singleStream ? { MultiThreadStreams: 0 } : {}) },
      };
      await this.call('operations/copyfile', params, `upload to ${object}`, o.signal, o.secret);
    } finally {
      if (poll) clearInterval(poll);
    }
    if (o.onBytes) {
      await report();
      finished = true;
    }
  }

  /** The object's size and (when asked for) the target's own hash of it; undefined when it is not there. */
  async stat(object: string, hashType: string | undefined, signal?: AbortSignal): Promise<RemoteEntry | undefined> {
    const opt = hashType ? { showHash: true, hashTypes: [hashType] } : {};
    const [fs, remote] = splitObject(object);
    const r = await this.call<{ item: RemoteEntry | null }>('operations/stat', { fs, remote, opt }, `check of ${object}`, signal);
    return r.item ?? undefined;
  }

  /** Deletes one object (the remote may refuse: object lock, append-only). */
  async remove(object: string, signal?: AbortSignal): Promise<void> {
    const [fs, remote] = splitObject(object);
    await this.call('operations/deletefile', { fs, remote }, `delete of ${object}`, signal);
  }

  /**
   * A small body (a sidecar, a marker) to an object, then read back and compared byte for byte.
   * rclone's own check of an upload asks the target for its hash of it; on SFTP that is a command
   * run by the server's shell (a process per file, 0.4 s each on this machine's test server), where
   * reading back a few hundred bytes is one request on the open connection, and exact.
   */
  async upload(object: string, body: Buffer, signal?: AbortSignal): Promise<void> {
    const [fs, name] = splitObject(object);
    if (/["\r\n]/.test(name)) throw new Error(`upload to ${object}: a name with quotes or line breaks cannot be sent as a form field`);
    const boundary = `oob-${randomBytes(12).toString('hex')}`;
    const form = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      body,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const query = new URLSearchParams({ fs, remote: '', _config: JSON.stringify({ IgnoreChecksum: true }) });
    await this.request(`operations/uploadfile?${query}`, form, `multipart/form-data; boundary=${boundary}`, `upload to ${object}`, signal);
    const back = await this.readSmall(object, body.length, signal);
    if (!back.equals(body)) throw new Error(`upload to ${object}: read back ${back.length} bytes that differ from the ${body.length} sent`);
  }

  /**
   * A small object's bytes (at most `max`), copied by the daemon into its private directory and read
   * from there. Throws when it is missing or larger.
   */
  async readSmall(object: string, max: number, signal?: AbortSignal): Promise<Buffer> {
    const [srcFs, srcRemote] = splitObject(object);
    const entry = await this.stat(object, undefined, signal);
    if (!entry) throw new Error(`${object} is missing on the target`);
    if (entry.Size > max) throw new Error(`${object} has ${entry.Size} bytes on the target, ${max} were sent`);
    const local = `read-${randomBytes(8).toString('hex')}`;
    const params = { srcFs, srcRemote, dstFs: this.authDir, dstRemote: local, _config: { IgnoreChecksum: true, IgnoreTimes: true } };
    try {
      await this.call('operations/copyfile', params, `read back of ${object}`, signal);
      // Read only if it is still that small: the object may have changed since its stat.
      const copied = path.join(this.authDir, local);
      const size = (await fs.stat(copied)).size;
      if (size > max) throw new Error(`${object} has ${size} bytes on the target, ${max} were sent`);
      return await fs.readFile(copied);
    } finally {
      await fs.rm(path.join(this.authDir, local), { force: true });
    }
  }

  /** One rc command with JSON parameters. */
  private call<T>(command: string, params: Record<string, unknown>, what: string, signal?: AbortSignal, secret?: string): Promise<T> {
    return this.request<T>(command, Buffer.from(JSON.stringify(params)), 'application/json', what, signal, secret);
  }

  /** One POST; an answer other than 200 rejects with rclone's error, a dead daemon with its own end. */
  private request<T>(command: string, body: Buffer, contentType: string, what: string, signal?: AbortSignal, secret?: string): Promise<T> {
    const secrets = secret ? [...this.secrets, secret] : this.secrets;
    return new Promise<T>((resolve, reject) => {
      const headers = { authorization: this.authorization, 'content-type': contentType, 'content-length': body.length };
      const req = http.request(new URL(command, this.url), { method: 'POST', agent: this.agent, headers, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new Error(`${what}: the answer of rclone remote control broke off (${err.message})`, { cause: err })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) return resolve(JSON.parse(text || '{}') as T);
          let reason = text;
          try {
            reason = String((JSON.parse(text) as { error?: unknown }).error ?? text);
          } catch {
            // not JSON: the text as it is
          }
          reject(new Error(`${what}: rclone answered ${res.statusCode}: ${redact(reason.trim(), secrets)}`));
        });
      });
      req.on('error', (err) => {
        if (signal?.aborted) return reject(signal.reason);
        // The daemon's own end (killed, crashed) says more than the broken connection; its exit is
        // reported a moment after the connection breaks.
        void Promise.race([this.child.done.then(() => undefined, (e: Error) => e), sleep(EXIT_GRACE_MS).then(() => undefined)]).then((ended) =>
          reject(new Error(`${what}: ${ended ? redact(ended.message, secrets) : `rclone remote control did not answer (${err.message})`}`, { cause: err })),
        );
      });
      req.end(body);
    });
  }
}

/**
 * An object's rclone path (remotePath's `remote:path/name`) as rc's file system and name:
 * "s3:bucket/dir/x" → ["s3:bucket/dir", "x"], "sftp:/x" → ["sftp:/", "x"], "dav:x" → ["dav:", "x"].
 */
export function splitObject(object: string): [fs: string, name: string] {
  const colon = object.indexOf(':');
  const slash = object.lastIndexOf('/');
  if (slash <= colon) return [object.slice(0, colon + 1), object.slice(colon + 1)];
  return [object.slice(0, slash === colon + 1 ? slash + 1 : slash), object.slice(slash + 1)];
}
