// GNU sparse files, every way GNU tar stores them, read as GNU tar 1.34 reads them (sparse.c, xheader.c):
//   old GNU  type S (--format=gnu/oldgnu --sparse): the map in the header (4 pairs at offset 386,
//            "isextended" at 482, the real size at 483) and in extension blocks after it (21 pairs,
//            "isextended" at 504), numbers octal or base-256;
//   pax 0.0  repeated GNU.sparse.offset / GNU.sparse.numbytes records (GNU.sparse.numblocks first);
//   pax 0.1  GNU.sparse.map=off,size,off,size...;
//   pax 1.0  GNU.sparse.major=1: the map as decimal lines at the start of the data, padded to a block.
// The real size comes from GNU.sparse.realsize or GNU.sparse.size (the later record wins), the name
// from GNU.sparse.name when there is one (over `path`, whatever the order).
// The data of each region takes whole blocks, as GNU tar writes and reads it. Extraction does what
// GNU tar's does: each region written at its offset in map order, a zero-length region truncates the
// file at its offset (GNU tar's marker for a file that ends in a hole), nothing else sets the size, so
// holes stay holes and no zeros are written. Data after the last region is skipped, as GNU tar does.
// Refused, naming the cause: malformed numbers and maps, a region that passes the real size, a map
// or data cut short.

import { EntryError, printable, type SparseInfo } from './types.js';

const BLOCK = 512;
/** A bound on the regions of one file (each costs memory before its data is read). */
const MAX_REGIONS = 1 << 24;

// ---- pax 0.0: the records' order matters, and a pax record map keeps one value a key ----

/** The records whose order GNU tar's reading depends on: the reader keeps them, in order, as a sequence. */
export const ORDERED_KEYS: ReadonlySet<string> = new Set(['GNU.sparse.size', 'GNU.sparse.realsize', 'GNU.sparse.numblocks', 'GNU.sparse.offset', 'GNU.sparse.numbytes', 'GNU.sparse.map']);

/** The key under which the reader keeps that sequence as JSON [key, value] pairs (it has '=', so no record can use it). */
export const PAX_SPARSE_SEQUENCE = 'GNU.sparse=sequence';

// ---- numbers ----

/** A decimal number as GNU tar's decode_num takes it: digits only, at most `max`. */
function decimal(text: string, max: bigint): bigint | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v <= max ? v : undefined;
}

const OFF_MAX = (1n << 63n) - 1n;

/** A number field of an old GNU header (OFF_FROM_HEADER): octal after leading spaces, or base-256. */
function headerNumber(field: Buffer): bigint | undefined {
  if (field[0] === 0x80) {
    let v = 0n;
    for (let i = 1; i < field.length; i++) v = v * 256n + BigInt(field[i]!);
    return v;
  }
  if (field[0] === 0xff) return undefined; // negative
  let at = 0;
  while (at < field.length && field[at] === 0x20) at++;
  const first = at;
  let v = 0n;
  while (at < field.length && field[at]! >= 0x30 && field[at]! <= 0x37) v = v * 8n + BigInt(field[at++]! - 0x30);
  if (at === first) return undefined;
  if (at < field.length && field[at] !== 0 && field[at] !== 0x20) return undefined;
  return v;
}

const safe = (v: bigint, what: string, where: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new EntryError(`${where}: the GNU sparse ${what} ${v} is beyond what unpack handles (2^53 bytes)`);
  return Number(v);
};

// ---- which entries are sparse, and their maps ----

/** What parseHeader needs of a header: its pax records, and for old GNU its raw blocks. */
export interface SparseHeader {
  size: number;
  pax?: Record<string, string> | null;
  /** The raw header block (old GNU sparse reads its map from it). */
  block?: Buffer;
  /** The old GNU sparse extension blocks that followed the header. */
  extensions?: Buffer[];
}

