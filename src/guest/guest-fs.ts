// Reading and writing a guest tree as if chrooted into it. Node has no openat2(RESOLVE_IN_ROOT), so
// paths are resolved one component at a time with lstat/readlink: absolute symlinks and `..` are
// clamped at the guest's root, never the host's. Writes go to a temporary file in the same directory,
// opened with O_EXCL|O_NOFOLLOW, then renamed over the target, so that no write lands outside the guest
// and no file is ever half-written.

import { constants as C, lstatSync, promises as fsp, readlinkSync, realpathSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { copyXattrs } from '../sys/xattrs.js';

/** Linux's MAXSYMLINKS: more symlinks than this in one resolution is a loop. */
export const MAX_SYMLINKS = 40;
/** Guest text files larger than this are refused (a config file is never this large). */
export const DEFAULT_MAX_TEXT_BYTES = 4 * 1024 * 1024;

const SLASH = 0x2f;

export interface Resolved {
  /** The canonical guest path ("/etc/hostname"), latin1-decoded so that every byte survives. */
  guestPath: string;
  /** The host path of that entry, inside the guest root. */
  hostPath: Buffer;
  /** lstat of the entry, or undefined when it does not exist. */
  stat?: import('node:fs').BigIntStats;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component (as open() does); default true. */
  followLast?: boolean;
  /**
   * Refuse every symlink met on the way (BAD_INPUT "/boot is a symlink in ROOT"), for trees that
   * should hold none where we look: a tree we built, a kernel in an image under test.
   */
  refuseSymlinks?: boolean;
}

/** Split a guest path (latin1 string or bytes) into its components, dropping empty and "." ones. */
function components(p: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i += 1) {
    if (i === p.length || p[i] === SLASH) {
      if (i > start) {
        const c = p.subarray(start, i);
        if (!(c.length === 1 && c[0] === 0x2e)) out.push(c);
      }
      start = i + 1;
    }
  }
  return out;
}

function isDotDot(c: Buffer): boolean {
  return c.length === 2 && c[0] === 0x2e && c[1] === 0x2e;
}

function joinHost(root: Buffer, parts: readonly Buffer[]): Buffer {
  const bufs: Buffer[] = [root];
  for (const p of parts) bufs.push(Buffer.from('/'), p);
  return Buffer.concat(bufs);
}

function guestString(parts: readonly Buffer[]): string {
  return parts.length === 0 ? '/' : `/${parts.map((p) => p.toString('latin1')).join('/')}`;
}

