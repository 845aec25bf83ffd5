// Metadata: extended attributes and ACLs read from a tree (one getfattr) and applied to one
// (one setfattr --restore), POSIX ACL text as GNU tar stores it turned into the kernel's xattr,
// device files and fifos made in batches, owners and modes of directories, nanosecond times.

import { closeSync, constants as fsc, fchmodSync, fchownSync, openSync } from 'node:fs';
import { chmod, lchown, lstat, lutimes, open, readFile } from 'node:fs/promises';
import { DomuError, oneLine } from '../errors.js';
import { python3, runTool } from '../sys/exec.js';
import { requireTool, spawnFilter } from './compression.js';
import { splitNs } from '../sys/times.js';
import { printable, type TarSummary, type Xattrs } from './types.js';

export type { Xattrs } from './types.js';

// ---- getfattr / setfattr dump format: the one reader and quoting in src/sys/xattrs.ts ----
export { parseGetfattrDump, quoteAttrName, unquoteAttrName } from '../sys/xattrs.js';
import { parseGetfattrDump, quoteAttrName } from '../sys/xattrs.js';

/** One block of a setfattr --restore stream for the file at `absPath`. */
export function setfattrBlock(absPath: Buffer, attrs: Xattrs): Buffer {
  const parts: Buffer[] = [Buffer.from('# file: '), quoteAttrName(absPath), Buffer.from('\n')];
  for (const [name, value] of attrs) {
    parts.push(quoteAttrName(name), Buffer.from(`=0x${value.toString('hex')}\n`, 'latin1'));
  }
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

// ---- POSIX ACLs: GNU tar writes SCHILY.acl.access / SCHILY.acl.default as text ----

const ACL_TAG = { user_obj: 0x01, user: 0x02, group_obj: 0x04, group: 0x08, mask: 0x10, other: 0x20 } as const;
const ACL_UNDEFINED_ID = 0xffffffff;

export interface IdResolver {
  user(name: string): number | undefined;
  group(name: string): number | undefined;
}

/**
 * Convert an ACL in text form ("user::rw-\nuser:1234:rwx\ngroup:staff:r--\nmask::rwx\nother::r--",
 * as GNU tar writes it; star adds the numeric id as a fourth field) to the system.posix_acl_*
 * xattr value. Named users and groups are looked up with `ids`.
 */
export function aclTextToXattr(text: string, ids: IdResolver): Buffer {
  const entries: Array<[number, number, number]> = [];
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const f = line.split(':');
    if (f.length < 3) throw new Error(`malformed ACL entry "${line}"`);
    const tagWord = f[0]!;
    const qualifier = f[1]!;
    const perms = f[2]!;
    const numericId = f[3];
    let perm = 0;
    if (!/^[rwx-]{1,3}$/.test(perms)) throw new Error(`malformed ACL permissions "${line}"`);
    if (perms.includes('r')) perm |= 4;
    if (perms.includes('w')) perm |= 2;
    if (perms.includes('x')) perm |= 1;
    const isUser = tagWord === 'user' || tagWord === 'u';
    const isGroup = tagWord === 'group' || tagWord === 'g';
    let tag: number;
    let id = ACL_UNDEFINED_ID;
    if (isUser || isGroup) {
      if (qualifier === '') tag = isUser ? ACL_TAG.user_obj : ACL_TAG.group_obj;
      else {
        tag = isUser ? ACL_TAG.user : ACL_TAG.group;
        if (numericId !== undefined && /^[0-9]+$/.test(numericId)) id = Number(numericId);
        else if (/^[0-9]+$/.test(qualifier)) id = Number(qualifier);
        else {
          const found = isUser ? ids.user(qualifier) : ids.group(qualifier);
          if (found === undefined) throw new Error(`ACL names unknown ${isUser ? 'user' : 'group'} "${qualifier}"`);
          id = found;
        }
      }
    } else if (tagWord === 'mask' || tagWord === 'm') tag = ACL_TAG.mask;
    else if (tagWord === 'other' || tagWord === 'o') tag = ACL_TAG.other;
    else throw new Error(`malformed ACL tag "${line}"`);
    entries.push([tag, perm, id]);
  }
  // the kernel wants entries sorted by tag, then id
  entries.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  const buf = Buffer.alloc(4 + entries.length * 8);
  buf.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    buf.writeUInt16LE(tag, 4 + i * 8);
    buf.writeUInt16LE(perm, 6 + i * 8);
    buf.writeUInt32LE(id, 8 + i * 8);
  });
  return buf;
}

/** Look names up in an /etc/passwd and /etc/group text (the guest's own). */
export function idResolverFrom(passwd: string, group: string): IdResolver {
  const table = (text: string) => {
    const m = new Map<string, number>();
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^[0-9]+$/.test(f[2]!) && !m.has(f[0]!)) m.set(f[0]!, Number(f[2]));
    }
    return m;
  };
  const users = table(passwd);
  const groups = table(group);
  return { user: (n) => users.get(n), group: (n) => groups.get(n) };
}

// ---- reading a tree's xattrs (the writer) ----

/** One getfattr for the whole tree; returns path (latin1 of the raw bytes) -> attributes. */
export async function readXattrs(rootPath: string, signal?: AbortSignal): Promise<Map<string, Xattrs>> {
  const r = await runTool('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', rootPath], {
    allowFailure: true, env: { ...process.env, LC_ALL: 'C' }, ...(signal ? { signal } : {}),
  });
  return parseGetfattrDump(r.stdout);
}

