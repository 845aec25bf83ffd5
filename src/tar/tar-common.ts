// What the rootfs tarball writer and reader share: pax record coding on raw bytes, the summary
// type, xattr dumps in getfattr's format, POSIX ACL text <-> xattr binary, and compressors.
// File names are Buffers throughout: a name need not be UTF-8, and pax stores it as raw bytes.

import { spawn, type ChildProcess } from 'node:child_process';
import { DomuError, oneLine } from '../errors.js';
import { DEBIAN_PACKAGE, hasTool } from '../sys/exec.js';

export type TarCompression = 'none' | 'gzip' | 'xz' | 'zstd';
export const TAR_COMPRESSIONS: readonly TarCompression[] = ['none', 'gzip', 'xz', 'zstd'];

export interface TarProgress {
  /** 'scan': checking the archive before anything is written; 'write'/'extract': the main pass; 'finish': metadata. */
  phase: 'scan' | 'write' | 'extract' | 'finish';
  entries: number;
  /** File content bytes so far (not archive bytes). */
  bytes: number;
  /** Known after the scan pass of an extraction. */
  totalEntries?: number;
  totalBytes?: number;
}

export interface TarIssue {
  /** The entry's path inside the tree, printable (non-UTF-8 bytes as \xNN). */
  path: string;
  reason: string;
}

export interface TarSummary {
  archive: string;
  root: string;
  compression: TarCompression;
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  /** Entries that carry at least one xattr (ACLs included). */
  withXattrs: number;
  /** Files stored (pack) or read (unpack) as GNU sparse 1.0 entries. */
  sparse: number;
  /** File content bytes. */
  bytes: number;
  /** Size of the archive file as stored (compressed). */
  archiveBytes: number;
  seconds: number;
  /** Entries left out (sockets, vanished files, ...). */
  skipped: TarIssue[];
  /** Entries that changed while being read (writer only). */
  changed: TarIssue[];
  warnings: string[];
}

export function emptySummary(archive: string, root: string, compression: TarCompression): TarSummary {
  return {
    archive, root, compression,
    entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, withXattrs: 0, sparse: 0,
    bytes: 0, archiveBytes: 0, seconds: 0, skipped: [], changed: [], warnings: [],
  };
}

/** A path for messages: UTF-8 when it is valid UTF-8, other bytes and control characters as \xNN. */
export function printable(name: Buffer): string {
  const utf8 = name.toString('utf8');
  const valid = Buffer.from(utf8, 'utf8').equals(name);
  let out = '';
  if (valid) {
    for (const ch of utf8) {
      const c = ch.codePointAt(0)!;
      out += c < 0x20 || c === 0x7f || ch === '\\' ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
    }
    return out;
  }
  for (const b of name) out += b < 0x20 || b >= 0x7f || b === 0x5c ? `\\x${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b);
  return out;
}

// ---- pax extended header records ("LEN key=value\n", LEN counting itself), values raw bytes ----

export type PaxRecords = Map<string, Buffer>;

export function encodePaxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'latin1'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

/** Parse pax records; values stay raw bytes. Throws on a malformed record. */
export function decodePaxRecords(buf: Buffer, into: PaxRecords = new Map()): PaxRecords {
  let at = 0;
  while (at < buf.length) {
    if (buf[at] === 0) break; // padding some writers leave
    const space = buf.indexOf(0x20, at);
    if (space < 0) throw new Error('malformed pax record (no length)');
    const lenText = buf.toString('latin1', at, space);
    if (!/^[0-9]{1,12}$/.test(lenText)) throw new Error(`malformed pax record length "${lenText}"`);
    const len = Number(lenText);
    const end = at + len;
    if (len < space - at + 3 || end > buf.length || buf[end - 1] !== 0x0a) throw new Error('malformed pax record');
    const eq = buf.indexOf(0x3d, space + 1);
    if (eq < 0 || eq >= end) throw new Error('malformed pax record (no "=")');
    const key = buf.toString('latin1', space + 1, eq);
    const value = Buffer.from(buf.subarray(eq + 1, end - 1));
    // An empty value deletes the keyword (POSIX); keep it as an empty Buffer, callers treat it as absent.
    into.set(key, value);
    at = end;
  }
  return into;
}

/** GNU tar and star percent-encode '%' and '=' in SCHILY.xattr.* keys. */
export function xattrPaxKey(name: Buffer): string {
  return `SCHILY.xattr.${name.toString('latin1').replace(/%/g, '%25').replace(/=/g, '%3D')}`;
}

export function xattrNameFromPaxKey(key: string): Buffer {
  return Buffer.from(key.slice('SCHILY.xattr.'.length).replace(/%3D/gi, '=').replace(/%25/g, '%'), 'latin1');
}

/** "1795700479.939447077" (or "-1.5", or "12") to nanoseconds, exactly. */
export function parsePaxTime(text: string): bigint {
  const m = /^(-?)([0-9]{1,20})(?:\.([0-9]*))?$/.exec(text.trim());
  if (!m) throw new Error(`malformed pax time "${text}"`);
  const frac = BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  const ns = BigInt(m[2]!) * 1_000_000_000n + frac;
  return m[1] === '-' ? -ns : ns;
}

export function formatPaxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = abs / 1_000_000_000n;
  const frac = abs % 1_000_000_000n;
  const text = frac === 0n ? `${sec}` : `${sec}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return neg ? `-${text}` : text;
}

