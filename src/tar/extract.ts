// Extraction (xen-tools' "tar" install method): a tarball made by GNU tar, bsdtar, mmdebstrap or
// writeTarball extracted into a directory with full fidelity, safely. The safety pass (safety.ts)
// checks the whole archive before anything is written; this second pass never follows a symlink in
// the target and never leaves the target root; metadata.ts applies owners, modes, xattrs and times.

import {
  closeSync, constants as fsc, fchmodSync, fchownSync, ftruncateSync, lchownSync, linkSync, lstatSync,
  mkdirSync, openSync, readSync, rmdirSync, symlinkSync, unlinkSync, writeSync,
} from 'node:fs';
import { link, lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { requireCompressionTool, requireTool, sniffCompression } from './compression.js';
import { makeNodes, restoreXattrs, setDirOwnerModes, setTimes, type Meta, type NodeItem, type XattrItem } from './metadata.js';
import { readArchive } from './read.js';
import { PATH_MAX, normalise, parentsOf, refuseDevices, scanArchive, type ScanResult } from './safety.js';
import { readSparseBody } from './sparse.js';
import {
  emptySummary, printable, type Entry, type ExtractTarballOptions, type ReadCompression, type TarSummary, type Xattrs,
} from './types.js';

export type { ExtractTarballOptions } from './types.js';

const ZEROS = Buffer.alloc(1 << 20);


/**
 * Extract the tarball `file` (plain, gzip, xz or zstd, found by its magic) into the directory
 * `root`, which is created when missing. On any refusal nothing is written; on a failure in the
 * middle, everything this run created is removed again (entries that were already in `root` and
 * got replaced stay replaced).
 */
export async function extractTarball(file: string, root: string, opts: ExtractTarballOptions = {}, checked?: TarballCheck): Promise<TarSummary> {
  const started = process.hrtime.bigint();
  const fileStat = await stat(file, { bigint: true }).catch(() => undefined);
  if (!fileStat?.isFile()) throw new DomuError('BAD_INPUT', `${file} is not a file`);
  const maxDepth = opts.maxDepth ?? 1024;
  const rootPath = resolve(root);
  const rootStat = await lstat(rootPath).catch(() => undefined);
  if (rootStat && !rootStat.isDirectory()) throw new DomuError('BAD_INPUT', `${root} exists and is not a directory`);
  const compression = await sniffCompression(file);
  requireCompressionTool(compression, `to read a ${compression} archive`);
  const summary = emptySummary(resolve(file), rootPath, compression);

  // pass 1: check everything that can be checked without touching the target; a check of this
  // run (checkTarball, before the target was made) stands for it while the file is unchanged
  const rootLen = Buffer.byteLength(rootPath);
  const scan = checked && checked.pass.identity === identityOf(fileStat) && checked.pass.maxDepth === maxDepth &&
    checked.compression === compression && rootLen + 1 + checked.pass.scan.longestPath < PATH_MAX
    ? checked.pass.scan
    : await scanArchive(file, compression, rootLen, maxDepth, opts, true);
  refuseDevices(scan, opts);
  if (scan.hasXattrs) requireTool('setfattr', 'to restore extended attributes and ACLs');

  // pass 2: extract
  const before = rootStat ? new Set((await readdir(rootPath, { encoding: 'buffer' })).map((n) => n.toString('latin1'))) : null;
  if (!before) await mkdir(rootPath, { recursive: true, mode: 0o755 });
  const extractor = new Extractor(rootPath, summary, opts, scan);
  try {
    if (scan.kept) {
      // an uncompressed archive: the entries the safety pass parsed and checked, their data read at their offsets
      const fd = openSync(file, 'r');
      try {
        for (const k of scan.kept) {
          const pending = extractor.entryAt(k.entry, k.rel, fd, k.dataOffset);
          if (pending) await pending;
        }
      } finally {
        closeSync(fd);
      }
      summary.warnings.push(...scan.report.warnings);
      summary.notApplied.push(...scan.report.notApplied);
    } else {
      const report = await readArchive(file, compression, opts.signal, (e, body) => extractor.entry(e, body));
      summary.warnings.push(...report.warnings);
      summary.notApplied.push(...report.notApplied);
    }
    await extractor.finish();
  } catch (e) {
    await extractor.undo(before).catch(() => undefined);
    if (opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted; what was extracted so far was removed');
    if (e instanceof DomuError) throw e;
    if (errnoCode(e) === 'ENOSPC') throw new DomuError('ENVIRONMENT', `no space left in ${root}; what was extracted so far was removed`);
    throw new DomuError('INTERNAL', `extracting ${file} failed: ${oneLine(e)}; what was extracted so far was removed`);
  }
  summary.archiveBytes = Number(fileStat.size);
  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return summary;
}

export interface TarballCheck {
  compression: ReadCompression;
  entries: number;
  /** Content bytes of the regular files. */
  bytes: number;
  devices: number;
  /** What extractTarball takes instead of its own first pass, given this check (the file unchanged since). */
  readonly pass: { identity: string; maxDepth: number; scan: ScanResult };
}

/** A file as it is now: any write to it changes its ctime, which no one can set back. */
function identityOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * Check a tarball the way extractTarball's first pass does (and refuse devices unless trusted),
 * without writing anything: for sizing an image before it is made, and for a dry run.
 */
export async function checkTarball(file: string, opts: ExtractTarballOptions = {}): Promise<TarballCheck> {
  const fileStat = await stat(file, { bigint: true }).catch(() => undefined);
  if (!fileStat?.isFile()) throw new DomuError('BAD_INPUT', `${file} is not a file`);
  const compression = await sniffCompression(file);
  requireCompressionTool(compression, `to read a ${compression} archive`);
  const maxDepth = opts.maxDepth ?? 1024;
  const scan = await scanArchive(file, compression, 0, maxDepth, opts, true);
  refuseDevices(scan, opts);
  return {
    compression, entries: scan.entries, bytes: scan.bytes, devices: scan.deviceCount,
    pass: { identity: identityOf(fileStat), maxDepth, scan },
  };
}

class Extractor {
  private readonly rootBuf: Buffer;
  /** Relative paths known to be real directories made or checked by this run. */
  private readonly dirs = new Set<string>(['']);
  private readonly dirMeta = new Map<string, Meta & { xattrs: Xattrs; aclAccess?: string; aclDefault?: string }>();
  private readonly nodes: NodeItem[] = [];
  private readonly pendingNodes = new Set<string>();
  private readonly deferredLinks: Array<{ rel: Buffer; target: Buffer }> = [];
  private readonly xattrQueue: XattrItem[] = [];
  private readonly times: Array<{ rel: Buffer; mtimeNs: bigint; atimeNs: bigint | undefined }> = [];
  /** The times each non-directory path was last given, for hard links made to it. */
  private readonly lastTimes = new Map<string, { mtimeNs: bigint; atimeNs: bigint | undefined }>();
  private lastProgress = 0;

  constructor(
    private readonly rootPath: string,
    private readonly summary: TarSummary,
    private readonly opts: ExtractTarballOptions,
    private readonly scan: ScanResult,
  ) {
    this.rootBuf = Buffer.from(rootPath);
  }

  private readonly abs = (rel: Buffer): Buffer =>
    rel.length === 0 ? this.rootBuf : Buffer.concat([this.rootBuf, Buffer.from('/'), rel]);

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

  /**
   * Make the entry at `rel` with `make`, which fails with EEXIST when a name is there; then clear
   * the way (keep a directory for a directory) and make it again. A directory kept returns undefined.
   */
  private create<T>(rel: Buffer, wantDir: boolean, make: () => T): T | undefined {
    try {
      return make();
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    if (this.clear(rel, wantDir)) return undefined;
    return make();
  }

  /** An entry read from the archive's stream (the second pass of a compressed archive). */
  async entry(e: Entry, body: AsyncIterable<Buffer>): Promise<void> {
    const rel = normalise(e.path, 'entry', this.opts.maxDepth ?? 1024);
    const pending = this.place(e, rel, (r) => this.writeFile(r, e, body));
    if (pending) await pending;
  }

  /**
   * An entry the safety pass kept, with its path as that pass normalised it; its data is read from
   * the archive `fd` at `dataOffset`. Synchronous (no await) for everything but a sparse file.
   */
  entryAt(e: Entry, rel: Buffer, fd: number, dataOffset: number): Promise<void> | undefined {
    if (e.sparse !== undefined) return this.place(e, rel, (r) => this.writeFile(r, e, this.bodyAt(fd, dataOffset, e.size)));
    return this.place(e, rel, (r) => this.writeFileAt(r, e, fd, dataOffset));
  }

  /** Make the entry at `rel`; a regular file's data is written by `write`. */
  private place(e: Entry, rel: Buffer, write: (rel: Buffer) => Promise<void> | undefined): Promise<void> | undefined {
    if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
    const key = rel.toString('latin1');
    if (rel.length > 0) this.ensureParents(rel);
    const meta: Meta = { rel, mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs, atimeNs: e.atimeNs };
    const extra = { xattrs: e.xattrs, aclAccess: e.aclAccess, aclDefault: e.aclDefault };
    switch (e.kind) {
      case 'directory': {
        if (rel.length > 0) {
          // create first, look only when something is there (as GNU tar: one call for a new name)
          this.create(rel, true, () => mkdirSync(this.abs(rel), { mode: 0o700 }));
          this.dirs.add(key);
        }
        this.dirMeta.set(key, { ...meta, ...extra });
        this.summary.directories += 1;
        break;
      }
      case 'file': {
        const fileDone = () => {
          this.queueXattrs(rel, extra);
          this.times.push(meta);
          this.summary.files += 1;
          this.summary.bytes += e.sparse?.realSize ?? e.size;
          this.placed(e, key);
        };
        const pending = write(rel);
        if (pending) return pending.then(fileDone);
        fileDone();
        return undefined;
      }
      case 'symlink': {
        this.create(rel, false, () => symlinkSync(e.linkname!, this.abs(rel)));
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
        if (this.pendingNodes.has(target.toString('latin1'))) {
          this.clear(rel, false);
          this.deferredLinks.push({ rel, target });
          this.pendingNodes.add(key);
        } else this.create(rel, false, () => linkSync(this.abs(target), this.abs(rel)));
        // the link's times are its target's as extracted so far: set through the link's own name,
        // they stay right when the archive replaces the target's name later (as GNU tar leaves them)
        const t = this.lastTimes.get(target.toString('latin1'));
        if (t) {
          this.times.push({ rel, ...t });
          this.lastTimes.set(key, t);
        }
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
    this.placed(e, key);
    return undefined;
  }

  private placed(e: Entry, key: string): void {
    if (e.kind !== 'directory' && e.kind !== 'link') this.lastTimes.set(key, { mtimeNs: e.mtimeNs, atimeNs: e.atimeNs });
    this.summary.entries += 1;
    this.progress(0);
  }

  /** The archive's bytes [at, at + n), n at most WINDOW / 4, as a view of a window read ahead with one readSync; valid until the next call. */
  private view(fd: number, at: number, n: number): Buffer {
    if (at < this.winStart || at + n > this.winStart + this.winLength) {
      this.winStart = at;
      this.winLength = readSync(fd, this.win, 0, this.win.length, at);
      if (this.winLength < n) throw new DomuError('BAD_INPUT', `the archive is truncated (it ends inside an entry, or it changed after it was checked)`);
    }
    return this.win.subarray(at - this.winStart, at - this.winStart + n);
  }

  private readonly win = Buffer.allocUnsafe(4 << 20);
  private winStart = 0;
  private winLength = 0;

  /** A kept entry's data as a stream (for readSparseBody): copies, since the window is read over. */
  private bodyAt(fd: number, at: number, n: number): AsyncIterable<Buffer> {
    const self = this;
    return (async function* () {
      for (let done = 0; done < n;) {
        const k = Math.min(n - done, 1 << 20);
        yield Buffer.from(self.view(fd, at + done, k));
        done += k;
      }
    })();
  }

  /** writeFile for a kept entry, synchronously: its data read at its offset in the archive. */
  private writeFileAt(rel: Buffer, e: Entry, fd: number, at: number): undefined {
    const out = this.create(rel, false, () => openSync(this.abs(rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600))!; // never undefined for a non-directory
    try {
      let pos = 0;
      let holes = false;
      while (pos < e.size) {
        const chunk = this.view(fd, at + pos, Math.min(e.size - pos, 1 << 20));
        if (chunk.equals(ZEROS.subarray(0, chunk.length))) holes = true;
        else {
          let off = 0;
          while (off < chunk.length) off += writeSync(out, chunk, off, chunk.length - off, pos + off);
        }
        pos += chunk.length;
        if (e.size > 1 << 20) {
          this.progress(pos);
          if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
        }
      }
      if (holes) ftruncateSync(out, pos);
      fchownSync(out, e.uid, e.gid);
      fchmodSync(out, e.mode);
    } finally {
      closeSync(out);
    }
    return undefined;
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
    const fd = this.create(rel, false, () => openSync(this.abs(rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600))!; // never undefined for a non-directory
    try {
      if (e.sparse !== undefined) {
        // as GNU tar: each region written at its offset, a zero-length one truncates; the holes are never written
        let done = 0;
        await readSparseBody(body, e.sparse, printable(rel), {
          write: (data, pos) => {
            let off = 0;
            while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off);
            done += data.length;
            this.progress(done);
            if (this.opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
          },
          truncate: (size) => ftruncateSync(fd, size),
        });
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
    await makeNodes(this.nodes, this.abs);
    for (const l of this.deferredLinks) await link(this.abs(l.target), this.abs(l.rel));

    // directories: owner and mode, deepest first (a read-only directory last)
    const dirs = setDirOwnerModes(this.dirMeta.values(), this.abs);
    for (const d of dirs) this.queueXattrs(d.rel, d);
    // xattrs and ACLs after owners and modes: chown clears security.capability, chmod rewrites the ACL mask
    if (this.xattrQueue.length > 0) await restoreXattrs(this.rootPath, this.xattrQueue, this.abs, this.summary);
    // times last of all, directories included
    for (const d of dirs) this.times.push(d);
    await setTimes(this.times, this.abs, this.summary);
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
