// Rootfs tarball in (xen-tools' "tar" install method): extract a tarball made by GNU tar, mmdebstrap
// or writeTarball into a directory with full fidelity, safely. A first pass checks the whole archive
// (checksums, truncation, names, link targets, symlink planting, depth, devices) before anything is
// written; the second pass never follows a symlink in the target and never leaves the target root.

import {
  closeSync, constants as fsc, createReadStream, fchmodSync, fchownSync, ftruncateSync, lchownSync, linkSync, lstatSync,
  mkdirSync, openSync, rmdirSync, symlinkSync, unlinkSync, writeSync,
} from 'node:fs';
import { link, lstat, lutimes, mkdir, open, readdir, readFile, rm, lchown, chmod, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { hasTool } from '../sys/exec.js';
import {
  aclTextToXattr, decodePaxRecords, emptySummary, idResolverFrom, parsePaxTime, printable, requireTool,
  setfattrBlock, spawnFilter, xattrNameFromPaxKey, type IdResolver, type TarCompression, type TarProgress,
  type TarSummary, type Xattrs,
} from './tar-common.js';

export interface ExtractTarballOptions {
  /** Create device files the archive holds. Without it an archive with devices is refused. */
  trusted?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TarProgress) => void;
  /** Refuse paths with more components than this (a depth bomb). Default 1024, as node-tar. */
  maxDepth?: number;
}

type Kind = 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';

interface Entry {
  /** Normalised relative path, raw bytes; empty for the root itself. */
  path: Buffer;
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  atimeNs: bigint | undefined;
  /** Symlink target verbatim, or the normalised path a hard link points to. */
  linkname: Buffer | null;
  devmajor: number;
  devminor: number;
  xattrs: Xattrs;
  aclAccess: string | undefined;
  aclDefault: string | undefined;
  /** GNU sparse 1.0 (tar -S --format=posix): the file's real size; the body holds a map, then the data. */
  sparseSize: number | undefined;
}

const NS = 1_000_000_000n;
const PATH_MAX = 4096;
const ZEROS = Buffer.alloc(1 << 20);

/**
 * Extract the tarball `file` (plain, gzip, xz or zstd, found by its magic) into the directory
 * `root`, which is created when missing. On any refusal nothing is written; on a failure in the
 * middle, everything this run created is removed again (entries that were already in `root` and
 * got replaced stay replaced).
 */
