// The writer: a tree as a POSIX pax tar stream (tar-stream), gzip/xz/zstd compressed, keeping what
// the clone keeps: raw-byte names, nanosecond mtimes, big ids, xattrs and ACLs (SCHILY.xattr.*),
// hard links, devices, fifos, holes (GNU sparse 1.0) and files over 8 GiB. GNU tar extracts it exactly.

import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { lstat, open, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar-stream';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { openSink, requireCompressionTool, requireTool } from './compression.js';
import {
  USTAR_MAX_ID, USTAR_MAX_SIZE, USTAR_MAX_TIME, encodePaxRecord, formatPaxTime, paxBlock, sparseMap, ustarBlock,
  ustarName, ustarTime, xattrPaxKey,
} from './format.js';
import { readXattrs } from './metadata.js';
import { endEntry, pushRaw } from './tar-stream-adapter.js';
import {
  NS, TAR_COMPRESSIONS, emptySummary, printable, type TarSummary, type WriteTarballOptions, type Xattrs,
} from './types.js';

export type { WriteTarballOptions } from './types.js';

const CHUNK = 1 << 20;
const SLASH = Buffer.from('/');
/** Archive bytes gathered before one write to the output. */
const OUT_BATCH = 1 << 20;
const SPARSE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);
const ZERO_CHUNK = Buffer.alloc(CHUNK);

/**
 * Write the tree at `root` to the tarball `file` (written beside it under a temporary name and
 * renamed into place when complete, so a failed or interrupted run leaves no half-written archive).
 * Sockets are skipped and listed; entries that changed while being read are listed in `changed`.
 */
