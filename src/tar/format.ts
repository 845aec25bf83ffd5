// The tar format: pax extended records on raw bytes, ustar header blocks, the parsed header of an
// entry (pax, GNU long names resolved; GNU sparse in sparse.ts) and the GNU sparse 1.0 map the writer makes.

import { sparseOf, type SparseHeader } from './sparse.js';
import { EntryError, NS, printable, type Entry, type Kind, type Xattrs } from './types.js';

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
  // An empty value deletes the keyword (POSIX); keep it as an empty Buffer, callers treat it as absent.
  eachPaxRecord(buf, (key, start, end) => into.set(key, Buffer.from(buf.subarray(start, end))));
  return into;
}

/** decodePaxRecords as latin1 text into a plain object (a later record wins), with no Buffer a value; `each` sees every record in order. */
export function decodePaxText(buf: Buffer, into: Record<string, string>, each?: (key: string, value: string) => void): void {
  eachPaxRecord(buf, (key, start, end) => {
    const value = buf.toString('latin1', start, end);
    into[key] = value;
    each?.(key, value);
  });
}

/** Every record of a pax header, in order: its key and where its value is in `buf`. */
function eachPaxRecord(buf: Buffer, record: (key: string, start: number, end: number) => void): void {
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
    record(buf.toString('latin1', space + 1, eq), eq + 1, end - 1);
    at = end;
  }
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


// ---- reading a header block, as GNU tar 1.34 does (list.c: tar_checksum, from_header) ----

/** A numeric header field: its value, or why it is not a number. */
export type NumericField = { value: bigint } | { error: string };

/**
 * A numeric field as GNU tar's from_header reads it: one leading NUL skipped (a buggy old tar wrote
 * it when the field before overflowed), then leading spaces; octal digits up to a NUL, a space or the
 * field's end (two's complement octal for negative times, when the first digit is 2 or more and the
 * value passes `bits`); or base-256, 0x80 positive and 0xff negative. Anything else after the digits
 * is an error, as in GNU tar.
 */
export function parseNumericField(field: Buffer, bits = 64, octalOnly = false): NumericField {
  let at = field[0] === 0 ? 1 : 0;
  const isSpace = (c: number | undefined) => c === 0x20 || (c !== undefined && c >= 0x09 && c <= 0x0d);
  for (;;) {
    if (at === field.length) return { error: 'blanks where a number is expected' };
    if (!isSpace(field[at])) break;
    at++;
  }
  let value = 0n;
  let negative = false;
  const c = field[at]!;
  if (c >= 0x30 && c <= 0x37) {
    const first = at;
    // up to 17 octal digits (51 bits) in a plain number, exactly; more in a bigint
    let small = 0;
    while (at < field.length && at - first < 17 && field[at]! >= 0x30 && field[at]! <= 0x37) small = small * 8 + (field[at++]! - 0x30);
    value = BigInt(small);
    while (at < field.length && field[at]! >= 0x30 && field[at]! <= 0x37) value = (value << 3n) + BigInt(field[at++]! - 0x30);
    const max = (1n << BigInt(bits - 1)) - 1n; // a signed type of `bits` bits, as off_t and time_t
    if (value > max && field[first]! >= 0x32) {
      // two's complement octal (old tars' negative times)
      const digits = at - first;
      const twos = (1n << BigInt(digits * 3)) - value;
      if (twos > 0n && twos <= max + 1n) {
        value = twos;
        negative = true;
      }
    }
  } else if (!octalOnly && (c === 0x80 || c === 0xff)) {
    // base-256: two's complement of the whole field, with the top bit as the marker
    negative = c === 0xff;
    let v = BigInt(c & 0x3f) - (negative ? 0x40n : 0n);
    for (at++; at < field.length; at++) v = v * 256n + BigInt(field[at]!);
    value = negative ? -v : v;
    at = field.length;
  } else if (c !== 0) {
    return { error: `"${printable(trimNuls(field))}" where a number is expected` };
  }
  if (at < field.length && field[at] !== 0 && !isSpace(field[at])) return { error: `"${printable(trimNuls(field))}" where a number is expected` };
  return { value: negative ? -value : value };
}