// ---- getfattr / setfattr dump format: "# file: NAME", "name=0xHEX", blank line ----

/** getfattr quotes control characters, DEL and backslash as \ooo; setfattr --restore undoes it. */
export function quoteAttrName(name: Buffer): Buffer {
  const out: number[] = [];
  for (const b of name) {
    if (b < 0x20 || b === 0x7f || b === 0x5c) {
      out.push(0x5c, ...Buffer.from(b.toString(8).padStart(3, '0'), 'latin1'));
    } else out.push(b);
  }
  return Buffer.from(out);
}

export function unquoteAttrName(text: Buffer): Buffer {
  if (!text.includes(0x5c)) return text;
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const b = text[i]!;
    if (b === 0x5c && i + 3 < text.length && /^[0-7]{3}$/.test(text.toString('latin1', i + 1, i + 4))) {
      out.push(parseInt(text.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else out.push(b);
  }
  return Buffer.from(out);
}

export type Xattrs = Array<[name: Buffer, value: Buffer]>;

/**
 * Parse a getfattr dump (`-d -m - -e hex --absolute-names`) into a map from the file's path (raw
 * bytes, latin1 key) to its attributes.
 */
export function parseGetfattrDump(dump: Buffer): Map<string, Xattrs> {
  const result = new Map<string, Xattrs>();
  let current: Xattrs | undefined;
  let at = 0;
  while (at < dump.length) {
    let nl = dump.indexOf(0x0a, at);
    if (nl < 0) nl = dump.length;
    const line = dump.subarray(at, nl);
    at = nl + 1;
    if (line.length === 0) {
      current = undefined;
      continue;
    }
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      current = [];
      result.set(unquoteAttrName(line.subarray(8)).toString('latin1'), current);
      continue;
    }
    if (!current) continue;
    const eq = line.indexOf(0x3d);
    if (eq < 0) {
      current.push([unquoteAttrName(line), Buffer.alloc(0)]);
      continue;
    }
    const name = unquoteAttrName(line.subarray(0, eq));
    const text = line.toString('latin1', eq + 1);
    let value: Buffer;
    if (text.startsWith('0x')) value = Buffer.from(text.slice(2), 'hex');
    else if (text.startsWith('0s')) value = Buffer.from(text.slice(2), 'base64');
    else if (text.startsWith('"') && text.endsWith('"')) value = unquoteAttrName(Buffer.from(text.slice(1, -1), 'latin1'));
    else value = Buffer.from(text, 'latin1');
    current.push([name, value]);
  }
  return result;
}

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