export async function extractTarball(file: string, root: string, opts: ExtractTarballOptions = {}): Promise<TarSummary> {
  const started = process.hrtime.bigint();
  const fileStat = await stat(file).catch(() => undefined);
  if (!fileStat?.isFile()) throw new DomuError('BAD_INPUT', `${file} is not a file`);
  const maxDepth = opts.maxDepth ?? 1024;
  const rootPath = resolve(root);
  const rootStat = await lstat(rootPath).catch(() => undefined);
  if (rootStat && !rootStat.isDirectory()) throw new DomuError('BAD_INPUT', `${root} exists and is not a directory`);
  const compression = await sniffCompression(file);
  if (compression === 'xz' || compression === 'zstd') requireTool(compression, `to read a ${compression} archive`);
  const summary = emptySummary(resolve(file), rootPath, compression);

  // pass 1: check everything that can be checked without touching the target
  const scan = await scanArchive(file, compression, Buffer.byteLength(rootPath), maxDepth, opts);
  refuseDevices(scan, opts);
  if (scan.hasXattrs) requireTool('setfattr', 'to restore extended attributes and ACLs');

  // pass 2: extract
  const before = rootStat ? new Set((await readdir(rootPath, { encoding: 'buffer' })).map((n) => n.toString('latin1'))) : null;
  if (!before) await mkdir(rootPath, { recursive: true, mode: 0o755 });
  const extractor = new Extractor(rootPath, summary, opts, scan);
  try {
    await readArchive(file, compression, opts.signal, (e, body) => extractor.entry(e, body));
    await extractor.finish();
  } catch (e) {
    await extractor.undo(before).catch(() => undefined);
    if (opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted; what was extracted so far was removed');
    if (e instanceof DomuError) throw e;
    if (errnoCode(e) === 'ENOSPC') throw new DomuError('ENVIRONMENT', `no space left in ${root}; what was extracted so far was removed`);
    throw new DomuError('INTERNAL', `extracting ${file} failed: ${oneLine(e)}; what was extracted so far was removed`);
  }
  summary.archiveBytes = fileStat.size;
  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return summary;
}

function refuseDevices(scan: ScanResult, opts: ExtractTarballOptions): void {
  if (scan.deviceCount > 0 && !opts.trusted) {
    throw new DomuError('BAD_INPUT',
      `the archive holds ${scan.deviceCount} device file(s) (first: ${scan.devices[0]}); nothing was extracted`,
      { hint: 'devices in an archive are created only when you trust it: pass --trusted' });
  }
}

export interface TarballCheck {
  compression: TarCompression;
  entries: number;
  /** Content bytes of the regular files. */
  bytes: number;
  devices: number;
}

/**
 * Check a tarball the way extractTarball's first pass does (and refuse devices unless trusted),
 * without writing anything: for sizing an image before it is made, and for a dry run.
 */
export async function checkTarball(file: string, opts: ExtractTarballOptions = {}): Promise<TarballCheck> {
  const fileStat = await stat(file).catch(() => undefined);
  if (!fileStat?.isFile()) throw new DomuError('BAD_INPUT', `${file} is not a file`);
  const compression = await sniffCompression(file);
  if (compression === 'xz' || compression === 'zstd') requireTool(compression, `to read a ${compression} archive`);
  const scan = await scanArchive(file, compression, 0, opts.maxDepth ?? 1024, opts);
  refuseDevices(scan, opts);
  return { compression, entries: scan.entries, bytes: scan.bytes, devices: scan.deviceCount };
}

async function sniffCompression(file: string): Promise<TarCompression> {
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

// ---- reading: tar-stream, with pax records kept as raw bytes ----

interface PaxPatchable {
  _decodeLongHeader: (buf: Buffer) => void;
  _header: { type: string | null };
  _pax: Record<string, string> | null;
  _paxGlobal: Record<string, string> | null;
  _gnuLongPath: string | null;
  _gnuLongLinkPath: string | null;
}

/** tar-stream decodes pax values as UTF-8, which corrupts raw names and binary xattrs: keep bytes (as latin1). */
function keepRawPax(ex: tar.Extract): void {
  const target = ex as unknown as PaxPatchable;
  if (typeof target._decodeLongHeader !== 'function') {
    throw new DomuError('INTERNAL', 'the installed tar-stream cannot be made to keep raw pax records (version changed?)');
  }
  target._decodeLongHeader = function (this: PaxPatchable, buf: Buffer) {
    const type = this._header.type;
    if (type === 'pax-header' || type === 'pax-global-header') {
      const obj: Record<string, string> = type === 'pax-header' && this._paxGlobal ? { ...this._paxGlobal } : {};
      for (const [k, v] of decodePaxRecords(buf)) obj[k] = v.toString('latin1');
      if (type === 'pax-global-header') this._paxGlobal = obj;
      else this._pax = obj;
    } else if (type === 'gnu-long-path' || type === 'gnu-long-link-path') {
      const nul = buf.indexOf(0);
      const text = buf.toString('latin1', 0, nul < 0 ? buf.length : nul);
      if (type === 'gnu-long-path') this._gnuLongPath = text;
      else this._gnuLongLinkPath = text;
    }
  };
}

class EntryError extends Error {}

/** Read every entry of the archive in order; `onEntry` gets the parsed header and the body. */
async function readArchive(
  file: string, compression: TarCompression, signal: AbortSignal | undefined,
  onEntry: (e: Entry, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
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

  const ex = tar.extract({ filenameEncoding: 'latin1' } as Parameters<typeof tar.extract>[0]);
  keepRawPax(ex);
  let total = 0;
  let lastEnd = 0;
  const feed = (async () => {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (!ex.write(chunk)) await once(ex as unknown as NodeJS.EventEmitter, 'drain');
    }
    (ex as unknown as { end(): void }).end();
  })();
  feed.catch((e: unknown) => ex.destroy(e as Error));
  try {
    for await (const stream of ex) {
      if (signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
      const h = stream.header;
      lastEnd = ((h as unknown as { byteOffset: number }).byteOffset ?? 0) + Math.ceil(h.size / 512) * 512;
      const entry = parseHeader(h);
      await onEntry(entry, stream as unknown as AsyncIterable<Buffer>);
      for await (const chunk of stream as unknown as AsyncIterable<Buffer>) void chunk; // whatever was not read
    }
    await feed;
    if (tool) await tool;
  } catch (e) {
    source.destroy();
    if (e instanceof DomuError) throw e;
    if (e instanceof EntryError) throw new DomuError('BAD_INPUT', e.message);
    const msg = oneLine(e);
    if (/unexpected end/i.test(msg)) throw new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
    if (/invalid tar header|checksum/i.test(msg)) throw new DomuError('BAD_INPUT', `${file} is damaged: a header has a bad checksum or is not a tar header`);
    if (/invalid header/i.test(msg)) throw new DomuError('BAD_INPUT', `${file} is damaged: an entry has an invalid (negative or malformed) size`);
    if (/incorrect header check|unexpected end of file|invalid|corrupt/i.test(msg)) throw new DomuError('BAD_INPUT', `${file} cannot be decompressed: ${msg}`);
    throw new DomuError('BAD_INPUT', `${file} cannot be read as a tar archive: ${msg}`);
  }
  if (total < lastEnd + 512) throw new DomuError('BAD_INPUT', `${file} is truncated (the end-of-archive marker is missing)`);
}

function parseHeader(h: tar.Header): Entry {
  const pax = (h.pax ?? {}) as Record<string, string>;
  let name = Buffer.from(h.name, 'latin1');
  const where = printable(name);
  if (h.type === null || h.type === undefined) throw new EntryError(`${where}: unsupported entry type (old GNU sparse, multi-volume or incremental entries are not supported)`);
  let sparseSize: number | undefined;
  if (Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'))) {
    if (pax['GNU.sparse.major'] !== '1' || pax['GNU.sparse.minor'] !== '0' || !pax['GNU.sparse.name'] || !/^[0-9]{1,15}$/.test(pax['GNU.sparse.realsize'] ?? '')) {
      throw new EntryError(`${where}: only GNU sparse format 1.0 is supported (tar's default for --format=posix); make the archive with --sparse-version=1.0 or without --sparse`);
    }
    name = Buffer.from(pax['GNU.sparse.name'], 'latin1');
    sparseSize = Number(pax['GNU.sparse.realsize']);
  }
  let kind: Kind;
  switch (h.type) {
    case 'file': case 'contiguous-file': kind = 'file'; break;
    case 'link': case 'symlink': case 'directory': case 'character-device': case 'block-device': case 'fifo': kind = h.type; break;
    default: throw new EntryError(`${where}: unsupported entry type ${h.type}`);
  }
  const num = (key: string, fallback: number): number => {
    const v = pax[key];
    if (v === undefined || v === '') return fallback;
    if (!/^[0-9]{1,15}$/.test(v)) throw new EntryError(`${where}: malformed pax ${key} "${v}"`);
    return Number(v);
  };
  const time = (key: string): bigint | undefined => {
    const v = pax[key];
    if (v === undefined || v === '') return undefined;
    try {
      return parsePaxTime(v);
    } catch {
      throw new EntryError(`${where}: malformed pax ${key} "${v}"`);
    }
  };
  const xattrs: Xattrs = [];
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith('SCHILY.xattr.')) xattrs.push([xattrNameFromPaxKey(k), Buffer.from(v, 'latin1')]);
  }
  const uid = num('uid', h.uid);
  const gid = num('gid', h.gid);
  if (!(uid >= 0 && gid >= 0 && uid <= 0xfffffffe && gid <= 0xfffffffe)) throw new EntryError(`${where}: invalid owner ${uid}:${gid}`);
  return {
    path: name, kind, mode: h.mode & 0o7777, uid, gid, size: h.size,
    mtimeNs: time('mtime') ?? BigInt(Math.floor(h.mtime.getTime() / 1000)) * NS,
    atimeNs: time('atime'),
    linkname: h.linkname === null || h.linkname === undefined ? null : Buffer.from(h.linkname, 'latin1'),
    devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0, xattrs,
    aclAccess: pax['SCHILY.acl.access'] ? Buffer.from(pax['SCHILY.acl.access'], 'latin1').toString('utf8') : undefined,
    aclDefault: pax['SCHILY.acl.default'] ? Buffer.from(pax['SCHILY.acl.default'], 'latin1').toString('utf8') : undefined,
    sparseSize,
  };
}

/**
 * The body of a GNU sparse 1.0 entry: decimal lines (the number of segments, then offset and size
 * of each), zero padding to a 512-byte block, then the segments' data in order. Calls `write` for
 * each piece of data at its offset; throws EntryError on a malformed or lying map.
 */
async function readSparseBody(body: AsyncIterable<Buffer>, realSize: number, where: string, write: (data: Buffer, pos: number) => void): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  const more = async (): Promise<void> => {
    const r = await it.next();
    if (r.done) throw new EntryError(`${where}: the GNU sparse map or data is cut short`);
    pending = pending.length === 0 ? r.value : Buffer.concat([pending, r.value]);
  };
  let used = 0;
  const line = async (): Promise<number> => {
    let nl = pending.indexOf(0x0a);
    while (nl < 0) {
      if (pending.length > 64) throw new EntryError(`${where}: malformed GNU sparse map`);
      await more();
      nl = pending.indexOf(0x0a);
    }
    const text = pending.toString('latin1', 0, nl);
    if (!/^[0-9]{1,15}$/.test(text)) throw new EntryError(`${where}: malformed GNU sparse map`);
    pending = pending.subarray(nl + 1);
    used += nl + 1;
    return Number(text);
  };
  const count = await line();
  if (count > 1_000_000) throw new EntryError(`${where}: GNU sparse map with ${count} segments`);
  const segments: Array<[number, number]> = [];
  let end = 0;
  for (let i = 0; i < count; i++) {
    const off = await line();
    const size = await line();
    if (off < end || off + size > realSize) throw new EntryError(`${where}: GNU sparse map segments overlap or pass the file's size`);
    end = off + size;
    segments.push([off, size]);
  }
  let pad = (512 - (used % 512)) % 512;
  while (pending.length < pad) await more();
  pending = pending.subarray(pad);
  for (const [off, size] of segments) {
    let pos = off;
    let left = size;
    while (left > 0) {
      if (pending.length === 0) await more();
      const n = Math.min(left, pending.length);
      write(pending.subarray(0, n), pos);
      pending = pending.subarray(n);
      pos += n;
      left -= n;
    }
  }
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    pending = Buffer.concat([pending, r.value]);
  }
  if (pending.length > 0) throw new EntryError(`${where}: GNU sparse entry holds more data than its map says`);
}

