/**
 * A stream made in this process (an archive being encrypted) offered to the copy's rclone daemon
 * as one object of an `http` remote, so that the daemon copies it like a file (operations/copyfile):
 * it knows the size in advance, as from `rclone rcat --size` (S3 then picks a part size that fits
 * the object; a backend without streaming uploads does not spool it to a temp file), and the upload
 * uses the daemon's one connection to the target instead of a process and a handshake of its own.
 * Measured against `rclone rcat` fed through a pipe: a third less CPU for the same upload
 * (BENCHMARKS.md, "Encrypted copies through the daemon").
 *
 * The object is served on 127.0.0.1 on a port the kernel picks, under a random path: only the
 * daemon, told the path, asks for it. What it serves is ciphertext, readable by nobody without the
 * key, so the path guards against a stray reader of the stream rather than a secret; it is blanked
 * out of error messages all the same. Each GET makes the stream anew (rclone opens its source
 * again when it retries a failed upload, after it closed the first): the result is that of the
 * last serve read to its end. One serve at a time: a GET while another is being read is refused
 * (409), and none after the copy ended (freeze): a stray reader can neither break rclone's upload
 * nor replace its result (found by a tester). A Range request is refused: the stream can only be
 * made from its start (the copy turns rclone's multi-thread copy off).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';

/** Makes the object's bytes into `sink` (ending it), and returns what the caller wants to know of them (their digests). */
export type Produce<T> = (sink: Writable, signal: AbortSignal) => Promise<T>;

/** The object's name under the source's root. */
const OBJECT = 'object';

export class HttpSource<T> {
  private current: AbortController | undefined;
  private lastResult: { value: T } | undefined;
  private lastError: Error | undefined;
  private serving: Promise<void> = Promise.resolve();
  /** A serve's response is open (being read). */
  private reading = false;
  private frozen = false;

  private constructor(
    private readonly server: http.Server,
    private readonly token: string,
  ) {}

  /** Listens until close(); `size` is the exact length `produce` writes. */
  static async open<T>(size: number, produce: Produce<T>): Promise<HttpSource<T>> {
    const token = randomBytes(16).toString('hex');
    const server = http.createServer();
    // A slow uplink (rclone --bwlimit) reads for hours: no time limit on a response.
    server.timeout = 0;
    server.requestTimeout = 0;
    const source = new HttpSource<T>(server, token);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => source.answer(req, res, size, produce));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return source;
  }

  /** rclone's file system of the source (an on-the-fly `http` remote) and the object's name in it. */
  get remote(): { fs: string; name: string } {
    const { port } = this.server.address() as AddressInfo;
    return { fs: `:http,url='http://127.0.0.1:${port}/${this.token}/':`, name: OBJECT };
  }

  /** What error messages must not repeat. */
  get secret(): string {
    return this.token;
  }

  /**
   * The result of the last serve read to its end. A failed serve's own reason (the file could not
   * be read, it changed) is the one to tell, rather than rclone's "unexpected EOF" of the same event.
   */
  async result(): Promise<T> {
    await this.serving;
    if (this.lastResult) return this.lastResult.value;
    throw this.lastError ?? new Error('rclone did not read the object');
  }

  /** The reason a serve failed, if one did: it says more than rclone's broken read. */
  get failure(): Error | undefined {
    return this.lastError;
  }

  /** The copy is over: no GET is served any more, and result() is that of the serve rclone read. */
  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    this.current?.abort();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, size: number, produce: Produce<T>): void {
    if (req.url !== `/${this.token}/${OBJECT}` || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.range !== undefined) {
      res.writeHead(416, { 'content-type': 'text/plain' }).end('the stream is made from its start only: no ranges');
      return;
    }
    if (this.frozen || (req.method === 'GET' && this.reading)) {
      res.writeHead(this.frozen ? 410 : 409, { 'content-type': 'text/plain' }).end(this.frozen ? 'the copy is over' : 'the object is being read');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, 'last-modified': new Date().toUTCString() });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stop = new AbortController();
    this.current = stop;
    this.reading = true;
    this.lastResult = undefined;
    this.lastError = undefined;
    // The response closes when it was sent whole or when the reader went away: only the latter stops the serve.
    res.once('close', () => {
      this.reading = false;
      if (!res.writableFinished) stop.abort(new Error('rclone stopped reading'));
    });
    this.serving = produce(res, stop.signal).then(
      (value) => {
        if (this.current === stop) this.lastResult = { value };
      },
      (err: Error) => {
        if (!stop.signal.aborted) this.lastError = err;
        res.destroy(err);
      },
    );
  }
}