// ---- applying metadata (the extractor) ----

export type AbsPath = (rel: Buffer) => Buffer;

export interface Meta {
  rel: Buffer;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  atimeNs: bigint | undefined;
}

export interface XattrItem {
  rel: Buffer;
  xattrs: Xattrs;
  aclAccess?: string;
  aclDefault?: string;
}

export interface NodeItem extends Meta {
  kind: 'character-device' | 'block-device' | 'fifo';
  devmajor: number;
  devminor: number;
}

/** Devices and fifos: one xargs per kind and archive (mknod takes one name a call, mkfifo many); then owners and modes. */
export async function makeNodes(nodes: NodeItem[], abs: AbsPath): Promise<void> {
  const devs = nodes.filter((n) => n.kind !== 'fifo');
  const fifos = nodes.filter((n) => n.kind === 'fifo');
  if (devs.length > 0) {
    const input = Buffer.concat(devs.flatMap((n) => [abs(n.rel), Buffer.from(`\0${n.kind === 'block-device' ? 'b' : 'c'}\0${n.devmajor}\0${n.devminor}\0`)]));
    await runBatch('mknod', ['-0', '-r', '-n4', 'mknod', '--'], input);
  }
  if (fifos.length > 0) {
    await runBatch('mkfifo', ['-0', '-r', 'mkfifo', '--'], Buffer.concat(fifos.flatMap((n) => [abs(n.rel), Buffer.from([0])])));
  }
  for (const n of nodes) {
    await lchown(abs(n.rel), n.uid, n.gid);
    await chmodNoFollow(abs(n.rel), n.mode);
  }
}

/** Owner and mode of directories, deepest first (a read-only directory last). Returns them in that order. */
export function setDirOwnerModes<T extends Meta>(dirs: Iterable<T>, abs: AbsPath): T[] {
  const sorted = [...dirs].sort((a, b) => depth(b.rel) - depth(a.rel));
  for (const d of sorted) {
    const fd = openSync(abs(d.rel), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    try {
      fchownSync(fd, d.uid, d.gid);
      fchmodSync(fd, d.mode);
    } finally {
      closeSync(fd);
    }
  }
  return sorted;
}

/** xattrs and ACLs in one setfattr; ACL text is turned into the xattr with the guest's own user database. */
export async function restoreXattrs(rootPath: string, items: XattrItem[], abs: AbsPath, summary: TarSummary): Promise<void> {
  let ids: IdResolver | undefined;
  const resolver = async (): Promise<IdResolver> => {
    if (ids) return ids;
    const read = async (name: string) => {
      // the guest's own user database, read without following symlinks out of the target
      for (const base of [rootPath, '']) {
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
  for (const item of items) {
    const attrs: Xattrs = [...item.xattrs];
    const has = (n: string) => attrs.some(([k]) => k.toString('latin1') === n);
    // GNU tar writes ACLs as text (SCHILY.acl.*); the binary xattr, when also present, wins
    for (const [text, xname] of [[item.aclAccess, 'system.posix_acl_access'], [item.aclDefault, 'system.posix_acl_default']] as const) {
      if (!text || has(xname)) continue;
      try {
        attrs.push([Buffer.from(xname), aclTextToXattr(text, await resolver())]);
      } catch (err) {
        summary.skipped.push({ path: printable(item.rel) || '.', reason: `ACL not restored: ${oneLine(err)}` });
      }
    }
    if (attrs.length === 0) continue;
    blocks.push(setfattrBlock(abs(item.rel), attrs));
    summary.withXattrs += 1;
  }
  const r = await runFilterCollect('setfattr', ['-h', '--restore=-'], Buffer.concat(blocks));
  for (const line of r.split('\n').filter(Boolean).slice(0, 1000)) summary.skipped.push({ path: '(xattrs)', reason: line });
}

/** Nanosecond times: python3's os.utime(ns=...) in one process; else lutimes (microseconds). */
export async function setTimes(times: Array<Pick<Meta, 'rel' | 'mtimeNs' | 'atimeNs'>>, abs: AbsPath, summary: TarSummary): Promise<void> {
  if (times.length === 0) return;
  const py = python3();
  if (py) {
    const input = Buffer.concat(times.flatMap((t) => [
      abs(t.rel), Buffer.from(`\0${t.atimeNs ?? t.mtimeNs}\0${t.mtimeNs}\0`),
    ]));
    const err = await runFilterCollect(py, ['-c', SET_TIMES_PY], input);
    for (const line of err.split('\n').filter(Boolean).slice(0, 1000)) summary.skipped.push({ path: '(times)', reason: line });
    return;
  }
  summary.warnings.push('python3 is not installed: modification times kept to the microsecond only');
  for (const t of times) {
    await lutimes(abs(t.rel), microsArg(t.atimeNs ?? t.mtimeNs), microsArg(t.mtimeNs));
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
  const { sec, nsec } = splitNs(ns);
  return nsec === 0n ? Number(sec) : Number(sec) + (Number(nsec / 1000n) + 0.5) / 1e6;
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
  requireTool(tool, tool.endsWith('python3') ? 'to set nanosecond times' : 'to restore extended attributes');
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