/** "./a//b/." -> "a/b"; refuses absolute names, "..", NUL and depth bombs. */
function normalise(name: Buffer, what: string, maxDepth: number): Buffer {
  const where = printable(name);
  if (name.includes(0)) throw new EntryError(`${what} ${where} contains a NUL byte`);
  if (name[0] === 0x2f) throw new EntryError(`${what} ${where} is an absolute path; refusing to extract outside the target`);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === 0x2f) {
      const part = name.subarray(start, i);
      start = i + 1;
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
      if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) throw new EntryError(`${what} ${where} contains ".."; refusing to extract outside the target`);
      parts.push(part);
    }
  }
  if (parts.length > maxDepth) throw new EntryError(`${what} ${where.slice(0, 60)}... is ${parts.length} levels deep (more than ${maxDepth}): refusing a depth bomb`);
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from('/'));
    out.push(p);
  });
  return Buffer.concat(out);
}

function parentsOf(path: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < path.length; i++) if (path[i] === 0x2f) out.push(path.subarray(0, i));
  return out;
}

// ---- pass 1 ----

interface ScanResult {
  entries: number;
  bytes: number;
  devices: string[];
  deviceCount: number;
  hasXattrs: boolean;
}

async function scanArchive(file: string, compression: TarCompression, rootLen: number, maxDepth: number, opts: ExtractTarballOptions): Promise<ScanResult> {
  const kinds = new Map<string, Kind>([['', 'directory']]);
  const result: ScanResult = { entries: 0, bytes: 0, devices: [], deviceCount: 0, hasXattrs: false };
  let last = 0;
  await readArchive(file, compression, opts.signal, async (e, body) => {
    const path = normalise(e.path, 'entry', maxDepth);
    const where = printable(path) || '.';
    if (rootLen + 1 + path.length >= PATH_MAX) throw new EntryError(`entry ${where.slice(0, 60)}... is too long: the target path would exceed PATH_MAX (${PATH_MAX})`);
    if (path.length === 0 && e.kind !== 'directory') throw new EntryError('the archive\'s root entry "." is not a directory');
    // planting: nothing may be written through a symlink (or a non-directory) the archive put there
    const through = (p: Buffer, what: string) => {
      for (const parent of parentsOf(p)) {
        const k = kinds.get(parent.toString('latin1'));
        if (k === 'symlink') throw new EntryError(`${what} ${printable(p)} goes through the symbolic link ${printable(parent)} the archive created earlier; refusing to extract through it`);
        if (k !== undefined && k !== 'directory') throw new EntryError(`${what} ${printable(p)} goes through ${printable(parent)}, which the archive made a ${k}`);
      }
    };
    through(path, 'entry');
    let kind = e.kind;
    if (kind === 'link') {
      if (!e.linkname || e.linkname.length === 0) throw new EntryError(`hard link ${where} has no target`);
      const target = normalise(e.linkname, `hard link ${where} points to`, maxDepth);
      through(target, `hard link ${where} points to`);
      const tk = kinds.get(target.toString('latin1'));
      if (tk === undefined) throw new EntryError(`hard link ${where} points to ${printable(target)}, which is not earlier in the archive; refusing a link outside it`);
      if (tk === 'directory') throw new EntryError(`hard link ${where} points to the directory ${printable(target)}`);
      kind = tk;
    }
    if (e.kind === 'symlink' && (!e.linkname || e.linkname.length === 0 || e.linkname.includes(0))) throw new EntryError(`symbolic link ${where} has an empty or invalid target`);
    if (e.kind === 'character-device' || e.kind === 'block-device') {
      result.deviceCount += 1;
      if (result.devices.length < 10) result.devices.push(where);
    }
    if (e.xattrs.length > 0 || e.aclAccess || e.aclDefault) result.hasXattrs = true;
    if (e.sparseSize !== undefined) await readSparseBody(body, e.sparseSize, where, () => undefined);
    kinds.set(path.toString('latin1'), kind);
    result.entries += 1;
    if (e.kind === 'file') result.bytes += e.sparseSize ?? e.size;
    const now = Date.now();
    if (opts.onProgress && now - last >= 100) {
      last = now;
      opts.onProgress({ phase: 'scan', entries: result.entries, bytes: result.bytes });
    }
  });
  return result;
}