function trimNuls(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

/** A header block's checksum as GNU tar checks it: the unsigned sum, or the signed one (old Sun tars). */
export function checksumOk(block: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  const recorded = parseNumericField(block.subarray(148, 156), 32, true);
  return 'value' in recorded && (recorded.value === BigInt(unsigned) || recorded.value === BigInt(signed));
}

export const isZeroBlock = (block: Buffer): boolean => {
  for (let i = 0; i < 512; i++) if (block[i] !== 0) return false;
  return true;
};

/** Entry types by typeflag, named as tar-stream names them (so code written against it reads the same). */
const TYPES: Record<string, string> = {
  '0': 'file', '\0': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory',
  '6': 'fifo', '7': 'contiguous-file', x: 'pax-header', X: 'pax-header', g: 'pax-global-header', L: 'gnu-long-path',
  K: 'gnu-long-link-path', V: 'gnu-volume-label', M: 'gnu-multi-volume', N: 'gnu-long-names', D: 'gnu-dumpdir',
  S: 'gnu-sparse', A: 'solaris-acl',
};

/** One decoded header block (before pax records and GNU long names are applied). */
export interface TarHeader {
  /** The name, raw bytes as latin1 (ustar prefix joined). */
  name: string;
  /** tar-stream's names for the standard types, 'gnu-*' / 'solaris-acl' for the others, null for an unknown flag. */
  type: string | null;
  /** The typeflag byte as it is. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data after the header (and after old GNU sparse extension blocks). */
  size: number;
  /** Seconds (may be negative). */
  mtime: number;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  /** 'ustar' (POSIX), 'gnu' (old GNU magic "ustar  "), 'v7' (no magic). */
  format: 'ustar' | 'gnu' | 'v7';
  /** pax records in force for this entry (extended and global), values as latin1. */
  pax: Record<string, string> | null;
  /** The header block itself, and for old GNU sparse (type S) its extension blocks. */
  block: Buffer;
  extensions: Buffer[];
  /** Offset of the entry's data in the tar stream. */
  byteOffset: number;
}

/**
 * Decode a non-zero header block whose checksum is good. Throws EntryError naming the field when a
 * number GNU tar needs is not a number (the device numbers only matter for devices, as in GNU tar).
 */
export function decodeHeaderBlock(block: Buffer, byteOffset: number): TarHeader {
  const str = (at: number, len: number) => {
    const end = block.indexOf(0, at);
    return block.toString('latin1', at, end < 0 || end > at + len ? at + len : end);
  };
  const magic = block.toString('latin1', 257, 263);
  const format = magic === 'ustar\0' ? 'ustar' : magic === 'ustar ' && block[263] === 0x20 ? 'gnu' : 'v7';
  let name = str(0, 100);
  if (format === 'ustar' && block[345] !== 0) name = `${str(345, 155)}/${name}`;
  const typeflag = String.fromCharCode(block[156]!);
  const type = TYPES[block[156] === 0 ? '\0' : typeflag] ?? null;
  const where = () => printable(Buffer.from(name, 'latin1')) || '(no name)'; // only for a message
  const num = (what: string, at: number, len: number, bits = 64): bigint => {
    const r = parseNumericField(block.subarray(at, at + len), bits);
    if ('error' in r) throw new EntryError(`entry ${where()}: the header's ${what} field holds ${r.error}`);
    return r.value;
  };
  const size = num('size', 124, 12);
  if (size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER)) throw new EntryError(`entry ${where()} has an invalid (negative or malformed) size: ${size}`);
  const mtime = num('mtime', 136, 12);
  const device = type === 'character-device' || type === 'block-device';
  const small = (what: string, v: bigint) => {
    if (v < -(2n ** 53n) || v > 2n ** 53n) throw new EntryError(`entry ${where()}: the header's ${what} ${v} is out of range`);
    return Number(v);
  };
  return {
    name, type, typeflag, format,
    mode: Number(BigInt.asUintN(32, num('mode', 100, 8))) & 0o7777,
    uid: small('uid', num('uid', 108, 8)),
    gid: small('gid', num('gid', 116, 8)),
    size: Number(size), mtime: small('mtime', mtime),
    linkname: block[157] === 0 ? null : str(157, 100),
    devmajor: device ? small('devmajor', num('devmajor', 329, 8)) : 0,
    devminor: device ? small('devminor', num('devminor', 337, 8)) : 0,
    pax: null, block, extensions: [], byteOffset,
  };
}

