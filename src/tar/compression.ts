// Compression: which one an archive uses (by its magic bytes), reading it decompressed and writing
// compressed, streamed, through Node's zlib (gzip, member by member, in-process) or the standard
// tools (every other compression GNU tar reads; xz and zstd for writing).

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable as NodeWritable, type Writable } from 'node:stream';
import { createGzip, createInflateRaw, crc32 } from 'node:zlib';
import { DomuError, oneLine } from '../errors.js';
import { DEBIAN_PACKAGE, hasTool } from '../sys/exec.js';
import type { ReadCompression, TarCompression } from './types.js';

/** Decompressors by magic bytes, as GNU tar 1.34 picks them; each through its standard tool. */
interface Decompressor {
  compression: Exclude<ReadCompression, 'none'>;
  tool: string;
  args: string[];
  pkg: string;
  magic(head: Buffer): boolean;
}

const starts = (head: Buffer, bytes: number[]) => bytes.every((b, i) => head[i] === b);

export const DECOMPRESSORS: readonly Decompressor[] = [
  { compression: 'gzip', tool: 'gzip', args: ['-dc'], pkg: 'gzip', magic: (h) => starts(h, [0x1f, 0x8b]) },
  { compression: 'compress', tool: 'gzip', args: ['-dc'], pkg: 'gzip', magic: (h) => starts(h, [0x1f, 0x9d]) },
  { compression: 'bzip2', tool: 'bzip2', args: ['-dc'], pkg: 'bzip2', magic: (h) => starts(h, [0x42, 0x5a, 0x68]) },
  { compression: 'xz', tool: 'xz', args: ['-dc'], pkg: 'xz-utils', magic: (h) => starts(h, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  // lzma_alone: properties byte 0x5d and a dictionary size, as GNU tar's magic table has it
  { compression: 'lzma', tool: 'xz', args: ['--format=lzma', '-dc'], pkg: 'xz-utils', magic: (h) => starts(h, [0x5d, 0x00, 0x00]) },
  { compression: 'lzip', tool: 'lzip', args: ['-dc'], pkg: 'lzip', magic: (h) => starts(h, [0x4c, 0x5a, 0x49, 0x50]) },
  { compression: 'lzop', tool: 'lzop', args: ['-dc'], pkg: 'lzop', magic: (h) => starts(h, [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { compression: 'lz4', tool: 'lz4', args: ['-dc'], pkg: 'lz4', magic: (h) => starts(h, [0x04, 0x22, 0x4d, 0x18]) },
  // zstd frames, and skippable frames (0x184D2A50..5F, as pzstd writes first)
  { compression: 'zstd', tool: 'zstd', args: ['-dc'], pkg: 'zstd', magic: (h) => starts(h, [0x28, 0xb5, 0x2f, 0xfd]) || (h[0]! >= 0x50 && h[0]! <= 0x5f && starts(h.subarray(1), [0x2a, 0x4d, 0x18])) },
  { compression: 'lrzip', tool: 'lrzip', args: ['-dqo', '-'], pkg: 'lrzip', magic: (h) => starts(h, [0x4c, 0x52, 0x5a, 0x49]) },
];

export async function sniffCompression(file: string): Promise<ReadCompression> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(16);
    await fh.read(head, 0, 16, 0);
    return DECOMPRESSORS.find((d) => d.magic(head))?.compression ?? 'none';
  } finally {
    await fh.close();
  }
}

/** Refuse early, naming the compression and the Debian package, when its tool is missing. */
export function requireCompressionTool(compression: ReadCompression, why: string): void {
  if (compression === 'none' || compression === 'gzip') return; // zlib, in Node
  const d = DECOMPRESSORS.find((x) => x.compression === compression)!;
  if (!hasTool(d.tool)) {
    throw new DomuError('MISSING_TOOL', `the archive is ${compression}-compressed and ${d.tool} is not installed (needed ${why})`, { hint: `install it with: apt-get install ${d.pkg}` });
  }
}

/** The tar bytes of an archive, chunk by chunk; `skip` passes over bytes not yet read without reading them. */
export interface TarSource extends AsyncIterable<Buffer> {
  /** Pass over up to n unread bytes; returns how many there were (fewer at the end of the file). */
  skip?(n: number): number;
  destroy(): void;
}

/**
 * A file read in large synchronous chunks. Reads from the page cache are quick, and a thread-pool
 * round trip per chunk (createReadStream) waits for a thread to be scheduled each time, which on a
 * loaded machine made reading take several times its CPU time.
 */
export class FileChunks implements TarSource {
  private fd: number | undefined;
  private pos = 0;
  private readonly size: number;

  constructor(file: string, private readonly chunkSize = 4 << 20) {
    this.fd = openSync(file, 'r');
    this.size = fstatSync(this.fd).size;
  }

  skip(n: number): number {
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    this.pos += k;
    return k;
  }

  destroy(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      while (this.fd !== undefined) {
        const b = Buffer.allocUnsafe(this.chunkSize);
        const n = readSync(this.fd, b, 0, b.length, this.pos);
        if (n === 0) return;
        this.pos += n;
        yield n < b.length ? b.subarray(0, n) : b;
      }
    } finally {
      this.destroy();
    }
  }
}

/** The archive's tar bytes: the file itself, or its decompressed stream; `tool` settles when a tool exits. */
export async function openDecompressed(file: string, compression: ReadCompression, chunkSize = 4 << 20): Promise<{ source: TarSource; tool: Promise<void> | undefined; toolStderr: () => string }> {
  if (compression === 'none') return { source: new FileChunks(file, chunkSize), tool: undefined, toolStderr: () => '' };
  if (compression === 'gzip') {
    // in-process: far cheaper than a pipe from gzip(1)
    const input = new FileChunks(file, 1 << 20);
    const warnings: string[] = [];
    const gen = gunzipMembers(input, warnings);
    return { source: { [Symbol.asyncIterator]: () => gen, destroy: () => void gen.return(undefined).catch(() => undefined) }, tool: undefined, toolStderr: () => warnings.join('; ') };
  }
  const d = DECOMPRESSORS.find((x) => x.compression === compression)!;
  const fh = await open(file, 'r');
  const f = spawnFilter(d.tool, d.args, [fh.fd, 'pipe', 'pipe']);
  f.child.on('spawn', () => void fh.close());
  f.child.on('error', () => void fh.close());
  return { source: f.child.stdout!, tool: f.done, toolStderr: f.stderr };
}

// ---- gzip, member by member (RFC 1952), as gzip -d reads it ----

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/** Thrown for a gzip stream that cannot be read; the message is gzip(1)'s where it has one. */
class GzipError extends Error {
  constructor(message: string) {
    super(`gzip: ${message}`);
  }
}

/**
 * Decompress a gzip file of one or more members, streamed. Each member's header is read here and
 * its deflate data by zlib's raw inflater, which stops at the end of the member and says how much it
 * consumed; the trailer's CRC-32 and length are checked. After the last member, zero bytes are
 * ignored and any other data is a warning ("decompression OK, trailing garbage ignored", as
 * gzip -d says and GNU tar passes on): Node's gunzip fails the whole stream there instead, losing
 * the end of the data before it.
 */
export async function* gunzipMembers(input: TarSource, warnings: string[]): AsyncGenerator<Buffer> {
  const src = input[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  let srcDone = false;
  const more = async (): Promise<boolean> => {
    if (srcDone) return false;
    const r = await src.next();
    if (r.done) {
      srcDone = true;
      return false;
    }
    pending = pending.length === 0 ? r.value : Buffer.concat([pending, r.value]);
    return true;
  };
  const need = async (n: number): Promise<void> => {
    while (pending.length < n) if (!(await more())) throw new GzipError('unexpected end of file');
  };
  try {
    for (let members = 0; ; members++) {
      if (members > 0) {
        // after a member: another one, or the end (zeros are padding; anything else is trailing garbage)
        while (pending.length < 2 && (await more()));
        if (pending.length === 0) return;
        if (!(pending[0] === 0x1f && (pending.length < 2 || pending[1] === 0x8b))) {
          let garbage = false;
          do {
            if (!garbage && pending.some((b) => b !== 0)) garbage = true;
            pending = Buffer.alloc(0);
          } while (!garbage && (await more()));
          if (garbage) warnings.push('gzip: decompression OK, trailing garbage ignored');
          return;
        }
      }
      // the member's header
      await need(10);
      if (pending[0] !== 0x1f || pending[1] !== 0x8b) throw new GzipError('not in gzip format');
      if (pending[2] !== 8) throw new GzipError(`unknown method ${pending[2]} -- not supported`);
      const flags = pending[3]!;
      if (flags & 0xe0) throw new GzipError(`has flags 0x${flags.toString(16)} -- not supported`);
      let at = 10;
      if (flags & FEXTRA) {
        await need(at + 2);
        at += 2 + pending.readUInt16LE(at);
      }
      for (const f of [FNAME, FCOMMENT]) {
        if (!(flags & f)) continue;
        for (;;) {
          await need(at + 1);
          const nul = pending.indexOf(0, at);
          if (nul >= 0) {
            at = nul + 1;
            break;
          }
          at = pending.length;
        }
      }
      if (flags & FHCRC) at += 2;
      await need(at);
      pending = pending.subarray(at);

      // the deflate data: the raw inflater ends at its end; what it did not consume is the trailer and after
      // large output chunks: each is a thread-pool round trip
      const inflate = createInflateRaw({ chunkSize: 1 << 20 });
      const fed: Buffer[] = [];
      let fedStart = 0; // offset in this member's deflate data of fed[0]
      let fedTotal = 0;
      let readError: unknown;
      const feed = async (): Promise<void> => {
        // one chunk at a time: when the inflater has not consumed all it was given, the member's data ended
        const write = (b: Buffer) => new Promise<void>((res) => {
          fed.push(b);
          fedTotal += b.length;
          inflate.write(b, () => res()); // an inflater error reaches the reader below
        });
        if (pending.length > 0) {
          const b = pending;
          pending = Buffer.alloc(0);
          await write(b);
        }
        for (;;) {
          while (fed.length > 1 && fedStart + fed[0]!.length <= inflate.bytesWritten) fedStart += fed.shift()!.length;
          if (inflate.destroyed || inflate.bytesWritten < fedTotal) return;
          let r: IteratorResult<Buffer>;
          try {
            r = await src.next();
          } catch (e) {
            readError = e;
            inflate.destroy(e as Error);
            return;
          }
          if (r.done) {
            srcDone = true;
            inflate.end(); // a member cut short: the inflater says "unexpected end of file"
            return;
          }
          await write(r.value);
        }
      };
      const feeding = feed();
      let crc = 0;
      let size = 0;
      try {
        for await (const chunk of inflate as AsyncIterable<Buffer>) {
          crc = crc32(chunk, crc);
          size += chunk.length;
          yield chunk;
        }
      } catch (e) {
        inflate.destroy();
        await feeding;
        if (readError) throw readError;
        const m = (e as Error).message;
        throw new GzipError(/unexpected end of file/.test(m) ? 'unexpected end of file' : `invalid compressed data--format violated (${m})`);
      }
      await feeding;
      if (readError) throw readError;
      const all = fed.length === 1 ? fed[0]! : Buffer.concat(fed);
      pending = all.subarray(inflate.bytesWritten - fedStart);
      // the trailer: CRC-32 and length (mod 2^32) of the member's data
      await need(8);
      if (pending.readUInt32LE(0) !== crc >>> 0) throw new GzipError('invalid compressed data--crc error');
      if (pending.readUInt32LE(4) !== size % 2 ** 32) throw new GzipError('invalid compressed data--length error');
      pending = pending.subarray(8);
    }
  } finally {
    input.destroy();
  }
}

/** The compressed output: a Writable to push tar bytes into and a promise for when all is on disk. */
export function openSink(compression: TarCompression, fd: number): { stream: Writable; done: Promise<void> } {
  if (compression === 'xz' || compression === 'zstd') {
    const args = compression === 'xz' ? ['-T0', '-c', '-q'] : ['-T0', '-c', '-q', '-3'];
    const { child, done } = spawnFilter(compression, args, ['pipe', fd, 'pipe']);
    child.stdin!.on('error', () => undefined);
    return { stream: child.stdin!, done };
  }
  // plain writes to the page cache are quick: done on the main thread, they never leave it idle
  // waiting for a thread-pool round trip per chunk
  const file = new NodeWritable({
    highWaterMark: 8 << 20,
    write(chunk: Buffer, _enc, cb) {
      try {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  const fileDone = new Promise<void>((res, rej) => {
    file.on('finish', res);
    file.on('error', rej);
  });
  if (compression === 'none') return { stream: file, done: fileDone };
  const gz = createGzip({ level: 6 });
  gz.pipe(file);
  const gzDone = new Promise<void>((res, rej) => gz.on('error', rej).on('end', res));
  return { stream: gz, done: Promise.all([gzDone, fileDone]).then(() => undefined) };
}


// ---- compressors through system tools, streamed ----

export function requireTool(tool: string, why: string): void {
  if (!hasTool(tool)) {
    const pkg = DEBIAN_PACKAGE[tool] ?? tool;
    throw new DomuError('MISSING_TOOL', `${tool} is not installed (needed ${why})`, { hint: `install it with: apt-get install ${pkg}` });
  }
}

/** Spawn a filter tool; resolves when it exits 0, rejects with a DomuError otherwise. */
export function spawnFilter(tool: string, args: string[], stdio: ['pipe' | number, 'pipe' | number, 'pipe']): { child: ChildProcess; done: Promise<void>; stderr: () => string } {
  const child = spawn(tool, args, { stdio });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < 4000) stderr += s;
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new DomuError('MISSING_TOOL', `${tool} is not installed`, { hint: `install it with: apt-get install ${DEBIAN_PACKAGE[tool] ?? tool}` })
        : new DomuError('INTERNAL', `${tool}: ${oneLine(e)}`));
    });
    child.on('close', (code, sig) => {
      if (code === 0) resolve();
      else reject(new DomuError('INTERNAL', `${tool} failed: ${oneLine(stderr) || (sig ? `killed by ${sig}` : `exit status ${code}`)}`));
    });
  });
  done.catch(() => undefined);
  return { child, done, stderr: () => stderr };
}