/** The sparse layout of an entry, and the real name pax sparse formats carry; undefined when not sparse. */
export function sparseOf(h: SparseHeader, whereArg: string | (() => string)): { sparse: SparseInfo; name: Buffer | undefined } | undefined {
  // the name for messages, printed only for a sparse entry
  const named = () => (typeof whereArg === 'string' ? whereArg : whereArg());
  if (h.block && h.block[156] === 0x53) return { sparse: oldGnu(h.block, h.extensions ?? [], named()), name: undefined };
  const pax = h.pax ?? {};
  let sparseKeys = false;
  for (const k in pax) {
    if (k.startsWith('GNU.sparse.')) {
      sparseKeys = true;
      break;
    }
  }
  if (!sparseKeys) return undefined;
  let where = named();
  // messages name the file by its real name when the records carry one
  const nameText = pax['GNU.sparse.name'];
  const name = nameText ? Buffer.from(nameText, 'latin1') : undefined;
  if (name) where = printable(name);
  const bad = (key: string, value = pax[key]): never => {
    throw new EntryError(`${where}: malformed pax ${key} "${value}" (a GNU sparse file)`);
  };
  // the real size: GNU.sparse.size (0.x) and GNU.sparse.realsize (1.0) are one keyword to GNU tar, the later record wins
  let realSize = h.size;
  const sequence = recordSequence(pax);
  for (const [key, value] of sequence) {
    if ((key !== 'GNU.sparse.size' && key !== 'GNU.sparse.realsize') || value === '') continue;
    const n = decimal(value, OFF_MAX);
    if (n === undefined) bad(key, value);
    realSize = safe(n!, 'size', where);
  }
  const major = pax['GNU.sparse.major'];
  if (major !== undefined && major !== '') {
    const m = decimal(major, 1n << 31n);
    if (m === undefined) bad('GNU.sparse.major');
    if (m! > 1n) throw new EntryError(`${where}: GNU sparse format ${major}.${pax['GNU.sparse.minor'] ?? '0'}, which GNU tar 1.34 does not know either`);
    if (m === 1n) return { sparse: { format: 'pax 1.0', realSize, map: undefined }, name };
  }
  const map = paxMap(sequence, where);
  if (map.length === 0) {
    // GNU tar treats such an entry as a plain file of the real size and reads that much data; refuse instead
    throw new EntryError(`${where}: GNU sparse records without a sparse map`);
  }
  checkRegions(map, realSize, where);
  return { sparse: { format: pax['GNU.sparse.map'] !== undefined ? 'pax 0.1' : 'pax 0.0', realSize, map }, name };
}

/** The size and map records in their order (the reader's sequence; without it, the merged records). */
function recordSequence(pax: Record<string, string>): Array<[string, string]> {
  const seqText = pax[PAX_SPARSE_SEQUENCE];
  if (seqText !== undefined) return JSON.parse(seqText) as Array<[string, string]>;
  return [...ORDERED_KEYS].filter((k) => pax[k] !== undefined && pax[k] !== '').map((k) => [k, pax[k]!]);
}

/** The 0.0/0.1 map as GNU tar builds it from the records in their order. */
function paxMap(sequence: Array<[string, string]>, where: string): Array<[number, number]> {
  const map: Array<[number, number]> = [];
  let capacity = 0;
  let pendingOffset: number | undefined;
  for (const [key, value] of sequence) {
    const malformed = (why = ''): never => {
      throw new EntryError(`${where}: malformed pax ${key} "${value.length > 60 ? `${value.slice(0, 60)}...` : value}"${why}`);
    };
    switch (key) {
      case 'GNU.sparse.numblocks': {
        const n = decimal(value, BigInt(MAX_REGIONS));
        if (n === undefined) malformed(` (at most ${MAX_REGIONS} regions)`);
        capacity = Number(n);
        map.length = 0;
        pendingOffset = undefined;
        break;
      }
      case 'GNU.sparse.offset': {
        const n = decimal(value, OFF_MAX);
        if (n === undefined) malformed();
        if (map.length >= capacity) malformed(` (more regions than GNU.sparse.numblocks=${capacity})`);
        pendingOffset = safe(n!, 'offset', where);
        break;
      }
      case 'GNU.sparse.numbytes': {
        const n = decimal(value, OFF_MAX);
        if (n === undefined) malformed();
        if (map.length >= capacity) malformed(` (more regions than GNU.sparse.numblocks=${capacity})`);
        map.push([pendingOffset ?? 0, safe(n!, 'region size', where)]);
        pendingOffset = undefined;
        break;
      }
      case 'GNU.sparse.map': {
        map.length = 0;
        const parts = value.split(',');
        if (parts.length % 2 !== 0) malformed(' (an odd number of values)');
        if (parts.length / 2 > MAX_REGIONS) malformed(` (more than ${MAX_REGIONS} regions)`);
        for (let i = 0; i < parts.length; i += 2) {
          const o = decimal(parts[i]!, OFF_MAX);
          const n = decimal(parts[i + 1]!, OFF_MAX);
          if (o === undefined || n === undefined) malformed();
          map.push([safe(o!, 'offset', where), safe(n!, 'region size', where)]);
        }
        capacity = Math.max(capacity, map.length);
        break;
      }
    }
  }
  return map;
}

