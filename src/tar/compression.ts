// Compression: which one an archive uses (by its magic bytes), reading it decompressed and writing
// compressed, streamed, through Node's zlib (gzip) or the standard tools (xz, zstd).

import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable as NodeWritable, type Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { DomuError, oneLine } from '../errors.js';
import { DEBIAN_PACKAGE, hasTool } from '../sys/exec.js';
import type { TarCompression } from './types.js';

export async function sniffCompression(file: string): Promise<TarCompression> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(6);
    await fh.read(head, 0, 6, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (head.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

/** Refuse early, naming the tool, when a compression's tool is missing. */
export function requireCompressionTool(compression: TarCompression, why: string): void {
  if (compression === 'xz' || compression === 'zstd') requireTool(compression, why);
}

/** The archive's tar bytes: the file itself, or its decompressed stream; `tool` settles when a tool exits. */
export async function openDecompressed(file: string, compression: TarCompression): Promise<{ source: Readable; tool: Promise<void> | undefined }> {
  let source: Readable;
  let tool: Promise<void> | undefined;
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    source = input.pipe(gunzip);
  } else if (compression === 'xz' || compression === 'zstd') {
    const fh = await open(file, 'r');
    input.destroy();
    const f = spawnFilter(compression, ['-dc'], [fh.fd, 'pipe', 'pipe']);
    f.child.on('spawn', () => void fh.close());
    f.child.on('error', () => void fh.close());
    source = f.child.stdout!;
    tool = f.done;
  } else source = input;
  return { source, tool };
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
export function spawnFilter(tool: string, args: string[], stdio: ['pipe' | number, 'pipe' | number, 'pipe']): { child: ChildProcess; done: Promise<void> } {
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
  return { child, done };
}
