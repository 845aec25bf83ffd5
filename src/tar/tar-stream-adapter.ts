// Every place the tar code leans on tar-stream beyond its documented API, in one file, so that an
// upgrade of tar-stream has one file to check (test/tar/tar-stream-adapter.test.ts pins the version):
// - (read.ts now reads archives with its own block reader, as GNU tar 1.34 reads them; the read-side
//   helpers below stay for code that still reads through tar-stream, and are checked by the test)
// - the reader replaces the private `_decodeLongHeader`, because tar-stream decodes pax values and
//   GNU long names as UTF-8, which corrupts raw-byte names and binary xattr values;
// - the reader reads the undocumented `header.byteOffset` to find where the last entry ends;
// - the reader wraps the private `_consumeHeader` and `_applyLongHeaders` to give each header its raw
//   block, and to take old GNU sparse extension blocks (which follow a type S header and are not
//   counted in its size) off the stream before the entry's data, as `header.extensions`;
// - the reader keeps the order of the GNU sparse pax records (0.0 repeats its keywords);
// - the writer pushes its own blocks (raw-byte pax headers, base-256 device numbers) into the pack
//   stream, because tar-stream's pax writer encodes UTF-8 strings only and writes six octal digits;
// - tar-stream's error texts are mapped to the real cause.

import * as tar from 'tar-stream';
import { DomuError, oneLine } from '../errors.js';
import { decodePaxRecords } from './format.js';
import { OrderedPaxRecords, PAX_SPARSE_SEQUENCE } from './sparse.js';
import { EntryError } from './types.js';

/** The tar-stream version the workarounds below were written for and checked against. */
export const TAR_STREAM_VERSION = '3.2.2';

interface PaxPatchable {
  _decodeLongHeader: (buf: Buffer) => void;
  _header: { type: string | null };
  _pax: Record<string, string> | null;
  _paxGlobal: Record<string, string> | null;
  _gnuLongPath: string | null;
  _gnuLongLinkPath: string | null;
}