// ---- pass 2 ----

interface Meta {
  rel: Buffer;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  atimeNs: bigint | undefined;
}

class Extractor {
  private readonly rootBuf: Buffer;
  /** Relative paths known to be real directories made or checked by this run. */
  private readonly dirs = new Set<string>(['']);
  private readonly dirMeta = new Map<string, Meta & { xattrs: Xattrs; aclAccess?: string; aclDefault?: string }>();
  private readonly nodes: Array<Meta & { kind: Kind; devmajor: number; devminor: number }> = [];
  private readonly pendingNodes = new Set<string>();
  private readonly deferredLinks: Array<{ rel: Buffer; target: Buffer }> = [];
  private readonly xattrQueue: Array<{ rel: Buffer; xattrs: Xattrs; aclAccess?: string; aclDefault?: string }> = [];
  private readonly times: Array<{ rel: Buffer; mtimeNs: bigint; atimeNs: bigint | undefined }> = [];
  private lastProgress = 0;

  constructor(
    private readonly rootPath: string,
    private readonly summary: TarSummary,
    private readonly opts: ExtractTarballOptions,
    private readonly scan: ScanResult,
  ) {
    this.rootBuf = Buffer.from(rootPath);
  }

  private abs(rel: Buffer): Buffer {
    return rel.length === 0 ? this.rootBuf : Buffer.concat([this.rootBuf, Buffer.from('/'), rel]);
  }