/** Old GNU type S: four pairs in the header, 21 in each extension block, a pair with an empty size ends the map. */
function oldGnu(block: Buffer, extensions: Buffer[], where: string): SparseInfo {
  const map: Array<[number, number]> = [];
  const field = (b: Buffer, at: number, len: number, what: string): number => {
    const v = headerNumber(b.subarray(at, at + len));
    if (v === undefined) throw new EntryError(`${where}: invalid old GNU sparse header (its ${what} field is not a number)`);
    return safe(v, what, where);
  };
  const pairs = (b: Buffer, at: number, count: number): boolean => {
    for (let i = 0; i < count; i++) {
      const o = at + i * 24;
      if (b[o + 12] === 0) return false; // numbytes[0] == '\0': the end of the map
      map.push([field(b, o, 12, 'region offset'), field(b, o + 12, 12, 'region size')]);
    }
    return true;
  };
  const realSize = field(block, 483, 12, 'real size');
  let more = pairs(block, 386, 4);
  for (const ext of extensions) {
    if (!more) break;
    more = pairs(ext, 0, 21);
    if (map.length > MAX_REGIONS) throw new EntryError(`${where}: old GNU sparse map of more than ${MAX_REGIONS} regions`);
  }
  checkRegions(map, realSize, where);
  return { format: 'old GNU', realSize, map };
}

function checkRegions(map: Array<[number, number]>, realSize: number, where: string): void {
  for (const [off, n] of map) {
    if (off + n > realSize) throw new EntryError(`${where}: GNU sparse map segments overlap or pass the file's size (the region at ${off}..${off + n} passes the size ${realSize})`);
  }
}

// ---- the body ----

export interface SparseSink {
  /** Write `data` at `pos` of the file. */
  write(data: Buffer, pos: number): void;
  /** Set the file's size (a zero-length region: the file ends in a hole there). */
  truncate(size: number): void;
}

/**
 * Read a sparse entry's body (`size` bytes in the archive): the pax 1.0 map first when the format
 * has it there, then each region's data, handed to `sink`. Throws EntryError on a malformed or lying
 * map, or a body cut short.
 */
export async function readSparseBody(body: AsyncIterable<Buffer>, sparse: SparseInfo, where: string, sink: SparseSink): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  let ended = false;
  const more = async (what: string): Promise<boolean> => {
    const r = ended ? { done: true as const } : await it.next();
    if (r.done) {
      ended = true;
      if (what) throw new EntryError(`${where}: the GNU sparse map or data is cut short (the entry ends inside ${what})`);
      return false;
    }
    pending = pending.length === 0 ? r.value : Buffer.concat([pending, r.value]);
    return true;
  };
  let map = sparse.map;
  if (map === undefined) {
    // pax 1.0: decimal lines, count then offset/size pairs; GNU tar takes at most 20 characters a number
    let used = 0;
    const line = async (): Promise<bigint> => {
      let nl = pending.indexOf(0x0a);
      while (nl < 0) {
        if (pending.length > 20) throw new EntryError(`${where}: malformed GNU sparse map (a number longer than 20 digits)`);
        await more('the map');
        nl = pending.indexOf(0x0a);
      }
      const text = pending.toString('latin1', 0, nl);
      const v = decimal(text, OFF_MAX);
      if (v === undefined) throw new EntryError(`${where}: malformed GNU sparse map ("${text.length > 24 ? `${text.slice(0, 24)}...` : text}" where a number is expected)`);
      pending = pending.subarray(nl + 1);
      used += nl + 1;
      return v;
    };
    const count = await line();
    if (count > BigInt(MAX_REGIONS)) throw new EntryError(`${where}: GNU sparse map of ${count} regions (more than ${MAX_REGIONS})`);
    map = [];
    for (let i = 0n; i < count; i++) {
      const off = safe(await line(), 'offset', where);
      const n = safe(await line(), 'region size', where);
      map.push([off, n]);
    }
    checkRegions(map, sparse.realSize, where);
    const pad = (BLOCK - (used % BLOCK)) % BLOCK;
    while (pending.length < pad) await more('the map');
    pending = pending.subarray(pad);
  }
  for (const [off, n] of map) {
    if (n === 0) {
      sink.truncate(off);
      continue;
    }
    let pos = off;
    let left = n;
    while (left > 0) {
      if (pending.length === 0) await more(`the data of the region at ${off}..${off + n}`);
      const k = Math.min(left, pending.length);
      sink.write(pending.subarray(0, k), pos);
      pending = pending.subarray(k);
      pos += k;
      left -= k;
    }
    // each region's data fills whole blocks; the last one's padding may be the entry's own
    let pad = (BLOCK - (n % BLOCK)) % BLOCK;
    while (pad > 0) {
      if (pending.length === 0 && !(await more(''))) break;
      const k = Math.min(pad, pending.length);
      pending = pending.subarray(k);
      pad -= k;
    }
  }
  // whatever follows the last region, GNU tar skips
  if (!ended) for (;;) if ((await it.next()).done) break;
}
