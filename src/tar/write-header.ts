// The writer's headers, made straight into the output buffer: the ustar block of an entry (laid out
// as tar-stream 3 wrote it, so archives stay byte-identical to earlier ones), the pax extended
// header ahead of it, and the POSIX ACL text GNU tar stores as SCHILY.acl.access / .default.

import { encodePaxRecord, paxBlock } from './format.js';

export const BLOCK = 512;

/** ustar type flags. */
export const TYPEFLAG = { file: 0x30, link: 0x31, symlink: 0x32, chardev: 0x33, blockdev: 0x34, dir: 0x35, fifo: 0x36 } as const;

export interface UstarFields {
  /** At most 100 bytes, latin1 (one char per byte). */
  name: string;
  typeflag: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds, already clamped to 0..2^31-1. */
  mtime: number;
  /** At most 100 bytes, latin1; '' for none. */
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Buffer's latin1Write (in Node, missing from its types): no encoding dispatch per call. */
type Latin1Writer = Buffer & { latin1Write(s: string, offset: number, length: number): number };

/** Write `digits` octal digits of `v` and a space at `at` (tar-stream's encodeOct: all 7s when it does not fit). */
function octal(b: Buffer, at: number, v: number, digits: number): void {
  if (v > MAX_OCTAL[digits]!) {
    b.fill(0x37, at, at + digits);
  } else {
    for (let i = at + digits - 1; i >= at; i--) {
      const r = v % 8;
      b[i] = 0x30 + r;
      v = (v - r) / 8;
    }
  }
  b[at + digits] = 0x20;
}

const MAX_OCTAL: Record<number, number> = { 6: 0o777777, 11: 0o77777777777 };

/** One 512-byte ustar header at `at` in `b`. */
export function writeUstar(b: Buffer, at: number, h: UstarFields): void {
  b.fill(0, at, at + BLOCK);
  const w = b as Latin1Writer;
  w.latin1Write(h.name, at, 100);
  octal(b, at + 100, h.mode & 0o7777, 6);
  octal(b, at + 108, h.uid, 6);
  octal(b, at + 116, h.gid, 6);
  if (h.size > MAX_OCTAL[11]!) {
    // base-256, as tar-stream and GNU tar write sizes of 8 GiB and more
    let n = h.size;
    b[at + 124] = 0x80;
    for (let i = 11; i > 0; i--) {
      b[at + 124 + i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else octal(b, at + 124, h.size, 11);
  octal(b, at + 136, h.mtime, 11);
  b[at + 156] = h.typeflag;
  if (h.linkname.length > 0) w.latin1Write(h.linkname, at + 157, 100);
  w.latin1Write('ustar\x0000', at + 257, 8);
  octal(b, at + 329, h.devmajor, 6);
  octal(b, at + 337, h.devminor, 6);
  // the checksum counts its own field as spaces
  let sum = 8 * 0x20;
  for (let i = at; i < at + 148; i++) sum += b[i]!;
  for (let i = at + 156; i < at + 265; i++) sum += b[i]!;
  for (let i = at + 329; i < at + 345; i++) sum += b[i]!;
  octal(b, at + 148, sum, 6);
}

/** Bytes the pax header takes for records of `length` bytes: its block and the records padded. */
export function paxBytes(length: number): number {
  return length === 0 ? 0 : BLOCK + padded(length);
}

export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** The pax extended header (type 'x') for the entry named `name` in its ustar field, at `at`; returns the bytes written. */
export function writePax(b: Buffer, at: number, name: string, mtime: number, records: Buffer[], length: number): number {
  paxBlock({ name, mtime: new Date(mtime * 1000) }, length).copy(b, at);
  let p = at + BLOCK;
  for (const r of records) p += r.copy(b, p);
  const end = at + paxBytes(length);
  b.fill(0, p, end);
  return end - at;
}

// ---- POSIX ACLs as text (acl_to_text's long form, which GNU tar stores), from the kernel's xattr ----

const TAGS: Record<number, string> = { 0x01: 'user:', 0x02: 'user:', 0x04: 'group:', 0x08: 'group:', 0x10: 'mask:', 0x20: 'other:' };

function perms(p: number): string {
  return `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`;
}

/**
 * "user::rw-\nuser:1000:r--\ngroup::r--\nmask::r--\nother::r--\n" from a system.posix_acl_* value.
 * Named entries carry the numeric id (the extracting side need not know the names); undefined
 * when the value is not a version 2 ACL.
 */
export function aclXattrToText(v: Buffer): string | undefined {
  if (v.length < 4 || (v.length - 4) % 8 !== 0 || v.readUInt32LE(0) !== 2) return undefined;
  let text = '';
  for (let at = 4; at < v.length; at += 8) {
    const tag = v.readUInt16LE(at);
    const name = TAGS[tag];
    if (name === undefined) return undefined;
    const qualifier = tag === 0x02 || tag === 0x08 ? String(v.readUInt32LE(at + 4)) : '';
    text += `${name}${qualifier}:${perms(v.readUInt16LE(at + 2))}\n`;
  }
  return text;
}

/** The access ACL a mode stands for: what acl_get_file returns for a file with no ACL of its own. */
export function aclTextOfMode(mode: number): string {
  return `user::${perms(mode >> 6)}\ngroup::${perms(mode >> 3)}\nother::${perms(mode)}\n`;
}

const ACL_ACCESS = 'system.posix_acl_access';
const ACL_DEFAULT = 'system.posix_acl_default';

/**
 * SCHILY.acl.access and (for directories) SCHILY.acl.default records, as GNU tar --acls writes
 * them: only for an entry with an ACL (an access ACL, or a directory's default ACL), the access
 * text then from the mode if it has none of its own, and an empty default for a directory without one.
 */
export function aclRecords(attrs: ReadonlyArray<readonly [Buffer, Buffer]>, mode: number, isDir: boolean): Buffer[] {
  let access: Buffer | undefined;
  let dflt: Buffer | undefined;
  for (const [n, v] of attrs) {
    if (n.length === ACL_ACCESS.length && n.toString('latin1') === ACL_ACCESS) access = v;
    else if (n.length === ACL_DEFAULT.length && n.toString('latin1') === ACL_DEFAULT) dflt = v;
  }
  if (!access && !(isDir && dflt)) return [];
  const accessText = access ? aclXattrToText(access) : aclTextOfMode(mode);
  const defaultText = isDir ? (dflt ? aclXattrToText(dflt) : '') : undefined;
  if (accessText === undefined || (isDir && defaultText === undefined)) return [];
  const out = [encodePaxRecord('SCHILY.acl.access', Buffer.from(accessText, 'latin1'))];
  if (defaultText !== undefined) out.push(encodePaxRecord('SCHILY.acl.default', Buffer.from(defaultText, 'latin1')));
  return out;
}