  /** Make sure every parent of `rel` is a real directory, creating missing ones; never follow a symlink. */
  private ensureParents(rel: Buffer): void {
    const parents = parentsOf(rel);
    if (parents.length === 0 || this.dirs.has(parents[parents.length - 1]!.toString('latin1'))) return;
    for (const p of parents) {
      const key = p.toString('latin1');
      if (this.dirs.has(key)) continue;
      const st = lstatSync(this.abs(p), { throwIfNoEntry: false });
      if (!st) {
        mkdirSync(this.abs(p), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw new DomuError('BAD_INPUT', `refusing to extract ${printable(rel)}: ${printable(p)} is a symbolic link in the target`);
      } else if (!st.isDirectory()) {
        throw new DomuError('BAD_INPUT', `cannot extract ${printable(rel)}: ${printable(p)} is not a directory in the target`);
      }
      this.dirs.add(key);
    }
  }

  /** Clear the way for a new entry at `rel`: remove a non-directory (or an empty directory) there. */
  private clear(rel: Buffer, wantDir: boolean): boolean {
    const st = lstatSync(this.abs(rel), { throwIfNoEntry: false });
    if (!st) return false;
    if (st.isDirectory()) {
      if (wantDir) return true;
      try {
        rmdirSync(this.abs(rel));
      } catch (e) {
        if (errnoCode(e) === 'ENOTEMPTY' || errnoCode(e) === 'EEXIST') throw new DomuError('BAD_INPUT', `cannot replace the non-empty directory ${printable(rel)} with a ${wantDir ? 'directory' : 'non-directory'}`);
        throw e;
      }
      const key = rel.toString('latin1');
      for (const d of this.dirs) if (d === key || d.startsWith(`${key}/`)) this.dirs.delete(d);
      this.dirMeta.delete(key);
      return false;
    }
    unlinkSync(this.abs(rel));
    return false;
  }

  async entry(e: Entry, body: AsyncIterable<Buffer>): Promise<void> {
    if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
    const rel = normalise(e.path, 'entry', this.opts.maxDepth ?? 1024);
    const key = rel.toString('latin1');
    if (rel.length > 0) this.ensureParents(rel);
    const meta: Meta = { rel, mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs, atimeNs: e.atimeNs };
    const extra = { xattrs: e.xattrs, aclAccess: e.aclAccess, aclDefault: e.aclDefault };
    switch (e.kind) {
      case 'directory': {
        if (rel.length > 0) {
          const exists = this.clear(rel, true);
          if (!exists) mkdirSync(this.abs(rel), { mode: 0o700 });
          this.dirs.add(key);
        }
        this.dirMeta.set(key, { ...meta, ...extra });
        this.summary.directories += 1;
        break;
      }
      case 'file': {
        this.clear(rel, false);
        await this.writeFile(rel, e, body);
        this.queueXattrs(rel, extra);
        this.times.push(meta);
        this.summary.files += 1;
        this.summary.bytes += e.sparseSize ?? e.size;
        break;
      }
      case 'symlink': {
        this.clear(rel, false);
        symlinkSync(e.linkname!, this.abs(rel));
        lchownSync(this.abs(rel), e.uid, e.gid);
        this.queueXattrs(rel, extra);
        this.times.push(meta);
        this.summary.symlinks += 1;
        break;
      }
      case 'link': {
        const target = normalise(e.linkname!, 'hard link target', this.opts.maxDepth ?? 1024);
        if (target.equals(rel)) break; // a link to itself: nothing to do
        this.ensureParents(target);
        this.clear(rel, false);
        if (this.pendingNodes.has(target.toString('latin1'))) {
          this.deferredLinks.push({ rel, target });
          this.pendingNodes.add(key);
        } else linkSync(this.abs(target), this.abs(rel));
        this.summary.hardlinks += 1;
        break;
      }
      case 'character-device': case 'block-device': case 'fifo': {
        this.clear(rel, false);
        this.nodes.push({ ...meta, kind: e.kind, devmajor: e.devmajor, devminor: e.devminor });
        this.pendingNodes.add(key);
        this.queueXattrs(rel, extra);
        this.times.push(meta);
        if (e.kind === 'fifo') this.summary.fifos += 1;
        else this.summary.devices += 1;
        break;
      }
    }
    this.summary.entries += 1;
    this.progress(0);
  }

  /** Report progress at most ten times a second; `extra` counts bytes of a file being written. */
  private progress(extra: number): void {
    const now = Date.now();
    if (this.opts.onProgress && now - this.lastProgress >= 100) {
      this.lastProgress = now;
      this.opts.onProgress({ phase: 'extract', entries: this.summary.entries, bytes: this.summary.bytes + extra, totalEntries: this.scan.entries, totalBytes: this.scan.bytes });
    }
  }

  private queueXattrs(rel: Buffer, x: { xattrs: Xattrs; aclAccess?: string | undefined; aclDefault?: string | undefined }): void {
    if (x.xattrs.length > 0 || x.aclAccess || x.aclDefault) {
      const item: { rel: Buffer; xattrs: Xattrs; aclAccess?: string; aclDefault?: string } = { rel, xattrs: x.xattrs };
      if (x.aclAccess) item.aclAccess = x.aclAccess;
      if (x.aclDefault) item.aclDefault = x.aclDefault;
      this.xattrQueue.push(item);
    }
  }

  /** Write the body; all-zero chunks become holes. Owner before mode, so setuid bits stay. */
  private async writeFile(rel: Buffer, e: Entry, body: AsyncIterable<Buffer>): Promise<void> {
    // synchronous calls: a thread-pool round trip per call made extraction several times slower
    const fd = openSync(this.abs(rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      if (e.sparseSize !== undefined) {
        let done = 0;
        await readSparseBody(body, e.sparseSize, printable(rel), (data, pos) => {
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off);
          done += data.length;
          this.progress(done);
        });
        ftruncateSync(fd, e.sparseSize);
        this.summary.sparse += 1;
        fchownSync(fd, e.uid, e.gid);
        fchmodSync(fd, e.mode);
        return;
      }
      let pos = 0;
      let holes = false;
      for await (const chunk of body) {
        if (chunk.length <= ZEROS.length && chunk.equals(ZEROS.subarray(0, chunk.length))) holes = true;
        else {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off, pos + off);
        }
        pos += chunk.length;
        this.progress(pos);
        if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
      }
      if (holes) ftruncateSync(fd, pos);
      fchownSync(fd, e.uid, e.gid);
      fchmodSync(fd, e.mode);
    } finally {
      closeSync(fd);
    }
  }