/** Turn a guest path string (latin1, so that any byte can be named) into bytes. */
export function guestBytes(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

export function guestError(message: string, cause?: unknown): DomuError {
  return new DomuError('BAD_INPUT', message, cause === undefined ? {} : { cause });
}

export class GuestFs {
  /** The guest root on the host, real path. */
  readonly root: string;
  private readonly rootBuf: Buffer;

  /** Flush each file written before it replaces the old one (see FixupOptions.syncEachFile). */
  private readonly syncEachFile: boolean;

  constructor(root: string, options: { syncEachFile?: boolean } = {}) {
    this.syncEachFile = options.syncEachFile ?? true;
    let real: string;
    try {
      real = realpathSync(root);
      if (!statSync(real).isDirectory()) throw guestError(`guest root ${root} is not a directory`);
    } catch (e) {
      if (e instanceof DomuError) throw e;
      throw guestError(`guest root ${root} cannot be used: ${oneLine(e)}`, e);
    }
    this.root = real;
    this.rootBuf = Buffer.from(real === '/' ? '' : real);
  }

  /** The host path for a canonical guest path (no resolution: use resolve() first). */
  hostPathOf(canonical: string): Buffer {
    return joinHost(this.rootBuf, components(guestBytes(canonical)));
  }

  /**
   * Resolve a guest path inside the root as the kernel would for a process chrooted there.
   * A missing component ends the walk: the rest of the path is appended as is (it names what a
   * write would create). `..` after a missing component, a non-directory in the middle, or a
   * symlink loop throw.
   *
   * The lookups are synchronous calls: each is a few microseconds in the kernel on a mounted image,
   * where an asynchronous one is a round trip through the thread pool (two thread wake-ups and a
   * promise, about ten times as much). The fixups of one guest make over a thousand of them, and in
   * a fleet build that round trip was the largest cost on the main thread after the tools' spawns.
   */
  async resolve(path: string, options: ResolveOptions = {}): Promise<Resolved> {
    const followLast = options.followLast ?? true;
    let pending = components(guestBytes(path));
    const done: Buffer[] = [];
    let links = 0;
    while (pending.length > 0) {
      const c = pending[0]!;
      pending = pending.slice(1);
      if (isDotDot(c)) {
        done.pop(); // clamped: `..` at the root stays at the root
        continue;
      }
      const host = joinHost(this.rootBuf, [...done, c]);
      let st: import('node:fs').BigIntStats | undefined;
      try {
        st = lstatSync(host, { bigint: true, throwIfNoEntry: false });
      } catch (e) {
        if (errnoCode(e) === 'ENOTDIR') throw guestError(`guest path ${path}: ${guestString(done)} is not a directory`);
        throw guestError(`guest path ${path}: ${oneLine(e)}`, e);
      }
      if (st === undefined) {
        if (pending.some(isDotDot)) {
          throw guestError(`guest path ${path}: ${guestString([...done, c])} does not exist`);
        }
        const parts = [...done, c, ...pending];
        return { guestPath: guestString(parts), hostPath: joinHost(this.rootBuf, parts) };
      }
      const last = pending.length === 0;
      if (st.isSymbolicLink() && (!last || followLast)) {
        if (options.refuseSymlinks) throw guestError(`${guestString([...done, c])} is a symlink in ${this.root}; refusing to follow it`);
        links += 1;
        if (links > MAX_SYMLINKS) throw guestError(`guest path ${path}: too many levels of symbolic links`);
        const target = readlinkSync(host, { encoding: 'buffer' });
        if (target.length > 0 && target[0] === SLASH) done.length = 0; // absolute: from the guest's root
        pending = [...components(target), ...pending];
        continue;
      }
      if (!last && !st.isDirectory()) {
        throw guestError(`guest path ${path}: ${guestString([...done, c])} is not a directory`);
      }
      done.push(c);
      if (last) return { guestPath: guestString(done), hostPath: host, stat: st };
    }
    const st = lstatSync(this.rootBuf.length ? this.rootBuf : Buffer.from('/'), { bigint: true });
    return { guestPath: '/', hostPath: this.rootBuf.length ? this.rootBuf : Buffer.from('/'), stat: st };
  }

  /** lstat of the resolved entry, or undefined. */
  async stat(path: string, options: ResolveOptions = {}): Promise<Resolved['stat']> {
    return (await this.resolve(path, options)).stat;
  }

  async exists(path: string, options: ResolveOptions = {}): Promise<boolean> {
    try {
      return (await this.resolve(path, options)).stat !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * Read a regular file in the guest; undefined when it does not exist. Refuses non-regular files
   * and files over maxBytes with a clear error. Opened with O_NOFOLLOW|O_NONBLOCK so that a swapped-in
   * symlink or a fifo cannot redirect or hang the read.
   */
  async readFile(path: string, maxBytes = DEFAULT_MAX_TEXT_BYTES, options: Pick<ResolveOptions, 'refuseSymlinks'> = {}): Promise<Buffer | undefined> {
    const r = await this.resolve(path, options);
    if (!r.stat) return undefined;
    if (!r.stat.isFile()) throw guestError(`guest file ${r.guestPath} is not a regular file`);
    let fh: import('node:fs/promises').FileHandle;
    try {
      fh = await fsp.open(r.hostPath, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch (e) {
      throw guestError(`cannot open guest file ${r.guestPath}: ${oneLine(e)}`, e);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw guestError(`guest file ${r.guestPath} is not a regular file`);
      if (st.size > maxBytes) {
        throw guestError(`guest file ${r.guestPath} is too large (${st.size} bytes; the limit is ${maxBytes})`);
      }
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  /**
   * Read a text file (latin1, so every byte round-trips); undefined when absent. A file with NUL
   * bytes is refused as binary.
   */
  async readText(path: string, maxBytes = DEFAULT_MAX_TEXT_BYTES): Promise<string | undefined> {
    const buf = await this.readFile(path, maxBytes);
    if (buf === undefined) return undefined;
    if (buf.includes(0)) throw guestError(`guest file ${path} is binary (it holds NUL bytes), not a text file`);
    return buf.toString('latin1');
  }

  /** Names in a guest directory (latin1), sorted; [] when absent or not a directory. */
  async list(path: string): Promise<string[]> {
    const r = await this.resolve(path);
    if (!r.stat || !r.stat.isDirectory()) return [];
    const names = (await fsp.readdir(r.hostPath, { encoding: 'buffer' })) as Buffer[];
    return names.map((n) => n.toString('latin1')).sort();
  }

  async readlink(path: string): Promise<string | undefined> {
    const r = await this.resolve(path, { followLast: false });
    if (!r.stat?.isSymbolicLink()) return undefined;
    return ((await fsp.readlink(r.hostPath, { encoding: 'buffer' })) as Buffer).toString('latin1');
  }

  // ---- writing. Each call re-resolves its path right before acting, then works inside the
  // resolved directory through /proc/self/fd: a path component swapped for a symlink after the
  // resolution cannot redirect the write (the emulation of openat() relative to a pinned directory).

  /** Resolve the parent of a guest path; it must exist and be a directory. */
  private async parentOf(path: string): Promise<{ dir: Resolved; name: Buffer; guestPath: string }> {
    const parts = components(guestBytes(path));
    if (parts.length === 0 || isDotDot(parts[parts.length - 1]!)) throw guestError(`guest path ${path} names no file`);
    const name = parts[parts.length - 1]!;
    const dir = await this.resolve(guestString(parts.slice(0, -1)));
    if (!dir.stat) throw guestError(`guest directory ${dir.guestPath} does not exist`);
    if (!dir.stat.isDirectory()) throw guestError(`guest path ${dir.guestPath} is not a directory`);
    const guestPath = dir.guestPath === '/' ? `/${name.toString('latin1')}` : `${dir.guestPath}/${name.toString('latin1')}`;
    return { dir, name, guestPath };
  }

  /**
   * Open the resolved directory (O_DIRECTORY|O_NOFOLLOW), check that it is the very directory the
   * resolution found (device and inode), and give `fn` a path to it through /proc/PID/fd/N, which
   * the kernel follows to that open directory whatever its path has become since.
   */
  private async pinned<T>(dir: Resolved, fn: (base: Buffer) => Promise<T>): Promise<T> {
    let fh: import('node:fs/promises').FileHandle;
    try {
      fh = await fsp.open(dir.hostPath, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
    } catch (e) {
      throw guestError(`cannot open guest directory ${dir.guestPath}: ${oneLine(e)}`, e);
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!dir.stat || st.dev !== dir.stat.dev || st.ino !== dir.stat.ino) {
        throw guestError(`guest directory ${dir.guestPath} changed while it was being written to; nothing written there`);
      }
      return await fn(Buffer.from(`/proc/${process.pid}/fd/${fh.fd}`));
    } finally {
      await fh.close();
    }
  }

  private static tmpName(name: Buffer): Buffer {
    return Buffer.from(`.${name.toString('latin1').slice(0, 40)}.domu-forge-${randomBytes(6).toString('hex')}`, 'latin1');
  }

  /**
   * Replace (or create) a regular file atomically. `path` must already be canonical or is resolved
   * with the last symlink followed. An existing file keeps its mode and owner unless given; a file
   * with several hard links is replaced by rename, so the other names (perhaps a host file) keep
   * their content. Returns the canonical guest path written.
   */
  async writeFile(path: string, data: Buffer | string, attrs: { mode?: number; uid?: number; gid?: number } = {}): Promise<string> {
    const target = await this.resolve(path);
    if (target.stat && !target.stat.isFile()) throw guestError(`guest path ${target.guestPath} exists and is not a regular file`);
    const { dir, name, guestPath } = await this.parentOf(target.guestPath);
    const mode = attrs.mode ?? (target.stat ? Number(target.stat.mode & 0o7777n) : 0o644);
    const uid = attrs.uid ?? (target.stat ? Number(target.stat.uid) : 0);
    const gid = attrs.gid ?? (target.stat ? Number(target.stat.gid) : 0);
    const body = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    await this.pinned(dir, async (base) => {
      const tmp = joinHost(base, [GuestFs.tmpName(name)]);
      const fh = await fsp.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(body);
        await fh.chown(uid, gid);
        await fh.chmod(mode); // after chown, which clears set-id bits
        if (this.syncEachFile) await fh.sync();
        await fh.close();
        if (target.stat) await copyXattrs(joinHost(base, [name]), tmp);
        await fsp.rename(tmp, joinHost(base, [name]));
      } catch (e) {
        await fh.close().catch(() => undefined);
        await fsp.unlink(tmp).catch(() => undefined);
        throw guestError(`cannot write guest file ${guestPath}: ${oneLine(e)}`, e);
      }
    });
    return guestPath;
  }

  /** Create a directory (the parent must exist). Does nothing to an existing directory. */
  async mkdir(path: string, mode: number, owner: { uid?: number; gid?: number } = {}): Promise<void> {
    const r = await this.resolve(path);
    if (r.stat) {
      if (!r.stat.isDirectory()) throw guestError(`guest path ${r.guestPath} exists and is not a directory`);
      return;
    }
    const { dir, name } = await this.parentOf(r.guestPath);
    await this.pinned(dir, async (base) => {
      const host = joinHost(base, [name]);
      await fsp.mkdir(host, { mode: 0o700 });
      await fsp.lchown(host, owner.uid ?? 0, owner.gid ?? 0);
      const fh = await fsp.open(host, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      try {
        await fh.chmod(mode);
      } finally {
        await fh.close();
      }
    });
  }

  /** chmod a directory without following a symlink in its place (open O_DIRECTORY|O_NOFOLLOW, fchmod). */
  async chmodDir(path: string, mode: number): Promise<void> {
    const r = await this.resolve(path, { followLast: false });
    if (!r.stat?.isDirectory()) throw guestError(`guest path ${r.guestPath} is not a directory`);
    if (r.guestPath === '/') throw guestError('the guest root itself is not changed');
    const { dir, name } = await this.parentOf(r.guestPath);
    await this.pinned(dir, async (base) => {
      const fh = await fsp.open(joinHost(base, [name]), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      try {
        await fh.chmod(mode);
      } finally {
        await fh.close();
      }
    });
  }

  /** Make a device node with the mknod tool (Node has no mknod). The name must not exist yet. */
  async mknod(path: string, type: 'b' | 'c', major: number, minor: number, mode: number): Promise<void> {
    const r = await this.resolve(path, { followLast: false });
    if (r.stat) throw guestError(`guest path ${r.guestPath} already exists`);
    const { dir, name } = await this.parentOf(r.guestPath);
    await this.pinned(dir, async (base) => {
      const host = joinHost(base, [name]);
      await runTool('mknod', ['-m', mode.toString(8), host, type, String(major), String(minor)], {
        env: { ...process.env, LC_ALL: 'C' },
      });
    });
  }

  /** Create a symlink (never followed). The name must not exist yet. */
  async symlink(path: string, target: string): Promise<void> {
    const r = await this.resolve(path, { followLast: false });
    if (r.stat) throw guestError(`guest path ${r.guestPath} already exists`);
    const { dir, name } = await this.parentOf(r.guestPath);
    await this.pinned(dir, (base) => fsp.symlink(guestBytes(target), joinHost(base, [name])));
  }

  /** Remove a file, symlink or node (never a directory, never following the last symlink). */
  async remove(path: string): Promise<void> {
    const r = await this.resolve(path, { followLast: false });
    if (!r.stat) return;
    if (r.stat.isDirectory()) throw guestError(`guest path ${r.guestPath} is a directory; not removed`);
    const { dir, name } = await this.parentOf(r.guestPath);
    await this.pinned(dir, (base) => fsp.unlink(joinHost(base, [name])));
  }

  /** Rename an entry within the guest (the last components are not followed). */
  async rename(from: string, to: string): Promise<void> {
    const a = await this.resolve(from, { followLast: false });
    if (!a.stat) throw guestError(`guest path ${a.guestPath} does not exist`);
    const b = await this.resolve(to, { followLast: false });
    if (b.stat) throw guestError(`guest path ${b.guestPath} already exists`);
    const pa = await this.parentOf(a.guestPath);
    const pb = await this.parentOf(b.guestPath);
    await this.pinned(pa.dir, (baseA) => this.pinned(pb.dir, (baseB) => fsp.rename(joinHost(baseA, [pa.name]), joinHost(baseB, [pb.name]))));
  }

  /**
   * Copy a host directory tree into the guest with `cp -a` (every attribute kept), first under a
   * temporary name in the same guest directory, then renamed into place. The destination must not exist.
   */
  async copyTreeIn(hostSource: string, path: string): Promise<void> {
    const r = await this.resolve(path, { followLast: false });
    if (r.stat) throw guestError(`guest path ${r.guestPath} already exists`);
    const { dir, name } = await this.parentOf(r.guestPath);
    await this.pinned(dir, async (base) => {
      const tmp = joinHost(base, [GuestFs.tmpName(name)]);
      try {
        await runTool('cp', ['-a', '-T', '--', hostSource, tmp]);
        await fsp.rename(tmp, joinHost(base, [name]));
      } catch (e) {
        await runTool('rm', ['-rf', '--one-file-system', '--', tmp], { allowFailure: true });
        throw e;
      }
    });
  }
}