/** tar-stream decodes pax values as UTF-8, which corrupts raw names and binary xattrs: keep bytes (as latin1). */
export function keepRawPax(ex: tar.Extract): void {
  const target = ex as unknown as PaxPatchable;
  if (typeof target._decodeLongHeader !== 'function') {
    throw new DomuError('INTERNAL', 'the installed tar-stream cannot be made to keep raw pax records (version changed?)');
  }
  target._decodeLongHeader = function (this: PaxPatchable, buf: Buffer) {
    const type = this._header.type;
    if (type === 'pax-header' || type === 'pax-global-header') {
      const obj: Record<string, string> = type === 'pax-header' && this._paxGlobal ? { ...this._paxGlobal } : {};
      const records = new OrderedPaxRecords();
      for (const [k, v] of decodePaxRecords(buf, records)) obj[k] = v.toString('latin1');
      if (records.sequence.length > 0) obj[PAX_SPARSE_SEQUENCE] = JSON.stringify(records.sequence);
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


interface HeaderPatchable {
  _locked: boolean;
  _buffer: { shift(n: number): Buffer | null; shifted: number };
  _header: (tar.Header & { block?: Buffer; extensions?: Buffer[] }) | null;
  _consumeHeader: () => boolean;
  _applyLongHeaders: () => void;
  _final: (cb: (err: Error | null) => void) => void;
}

/**
 * Each header gets its raw block (`header.block`); a type S header with "isextended" set is
 * followed by extension blocks up to one whose own flag (byte 504) is clear: they are taken off
 * the stream and handed on as `header.extensions`, so that the entry's data is what follows them.
 */
export function keepRawBlocks(ex: tar.Extract): void {
  const t = ex as unknown as HeaderPatchable;
  const consume = t._consumeHeader;
  const apply = t._applyLongHeaders;
  if (typeof consume !== 'function' || typeof apply !== 'function' || typeof t._final !== 'function' || typeof t._buffer?.shift !== 'function') {
    throw new DomuError('INTERNAL', 'the installed tar-stream cannot be made to read old GNU sparse headers (version changed?)');
  }
  let pending: { block: Buffer; extensions: Buffer[] } | null = null;
  let current: { block: Buffer; extensions: Buffer[] } | null = null;
  /** Let tar-stream decode `block` as if it were still the next 512 bytes of its buffer. */
  const replay = (block: Buffer): boolean => {
    const list = t._buffer as { shift(n: number): Buffer | null; shifted: number };
    list.shifted -= 512;
    list.shift = () => {
      delete (list as { shift?: unknown }).shift;
      list.shifted += 512;
      return block;
    };
    try {
      return consume.call(t);
    } finally {
      delete (list as { shift?: unknown }).shift;
    }
  };
  t._consumeHeader = function (this: HeaderPatchable) {
    if (this._locked) return false;
    const block = this._buffer.shift(512); // tar-stream calls this with at least 512 bytes buffered
    if (!block) return false;
    if (pending) {
      pending.extensions.push(block);
      if (block[504] !== 0) return true;
      current = pending;
      pending = null;
      return replay(current.block);
    }
    if (block[156] === 0x53 && block[482] !== 0) {
      pending = { block, extensions: [] };
      return true;
    }
    current = { block, extensions: [] };
    return replay(block);
  };
  t._applyLongHeaders = function (this: HeaderPatchable) {
    apply.call(this);
    if (this._header && current) {
      this._header.block = current.block;
      this._header.extensions = current.extensions;
    }
    current = null;
  };
  const final = t._final;
  t._final = function (this: HeaderPatchable, cb: (err: Error | null) => void) {
    // the archive ends inside an old GNU sparse header's extension blocks
    if (pending) cb(new Error('Unexpected end of data'));
    else final.call(this, cb);
  };
}

/** An extract stream that keeps names and pax values as raw bytes (latin1 strings). */
export function rawExtract(): tar.Extract {
  // allowUnknownFormat: v7 headers (no ustar magic), which GNU tar and bsdtar read; the checksum still guards them
  const ex = tar.extract({ filenameEncoding: 'latin1', allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  keepRawPax(ex);
  keepRawBlocks(ex);
  return ex;
}

export function endExtract(ex: tar.Extract): void {
  (ex as unknown as { end(): void }).end();
}

/** Where the entry's data ends in the tar stream (its header's offset, plus the padded body). */
export function entryEnd(h: tar.Header): number {
  return ((h as unknown as { byteOffset: number }).byteOffset ?? 0) + Math.ceil(h.size / 512) * 512;
}

/** Put blocks the writer made itself into the pack stream, between entries. */
export function pushRaw(pack: tar.Pack, block: Buffer): void {
  (pack as unknown as { push(b: Buffer): boolean }).push(block);
}

export function endEntry(sink: ReturnType<tar.Pack['entry']>): void {
  (sink as unknown as { end(): void }).end();
}

/** A failure while reading, as a BAD_INPUT DomuError naming the real cause (tar-stream's texts mapped). */
export function readFailure(file: string, e: unknown): DomuError {
  if (e instanceof DomuError) return e;
  if (e instanceof EntryError) return new DomuError('BAD_INPUT', e.message);
  const msg = oneLine(e);
  if (/unexpected end/i.test(msg)) return new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
  if (/invalid tar header|checksum/i.test(msg)) return new DomuError('BAD_INPUT', `${file} is damaged: a header has a bad checksum or is not a tar header`);
  if (/invalid header/i.test(msg)) return new DomuError('BAD_INPUT', `${file} is damaged: an entry has an invalid (negative or malformed) size`);
  if (/incorrect header check|unexpected end of file|invalid|corrupt/i.test(msg)) return new DomuError('BAD_INPUT', `${file} cannot be decompressed: ${msg}`);
  return new DomuError('BAD_INPUT', `${file} cannot be read as a tar archive: ${msg}`);
}