  async finish(): Promise<void> {
    const progress = () => this.opts.onProgress?.({ phase: 'finish', entries: this.summary.entries, bytes: this.summary.bytes, totalEntries: this.scan.entries, totalBytes: this.scan.bytes });
    progress();
    // devices and fifos: one xargs per kind and archive (mknod takes one name a call, mkfifo many)
    const devs = this.nodes.filter((n) => n.kind !== 'fifo');
    const fifos = this.nodes.filter((n) => n.kind === 'fifo');
    if (devs.length > 0) {
      const input = Buffer.concat(devs.flatMap((n) => [this.abs(n.rel), Buffer.from(`\0${n.kind === 'block-device' ? 'b' : 'c'}\0${n.devmajor}\0${n.devminor}\0`)]));
      await runBatch('mknod', ['-0', '-r', '-n4', 'mknod', '--'], input);
    }
    if (fifos.length > 0) {
      await runBatch('mkfifo', ['-0', '-r', 'mkfifo', '--'], Buffer.concat(fifos.flatMap((n) => [this.abs(n.rel), Buffer.from([0])])));
    }
    for (const n of this.nodes) {
      await lchown(this.abs(n.rel), n.uid, n.gid);
      await chmodNoFollow(this.abs(n.rel), n.mode);
    }
    for (const l of this.deferredLinks) await link(this.abs(l.target), this.abs(l.rel));

    // directories: owner and mode, deepest first (a read-only directory last)
    const dirs = [...this.dirMeta.values()].sort((a, b) => depth(b.rel) - depth(a.rel));
    for (const d of dirs) {
      const fd = openSync(this.abs(d.rel), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
      try {
        fchownSync(fd, d.uid, d.gid);
        fchmodSync(fd, d.mode);
      } finally {
        closeSync(fd);
      }
      this.queueXattrs(d.rel, d);
    }
    // xattrs and ACLs after owners and modes: chown clears security.capability, chmod rewrites the ACL mask
    if (this.xattrQueue.length > 0) await this.restoreXattrs();
    // times last of all, directories included
    for (const d of dirs) this.times.push(d);
    await this.setTimes();
  }

  private async restoreXattrs(): Promise<void> {
    let ids: IdResolver | undefined;
    const resolver = async (): Promise<IdResolver> => {
      if (ids) return ids;
      const read = async (name: string) => {
        // the guest's own user database, read without following symlinks out of the target
        for (const base of [this.rootPath, '']) {
          try {
            const fh = await open(`${base}/etc/${name}`, fsc.O_RDONLY | fsc.O_NOFOLLOW);
            try {
              return (await fh.readFile()).toString('utf8');
            } finally {
              await fh.close();
            }
          } catch {
            /* try the next */
          }
        }
        return '';
      };
      const guest = idResolverFrom(await read('passwd'), await read('group'));
      const host = idResolverFrom(await readFile('/etc/passwd', 'utf8').catch(() => ''), await readFile('/etc/group', 'utf8').catch(() => ''));
      ids = { user: (n) => guest.user(n) ?? host.user(n), group: (n) => guest.group(n) ?? host.group(n) };
      return ids;
    };
    const blocks: Buffer[] = [];
    for (const item of this.xattrQueue) {
      const attrs: Xattrs = [...item.xattrs];
      const has = (n: string) => attrs.some(([k]) => k.toString('latin1') === n);
      // GNU tar writes ACLs as text (SCHILY.acl.*); the binary xattr, when also present, wins
      for (const [text, xname] of [[item.aclAccess, 'system.posix_acl_access'], [item.aclDefault, 'system.posix_acl_default']] as const) {
        if (!text || has(xname)) continue;
        try {
          attrs.push([Buffer.from(xname), aclTextToXattr(text, await resolver())]);
        } catch (err) {
          this.summary.skipped.push({ path: printable(item.rel) || '.', reason: `ACL not restored: ${oneLine(err)}` });
        }
      }
      if (attrs.length === 0) continue;
      blocks.push(setfattrBlock(this.abs(item.rel), attrs));
      this.summary.withXattrs += 1;
    }
    const r = await runFilterCollect('setfattr', ['-h', '--restore=-'], Buffer.concat(blocks));
    for (const line of r.split('\n').filter(Boolean).slice(0, 1000)) this.summary.skipped.push({ path: '(xattrs)', reason: line });
  }

  /** Nanosecond times: python3's os.utime(ns=...) in one process; else lutimes (microseconds). */
  private async setTimes(): Promise<void> {
    if (this.times.length === 0) return;
    if (hasTool('python3')) {
      const input = Buffer.concat(this.times.flatMap((t) => [
        this.abs(t.rel), Buffer.from(`\0${t.atimeNs ?? t.mtimeNs}\0${t.mtimeNs}\0`),
      ]));
      const err = await runFilterCollect('python3', ['-c', SET_TIMES_PY], input);
      for (const line of err.split('\n').filter(Boolean).slice(0, 1000)) this.summary.skipped.push({ path: '(times)', reason: line });
      return;
    }
    this.summary.warnings.push('python3 is not installed: modification times kept to the microsecond only');
    for (const t of this.times) {
      await lutimes(this.abs(t.rel), microsArg(t.atimeNs ?? t.mtimeNs), microsArg(t.mtimeNs));
    }
  }

  /** After a failure: remove every top-level entry that was not there before (or the root, if this run made it). */
  async undo(before: Set<string> | null): Promise<void> {
    if (!before) {
      await rm(this.rootPath, { recursive: true, force: true });
      return;
    }
    for (const name of await readdir(this.rootBuf, { encoding: 'buffer' })) {
      if (!before.has(name.toString('latin1'))) await rm(this.abs(name), { recursive: true, force: true });
    }
  }
}

const SET_TIMES_PY = `
import os, sys
parts = sys.stdin.buffer.read().split(b"\\0")
for i in range(0, len(parts) - 2, 3):
    try:
        os.utime(parts[i], ns=(int(parts[i + 1]), int(parts[i + 2])), follow_symlinks=False)
    except OSError as e:
        sys.stderr.write("%s: %s\\n" % (parts[i].decode("utf-8", "backslashreplace"), e.strerror))
`;

function depth(rel: Buffer): number {
  if (rel.length === 0) return 0;
  let n = 1;
  for (const b of rel) if (b === 0x2f) n += 1;
  return n;
}

function microsArg(ns: bigint): number {
  let sec = ns / NS;
  let frac = ns % NS;
  if (frac < 0n) {
    frac += NS;
    sec -= 1n;
  }
  return frac === 0n ? Number(sec) : Number(sec) + (Number(frac / 1000n) + 0.5) / 1e6;
}

async function chmodNoFollow(path: Buffer, mode: number): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) throw new DomuError('INTERNAL', `${printable(path)} became a symbolic link during extraction`);
  await chmod(path, mode);
}

/** Run `xargs ARGS` with NUL-separated input; the tool named is what a missing-tool error names. */
async function runBatch(tool: string, xargsArgs: string[], input: Buffer): Promise<void> {
  requireTool('xargs', 'to run tools in batches');
  requireTool(tool, `to create ${tool === 'mkfifo' ? 'fifos' : 'device files'}`);
  const { child, done } = spawnFilter('xargs', xargsArgs, ['pipe', 'pipe', 'pipe']);
  child.stdout!.resume();
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(input);
  await done;
}

/** Run a tool fed `input` on stdin; returns its stderr. Exit status is not an error (callers list stderr). */
async function runFilterCollect(tool: string, args: string[], input: Buffer): Promise<string> {
  requireTool(tool, tool === 'python3' ? 'to set nanosecond times' : 'to restore extended attributes');
  const { child, done } = spawnFilter(tool, args, ['pipe', 'pipe', 'pipe']);
  let err = '';
  child.stderr!.on('data', (s: string) => {
    err += s;
  });
  child.stdout!.resume();
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(input);
  try {
    await done;
  } catch {
    /* the lines on stderr say what failed */
  }
  return err;
}