export function parseHeader(h: TarHeader): Entry {
  const pax = (h.pax ?? {}) as Record<string, string>;
  let name: Buffer = Buffer.from(h.name, 'latin1');
  const headerName = name;
  let whereText: string | undefined;
  const where = () => (whereText ??= printable(headerName)); // only for a message
  const sp = sparseOf(h as unknown as SparseHeader, where);
  if (sp?.name) name = sp.name;
  const type = sp?.sparse.format === 'old GNU' ? 'file' : h.type;
  let kind: Kind;
  switch (type) {
    // a regular file whose name ends in "/" is a directory (v7 archives have no directory type; GNU tar does the same)
    case 'file': case 'contiguous-file': case null: kind = name.length > 0 && name[name.length - 1] === 0x2f ? 'directory' : 'file'; break;
    case 'gnu-dumpdir': kind = 'directory'; break; // an incremental dump's directory: its listing is not applied
    case 'link': case 'symlink': case 'directory': case 'character-device': case 'block-device': case 'fifo': kind = type; break;
    default: throw new EntryError(`${where()}: unsupported entry type ${h.type}`);
  }
  const num = (key: string, fallback: number): number => {
    const v = pax[key];
    if (v === undefined || v === '') return fallback;
    if (!/^[0-9]{1,15}$/.test(v)) throw new EntryError(`${where()}: malformed pax ${key} "${v}"`);
    return Number(v);
  };
  const time = (key: string): bigint | undefined => {
    const v = pax[key];
    if (v === undefined || v === '') return undefined;
    try {
      return parsePaxTime(v);
    } catch {
      throw new EntryError(`${where()}: malformed pax ${key} "${v}"`);
    }
  };
  const xattrs: Xattrs = [];
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith('SCHILY.xattr.')) xattrs.push([xattrNameFromPaxKey(k), Buffer.from(v, 'latin1')]);
  }
  const uid = num('uid', h.uid);
  const gid = num('gid', h.gid);
  if (!(uid >= 0 && gid >= 0 && uid <= 0xfffffffe && gid <= 0xfffffffe)) throw new EntryError(`${where()}: invalid owner ${uid}:${gid}`);
  return {
    path: name, kind, mode: h.mode & 0o7777, uid, gid, size: h.size,
    mtimeNs: time('mtime') ?? BigInt(h.mtime) * NS,
    atimeNs: time('atime'),
    linkname: h.linkname === null || h.linkname === undefined ? null : Buffer.from(h.linkname, 'latin1'),
    devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0, xattrs,
    aclAccess: pax['SCHILY.acl.access'] ? Buffer.from(pax['SCHILY.acl.access'], 'latin1').toString('utf8') : undefined,
    aclDefault: pax['SCHILY.acl.default'] ? Buffer.from(pax['SCHILY.acl.default'], 'latin1').toString('utf8') : undefined,
    sparse: sp?.sparse,
  };
}

// ---- writing headers ----

export const USTAR_MAX_ID = 0o777777; // tar-stream writes six octal digits for uid/gid
export const USTAR_MAX_SIZE = 0o77777777777;
export const USTAR_MAX_TIME = 0o77777777777;

/** The GNU sparse 1.0 map for these data segments, padded to whole blocks. */
export function sparseMap(segments: Array<[number, number]>): Buffer {
  const text = `${segments.length}\n${segments.map(([o, n]) => `${o}\n${n}\n`).join('')}`;
  const map = Buffer.alloc(Math.ceil(text.length / 512) * 512);
  map.write(text, 'latin1');
  return map;
}

/** ustar's mtime field holds whole seconds in 0..8^11-1; pax carries the exact value. */
export function ustarTime(ns: bigint): Date {
  let sec = ns / NS;
  if (sec < 0n) sec = 0n;
  if (sec > 2147483647n) sec = 2147483647n; // tar-stream truncates to 32 bits
  return new Date(Number(sec) * 1000);
}

/**
 * The name for the ustar field. Plain ASCII of at most 100 bytes goes there as it is; anything
 * else goes to a pax record as raw bytes, with an ASCII stand-in in the ustar field.
 */
export function ustarName(name: Buffer, records: Buffer[], key: 'path' | 'linkpath'): string {
  let plain = name.length <= 100;
  for (const b of name) {
    if (b === 0 || b >= 0x80) {
      plain = false;
      break;
    }
  }
  const text = name.toString('latin1');
  if (plain) return text;
  records.push(encodePaxRecord(key, name));
  const ascii = text.replace(/[^\x20-\x7e]/g, '_').replace(/\/+$/, '');
  return ascii.length > 99 ? ascii.slice(ascii.length - 99) : ascii || '_';
}

/** A ustar header block of type 'x' announcing `size` bytes of pax records for the next entry. */
export function paxBlock(entry: { name?: string; mtime?: Date }, size: number): Buffer {
  const base = (entry.name ?? '').replace(/\/+$/, '').split('/').pop() || '.';
  return ustarBlock({ name: `./PaxHeaders/${base}`.slice(0, 99), typeflag: 'x', mode: 0o644, size, mtime: Math.floor((entry.mtime?.getTime() ?? 0) / 1000) });
}

/** A whole ustar header; numbers that do not fit in octal go in base-256, which GNU tar reads. */
export function ustarBlock(h: { name: string; typeflag: string; mode: number; size: number; mtime: number; uid?: number; gid?: number; devmajor?: number; devminor?: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, 'latin1');
  const num = (v: number, len: number, at: number) => {
    if (v.toString(8).length < len) {
      b.write(`${v.toString(8).padStart(len - 1, '0')}\0`, at, 'latin1');
      return;
    }
    let n = BigInt(v);
    for (let i = at + len - 1; i > at; i--) {
      b[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    b[at] = 0x80;
  };
  num(h.mode & 0o7777, 8, 100);
  num(h.uid ?? 0, 8, 108);
  num(h.gid ?? 0, 8, 116);
  num(h.size, 12, 124);
  num(h.mtime, 12, 136);
  b.write(h.typeflag, 156, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  num(h.devmajor ?? 0, 8, 329);
  num(h.devminor ?? 0, 8, 337);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

