// The writer's output: archive bytes gathered in a few large buffers, each written out whole while
// the next one fills (positioned writes on the thread pool for a plain file, or a compressor's
// input stream). A buffer is reused only once its write is done, so memory stays bounded.

import { write as fsWrite } from 'node:fs';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';

export type OutputTarget = { fd: number } | { stream: Writable };

export class ArchiveOutput {
  /** The buffer being filled; bytes [0, pos) are archive data not yet handed on. */
  buf: Buffer;
  pos = 0;
  private readonly free: Buffer[] = [];
  private made = 1;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private failure: unknown;
  /** Where the next write lands in a plain file. */
  private offset = 0;
  /** Archive bytes handed on so far. */
  written = 0;

  constructor(
    private readonly target: OutputTarget,
    private readonly size = 4 << 20,
    private readonly count = 4,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Bytes left in the current buffer. */
  room(): number {
    return this.buf.length - this.pos;
  }

  /** Make at least `n` bytes of room: hand the current buffer on when it cannot take them. */
  async ensure(n: number): Promise<void> {
    if (this.buf.length - this.pos >= n) return;
    await this.next(n);
  }

  /** Hand on the current buffer and continue in an empty one with room for `n` bytes (default: any). */
  async next(n = 1): Promise<void> {
    this.raise();
    if (this.pos > 0) this.submit(this.buf, this.pos);
    else if (this.buf.length === this.size) this.free.push(this.buf);
    this.pos = 0;
    if (n > this.size) {
      // one larger buffer for an outsized header (many or large xattrs), used once
      this.buf = Buffer.allocUnsafe(n);
      return;
    }
    for (;;) {
      const b = this.free.pop();
      if (b) {
        this.buf = b;
        return;
      }
      if (this.made < this.count) {
        this.made += 1;
        this.buf = Buffer.allocUnsafe(this.size);
        return;
      }
      await new Promise<void>((res) => {
        this.wake = res;
      });
      this.raise();
    }
  }

  /** Hand on what is buffered and wait until everything handed on is written. */
  async drain(): Promise<void> {
    if (this.pos > 0) {
      this.submit(this.buf, this.pos);
      this.pos = 0;
      this.buf = Buffer.allocUnsafe(0);
    }
    while (this.inFlight > 0) {
      await new Promise<void>((res) => {
        this.wake = res;
      });
    }
    this.raise();
  }

  private raise(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private done(b: Buffer, err: unknown): void {
    this.inFlight -= 1;
    if (err && this.failure === undefined) this.failure = err;
    if (b.length === this.size) this.free.push(b);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private submit(b: Buffer, len: number): void {
    this.inFlight += 1;
    this.written += len;
    if ('fd' in this.target) {
      const fd = this.target.fd;
      const at = this.offset;
      this.offset += len;
      let off = 0;
      const more = (err: NodeJS.ErrnoException | null, n: number): void => {
        if (err) return this.done(b, err);
        off += n;
        if (off < len) fsWrite(fd, b, off, len - off, at + off, more);
        else this.done(b, undefined);
      };
      fsWrite(fd, b, 0, len, at, more);
    } else {
      this.target.stream.write(b.subarray(0, len), (err) => this.done(b, err ?? undefined));
    }
  }
}

/**
 * gzip (zlib, on the thread pool) into the file `fd`: `stream` takes tar bytes, `done` settles when
 * all is written, `abort` stops and resolves once no write is left in flight.
 */
export function gzipToFd(fd: number): { stream: Writable; done: Promise<void>; abort(): Promise<void> } {
  const gz = createGzip({ level: 6, chunkSize: 256 << 10 });
  let offset = 0;
  let inFlight = 0;
  let ended = false;
  let failed: unknown;
  let settle: ((err?: unknown) => void) | undefined;
  const done = new Promise<void>((res, rej) => {
    settle = (err) => (err === undefined ? res() : rej(err));
  });
  done.catch(() => undefined);
  const idle: Array<() => void> = [];
  const check = () => {
    if (inFlight > 0) return;
    for (const w of idle.splice(0)) w();
    if (failed !== undefined) settle?.(failed);
    else if (ended) settle?.();
  };
  gz.on('data', (chunk: Buffer) => {
    if (failed !== undefined) return;
    inFlight += 1;
    if (inFlight >= 4) gz.pause();
    const at = offset;
    offset += chunk.length;
    let off = 0;
    const more = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err) {
        failed ??= err;
        gz.destroy(err);
      } else {
        off += n;
        if (off < chunk.length) return fsWrite(fd, chunk, off, chunk.length - off, at + off, more);
      }
      inFlight -= 1;
      if (inFlight < 4 && gz.isPaused() && failed === undefined) gz.resume();
      check();
    };
    fsWrite(fd, chunk, 0, chunk.length, at, more);
  });
  gz.on('end', () => {
    ended = true;
    check();
  });
  gz.on('error', (e) => {
    failed ??= e;
    check();
  });
  return {
    stream: gz,
    done,
    abort: () => {
      failed ??= new Error('aborted');
      gz.destroy();
      return new Promise<void>((res) => {
        idle.push(res);
        check();
      });
    },
  };
}