export async function writeTarball(root: string, file: string, opts: WriteTarballOptions): Promise<TarSummary> {
  const started = process.hrtime.bigint();
  if (!TAR_COMPRESSIONS.includes(opts.compression)) {
    throw new DomuError('USAGE', `compression must be one of ${TAR_COMPRESSIONS.join(', ')} (got "${String(opts.compression)}")`);
  }
  const rootPath = resolve(root);
  const rootStat = await stat(rootPath).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new DomuError('BAD_INPUT', `${root} is not a directory`);
  requireCompressionTool(opts.compression, `for --compression ${opts.compression}`);
  requireTool('getfattr', 'to read extended attributes and ACLs');
  const outPath = resolve(file);
  const outDir = dirname(outPath);
  const outDirStat = await stat(outDir).catch(() => undefined);
  if (!outDirStat?.isDirectory()) throw new DomuError('BAD_INPUT', `${outDir} (the tarball's folder) does not exist`);
  opts.signal?.throwIfAborted?.();

  const summary = emptySummary(outPath, rootPath, opts.compression);
  const temp = join(outDir, `.${basename(outPath)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await open(temp, 'wx', 0o644);
  let tempExists = true;
  try {
    const tempStat = await fh.stat({ bigint: true });
    const xattrs = await readXattrs(rootPath, opts.signal);
    const pack = tar.pack();
    const sink = openSink(opts.compression, fh.fd);
    const stop = new AbortController();
    const consume = (async () => {
      // headers come in 512-byte pieces: gather them so the output sees few, large writes
      let parts: Buffer[] = [];
      let held = 0;
      const flush = async () => {
        const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
        parts = [];
        held = 0;
        if (!sink.stream.write(data)) await once(sink.stream, 'drain', { signal: stop.signal });
      };
      for await (const chunk of pack as AsyncIterable<Buffer>) {
        if (chunk.length >= 65536) {
          // file data: written as it is, not copied again
          if (held > 0) await flush();
          parts.push(chunk);
          held = chunk.length;
          await flush();
          continue;
        }
        parts.push(chunk);
        held += chunk.length;
        if (held >= OUT_BATCH) await flush();
      }
      if (held > 0) await flush();
      sink.stream.end();
      await sink.done;
    })();
    consume.catch(() => pack.destroy());
    const writer = new EntryWriter(pack, rootPath, xattrs, summary, opts, `${tempStat.dev}:${tempStat.ino}`);
    try {
      await writer.writeTree();
      pack.finalize();
    } catch (e) {
      stop.abort();
      pack.destroy(e as Error);
      sink.stream.destroy();
      await consume.catch(() => undefined);
      throw e;
    }
    await consume;
    await fh.sync();
    await fh.close();
    await rename(temp, outPath);
    tempExists = false;
    summary.archiveBytes = (await stat(outPath)).size;
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (tempExists) await rm(temp, { force: true }).catch(() => undefined);
    throw wrapError(e, opts.signal);
  }
  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return summary;
}

function wrapError(e: unknown, signal?: AbortSignal): DomuError {
  if (signal?.aborted) return new DomuError('INTERRUPTED', 'interrupted; the partial tarball was removed');
  if (e instanceof DomuError) return e;
  const code = errnoCode(e);
  if (code === 'ENOSPC') return new DomuError('ENVIRONMENT', 'no space left on the device holding the tarball; the partial tarball was removed');
  return new DomuError('INTERNAL', `writing the tarball failed: ${oneLine(e)}`);
}

type Hdr = Partial<tar.Header> & { name: string };
interface SparseLayout {
  /** The map as GNU sparse 1.0 writes it, padded to whole blocks. */
  map: Buffer;
  /** [offset, size] of each data segment, in order. */
  segments: Array<[number, number]>;
}
type Content = { size: bigint; layout?: SparseLayout | undefined };
type Sink = ReturnType<tar.Pack['entry']>;
type EntryType = 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';

class EntryWriter {
  private readonly hardlinks = new Map<string, Buffer>();
  private lastProgress = 0;
  private readonly rootBuf: Buffer;

  constructor(
    private readonly pack: tar.Pack,
    private readonly rootPath: string,
    private readonly xattrs: Map<string, Xattrs>,
    private readonly summary: TarSummary,
    private readonly opts: WriteTarballOptions,
    private readonly skipIno: string,
  ) {
    this.rootBuf = Buffer.from(rootPath);
  }

  async writeTree(): Promise<void> {
    const st = await lstat(this.rootPath, { bigint: true });
    await this.writeEntry(Buffer.alloc(0), st);
    await this.writeDir(Buffer.alloc(0));
    this.opts.onProgress?.({ phase: 'write', entries: this.summary.entries, bytes: this.summary.bytes });
  }

  private abs(rel: Buffer): Buffer {
    return rel.length === 0 ? this.rootBuf : Buffer.concat([this.rootBuf, SLASH, rel]);
  }

  // The walk and the reads use the synchronous calls: on a warm cache a syscall takes microseconds,
  // while a trip through libuv's thread pool per call made the writer several times slower.
  private async writeDir(rel: Buffer): Promise<void> {
    let names: Buffer[];
    try {
      names = readdirSync(this.abs(rel), { encoding: 'buffer' }).sort(Buffer.compare);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') {
        this.summary.changed.push({ path: printable(rel), reason: 'directory vanished while being read' });
        return;
      }
      throw e;
    }
    for (const name of names) {
      const child = rel.length === 0 ? name : Buffer.concat([rel, SLASH, name]);
      const st = lstatSync(this.abs(child), { bigint: true, throwIfNoEntry: false });
      if (!st) {
        this.summary.changed.push({ path: printable(child), reason: 'vanished while being read' });
        continue;
      }
      await this.writeEntry(child, st);
      if (st.isDirectory()) await this.writeDir(child);
    }
  }

  private async writeEntry(rel: Buffer, st: BigIntStats): Promise<void> {
    if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
    if (`${st.dev}:${st.ino}` === this.skipIno) return; // the tarball being written lives inside the tree
    if (st.isSocket()) {
      this.summary.skipped.push({ path: printable(rel), reason: 'socket (a tarball cannot hold sockets)' });
      return;
    }
    const isDir = st.isDirectory();
    const name = rel.length === 0 ? Buffer.from('./') : Buffer.concat([Buffer.from('./'), rel, Buffer.from(isDir ? '/' : '')]);
    const records: Buffer[] = [];
    const header: Hdr = {
      name: '', type: 'file', mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: 0,
      mtime: ustarTime(st.mtimeNs),
    };
    const nameRecords: Buffer[] = [];
    header.name = ustarName(name, nameRecords, 'path');
    records.push(...nameRecords);
    if (st.uid > BigInt(USTAR_MAX_ID)) records.push(encodePaxRecord('uid', Buffer.from(String(st.uid))));
    if (st.gid > BigInt(USTAR_MAX_ID)) records.push(encodePaxRecord('gid', Buffer.from(String(st.gid))));
    if (st.mtimeNs % NS !== 0n || st.mtimeNs < 0n || st.mtimeNs / NS > BigInt(USTAR_MAX_TIME)) {
      records.push(encodePaxRecord('mtime', Buffer.from(formatPaxTime(st.mtimeNs))));
    }

    // a further name of an inode already written: a hard link to the first name
    if (!isDir && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.hardlinks.get(key);
      if (first) {
        header.type = 'link';
        header.linkname = ustarName(first, records, 'linkpath');
        await this.emit(header, records, null, rel);
        this.summary.hardlinks += 1;
        return;
      }
      this.hardlinks.set(key, name);
    }

    const attrs = this.xattrs.get(this.abs(rel).toString('latin1'));
    if (attrs && attrs.length > 0) {
      for (const [n, v] of attrs) records.push(encodePaxRecord(xattrPaxKey(n), v));
      this.summary.withXattrs += 1;
    }

    let type: EntryType;
    let content: Content | null = null;
    if (st.isFile()) {
      type = 'file';
      // fewer blocks than the size needs: look for holes, and store them as GNU sparse 1.0 does
      const layout = this.opts.sparse !== false && st.size >= 65536n && st.blocks * 512n < st.size ? this.sparseLayout(rel, st.size) : undefined;
      let stored = st.size;
      if (layout) {
        for (const r of nameRecords) records.splice(records.indexOf(r), 1);
        const base = name.toString('latin1').split('/').pop()!.replace(/[^\x20-\x7e]/g, '_');
        header.name = `./GNUSparseFile.0/${base}`.slice(0, 100);
        records.push(
          encodePaxRecord('GNU.sparse.major', Buffer.from('1')), encodePaxRecord('GNU.sparse.minor', Buffer.from('0')),
          encodePaxRecord('GNU.sparse.name', name), encodePaxRecord('GNU.sparse.realsize', Buffer.from(String(st.size))),
        );
        stored = BigInt(layout.map.length) + layout.segments.reduce((a, [, n]) => a + BigInt(n), 0n);
        this.summary.sparse += 1;
      }
      content = { size: stored, layout };
      header.size = Number(stored);
      if (stored > BigInt(USTAR_MAX_SIZE)) records.push(encodePaxRecord('size', Buffer.from(String(stored))));
    } else if (isDir) type = 'directory';
    else if (st.isSymbolicLink()) {
      type = 'symlink';
      let target: Buffer;
      try {
        target = readlinkSync(this.abs(rel), { encoding: 'buffer' });
      } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'EINVAL') {
          this.summary.changed.push({ path: printable(rel), reason: 'vanished while being read' });
          return;
        }
        throw e;
      }
      header.linkname = ustarName(target, records, 'linkpath');
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      type = st.isCharacterDevice() ? 'character-device' : 'block-device';
      header.devmajor = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
      header.devminor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
    } else if (st.isFIFO()) type = 'fifo';
    else {
      this.summary.skipped.push({ path: printable(rel), reason: 'unknown file type' });
      return;
    }
    header.type = type;
    await this.emit(header, records, content, rel);
    if (type === 'file') this.summary.files += 1;
    else if (type === 'directory') this.summary.directories += 1;
    else if (type === 'symlink') this.summary.symlinks += 1;
    else if (type === 'fifo') this.summary.fifos += 1;
    else this.summary.devices += 1;
  }

  /** The pax extended header (raw bytes, our own), then the entry itself through tar-stream. */
  private async emit(header: Hdr, records: Buffer[], content: Content | null, rel: Buffer): Promise<void> {
    if (records.length > 0) {
      const data = Buffer.concat(records);
      const pad = (512 - (data.length % 512)) % 512;
      // tar-stream's own pax writer encodes UTF-8 strings only; raw names need raw records
      pushRaw(this.pack, Buffer.concat([paxBlock(header, data.length), data, Buffer.alloc(pad)]));
    }
    if ((header.type === 'character-device' || header.type === 'block-device') &&
      ((header.devmajor ?? 0) > USTAR_MAX_ID || (header.devminor ?? 0) > USTAR_MAX_ID)) {
      // tar-stream writes six octal digits; a minor up to 2^20-1 needs base-256
      pushRaw(this.pack, ustarBlock({
        name: header.name, typeflag: header.type === 'character-device' ? '3' : '4', mode: header.mode ?? 0, size: 0,
        mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000), uid: Math.min(header.uid ?? 0, USTAR_MAX_ID), gid: Math.min(header.gid ?? 0, USTAR_MAX_ID),
        devmajor: header.devmajor ?? 0, devminor: header.devminor ?? 0,
      }));
      this.summary.entries += 1;
      return;
    }
    let sink!: Sink;
    const done = new Promise<void>((res, rej) => {
      sink = this.pack.entry(header, (err) => (err ? rej(err) : res()));
    });
    if (content?.layout) await this.copySparse(rel, content.layout, sink);
    else if (content) await this.copyContent(rel, content.size, sink);
    await done;
    this.summary.entries += 1;
    const now = Date.now();
    if (this.opts.onProgress && now - this.lastProgress >= 100) {
      this.lastProgress = now;
      this.opts.onProgress({ phase: 'write', entries: this.summary.entries, bytes: this.summary.bytes });
    }
  }

  /**
   * The data segments of a file with holes: 4 KiB blocks that are not all zeros, merged, and a last
   * empty segment at the end when the file ends in a hole (as GNU tar writes it). Undefined when
   * there are no holes after all, or the file is gone.
   */
  private sparseLayout(rel: Buffer, size: bigint): SparseLayout | undefined {
    let fd: number;
    try {
      fd = openSync(this.abs(rel), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    const segments: Array<[number, number]> = [];
    try {
      const total = Number(size);
      const buf = Buffer.allocUnsafe(CHUNK);
      let at = 0;
      let start = -1;
      while (at < total) {
        const want = Math.min(CHUNK, total - at);
        let got = 0;
        while (got < want) {
          const n = readSync(fd, buf, got, want - got, at + got);
          if (n === 0) break;
          got += n;
        }
        if (got < want) buf.fill(0, got, want); // shrank meanwhile: copySparse lists it
        if (buf.compare(ZERO_CHUNK, 0, want, 0, want) === 0) {
          // a whole chunk of zeros (the common case in a hole): one comparison instead of 256
          if (start >= 0) {
            segments.push([start, at - start]);
            start = -1;
          }
          at += want;
          continue;
        }
        for (let off = 0; off < want; off += SPARSE_BLOCK) {
          const len = Math.min(SPARSE_BLOCK, want - off);
          const zero = buf.compare(ZERO_BLOCK, 0, len, off, off + len) === 0;
          if (!zero && start < 0) start = at + off;
          if (zero && start >= 0) {
            segments.push([start, at + off - start]);
            start = -1;
          }
        }
        at += want;
      }
      if (start >= 0) segments.push([start, total - start]);
      const dataBytes = segments.reduce((a, [, n]) => a + n, 0);
      if (dataBytes === total) return undefined;
      const last = segments[segments.length - 1];
      if (!last || last[0] + last[1] < total) segments.push([total, 0]);
      return { map: sparseMap(segments), segments };
    } finally {
      closeSync(fd);
    }
  }

  /** Open a file to store its content; undefined (and listed) when it vanished since the walk. */
  private openForRead(rel: Buffer): number | undefined {
    try {
      return openSync(this.abs(rel), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'ELOOP') throw e;
      this.summary.changed.push({ path: printable(rel), reason: 'vanished while being read (stored as zeros)' });
      return undefined;
    }
  }

  /** The map block, then each data segment read where it lies (zeros, listed, if the file shrank). */
  private async copySparse(rel: Buffer, layout: SparseLayout, sink: Sink): Promise<void> {
    if (!sink.write(layout.map)) await drained(sink);
    const fd = this.openForRead(rel);
    let short = false;
    try {
      for (const [off, size] of layout.segments) {
        let pos = off;
        let left = size;
        while (left > 0) {
          const want = Math.min(CHUNK, left);
          const buf = Buffer.allocUnsafe(want);
          let got = 0;
          while (fd !== undefined && got < want) {
            const n = readSync(fd, buf, got, want - got, pos + got);
            if (n === 0) break;
            got += n;
          }
          if (got < want) {
            buf.fill(0, got);
            if (fd !== undefined) short = true;
          }
          pos += want;
          left -= want;
          this.summary.bytes += want;
          if (!sink.write(buf)) await drained(sink);
          if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
        }
      }
      if (short) this.summary.changed.push({ path: printable(rel), reason: 'shrank while being read (padded with zeros)' });
      endEntry(sink);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Exactly `size` bytes of the file: zero-padded if it shrank, cut if it grew (both listed). */
  private async copyContent(rel: Buffer, size: bigint, sink: Sink): Promise<void> {
    let fd = this.openForRead(rel);
    let left = Number(size);
    try {
      while (left > 0) {
        const want = Math.min(CHUNK, left);
        let buf = Buffer.allocUnsafe(want);
        let got = 0;
        if (fd !== undefined) {
          while (got < want) {
            const n = readSync(fd, buf, got, want - got, null);
            if (n === 0) break;
            got += n;
          }
        }
        if (got === 0) {
          if (fd !== undefined) this.summary.changed.push({ path: printable(rel), reason: 'shrank while being read (padded with zeros)' });
          if (fd !== undefined) closeSync(fd);
          fd = undefined;
          buf.fill(0);
          got = want;
        } else if (got < want) buf = buf.subarray(0, got);
        left -= got;
        this.summary.bytes += got;
        if (!sink.write(buf)) await drained(sink);
        if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
      }
      if (fd !== undefined && fstatSync(fd, { bigint: true }).size > size) {
        this.summary.changed.push({ path: printable(rel), reason: 'grew while being read (cut to its first size)' });
      }
      endEntry(sink);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

/** Wait for 'drain'; fail instead of hanging when the stream is destroyed meanwhile. */
function drained(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((res, rej) => {
    const done = (err?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
      if (err) rej(err);
      else res();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the tar stream was closed'));
    const onError = (e: unknown) => done(e);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
  });
}
