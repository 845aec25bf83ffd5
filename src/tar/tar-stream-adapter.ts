// Every place the tar code leans on tar-stream beyond its documented API, in one file, so that an
// upgrade of tar-stream has one file to check (test/tar/tar-stream-adapter.test.ts pins the version):
// - (read.ts now reads archives with its own block reader, as GNU tar 1.34 reads them; the read-side
//   helpers below stay for code that still reads through tar-stream, and are checked by the test)
// - the reader replaces the private `_decodeLongHeader`, because tar-stream decodes pax values and
//   GNU long names as UTF-8, which corrupts raw-byte names and binary xattr values;
// - the reader reads the undocumented `header.byteOffset` to find where the last entry ends;
// - the writer pushes its own blocks (raw-byte pax headers, base-256 device numbers) into the pack
//   stream, because tar-stream's pax writer encodes UTF-8 strings only and writes six octal digits;
// - tar-stream's error texts are mapped to the real cause.

import * as tar from 'tar-stream';
import { DomuError, oneLine } from '../errors.js';
import { decodePaxRecords } from './format.js';
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

/** An extract stream that keeps names and pax values as raw bytes (latin1 strings). */
export function rawExtract(): tar.Extract {
  // allowUnknownFormat: v7 headers (no ustar magic), which GNU tar and bsdtar read; the checksum still guards them
  const ex = tar.extract({ filenameEncoding: 'latin1', allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  keepRawPax(ex);
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
