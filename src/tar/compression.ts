// Compression: which one an archive uses (by its magic bytes), reading it decompressed and writing
// compressed, streamed, through Node's zlib (gzip) or the standard tools (xz, zstd).

import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable as NodeWritable, type Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
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

/** The archive's tar bytes: the file itself, or its decompressed stream; `tool` settles when a tool exits. */
export async function openDecompressed(file: string, compression: ReadCompression): Promise<{ source: Readable; tool: Promise<void> | undefined; toolStderr: () => string }> {
  let source: Readable;
  let tool: Promise<void> | undefined;
  let toolStderr = () => '';
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  // gzip through its tool when it is there (as GNU tar: text after the stream is then a warning,
  // where Node's zlib fails the whole stream), else Node's zlib
  if (compression === 'gzip' && !hasTool('gzip')) {
    const gunzip = createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    source = input.pipe(gunzip);
  } else if (compression !== 'none') {
    const d = DECOMPRESSORS.find((x) => x.compression === compression)!;
    const fh = await open(file, 'r');
    input.destroy();
    const f = spawnFilter(d.tool, d.args, [fh.fd, 'pipe', 'pipe']);
    f.child.on('spawn', () => void fh.close());
    f.child.on('error', () => void fh.close());
    source = f.child.stdout!;
    tool = f.done;
    toolStderr = f.stderr;
  } else source = input;
  return { source, tool, toolStderr };
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
