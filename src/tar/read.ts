// Reading an archive as GNU tar 1.34 reads it: its tar bytes (decompressed) block by block, each
// header checked (GNU's two checksums) and decoded (GNU's numbers), pax records and GNU long names
// applied, the end of the archive where GNU tar finds it (two zero blocks; a lone zero block warned
// about), entries handed on in order with their bodies. A failure becomes a BAD_INPUT error naming
// its cause; what is read but not applied (volume labels, unknown pax keywords, ...) is reported.

import { DomuError, oneLine } from '../errors.js';
import { openDecompressed, type TarSource } from './compression.js';
import { ORDERED_KEYS, PAX_SPARSE_SEQUENCE } from './sparse.js';
import { checksumOk, decodeHeaderBlock, decodePaxText, isZeroBlock, parseHeader, type TarHeader } from './format.js';
import { solarisAcl } from './solaris-acl.js';
import { EntryError, printable, type Entry, type NotApplied, type ReadCompression } from './types.js';

/**
 * The largest extended header (pax, or a GNU long name) read into memory. GNU tar 1.34 has no limit
 * of its own (xheader_read allocates whatever the size field says); this one is far above anything
 * a real archive holds (xattr values are at most 64 KiB on Linux) and keeps a hostile size field
 * from exhausting memory.
 */
export const MAX_EXTENDED_HEADER = 256 << 20;

/** What reading the archive found besides its entries. */
export interface ReadReport {
  warnings: string[];
  notApplied: NotApplied[];
}

/** The pax keywords applied (or deliberately read as GNU tar reads them) to an entry. */
const PAX_KNOWN = new Set([
  'path', 'linkpath', 'size', 'uid', 'gid', 'mtime', 'atime', 'SCHILY.acl.access', 'SCHILY.acl.default',
  // read by GNU tar, and nothing to apply with numeric owners / on Linux: ctime cannot be set
  'uname', 'gname', 'ctime', 'charset', 'hdrcharset', 'comment',
  // star's and bsdtar's copies of what the header holds already
  'SCHILY.dev', 'SCHILY.ino', 'SCHILY.nlink', 'SCHILY.devmajor', 'SCHILY.devminor', 'SCHILY.filetype',
  'GNU.volume.filename', 'GNU.volume.size', 'GNU.volume.offset',
]);

const paxIgnored = (k: string) => !PAX_KNOWN.has(k) && !k.startsWith('SCHILY.xattr.') && !k.startsWith('GNU.sparse.') && !k.startsWith('LIBARCHIVE.xattr.');

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes handed out so far. */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Buffer>, private readonly source: TarSource) {}

  private async next(): Promise<Buffer | undefined> {
    if (this.ended) return undefined;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return undefined;
    }
    return r.value;
  }

  /** Exactly n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    if (this.pending.length < n) {
      // copy only the n bytes wanted, not the whole next chunk
      const parts = [this.pending];
      let have = this.pending.length;
      this.pending = Buffer.alloc(0);
      while (have < n) {
        const c = await this.next();
        if (!c) break;
        if (have + c.length > n) {
          parts.push(c.subarray(0, n - have));
          this.pending = c.subarray(n - have);
          have = n;
        } else {
          parts.push(c);
          have += c.length;
        }
      }
      const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
      this.offset += out.length;
      return out;
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.offset += n;
    return out;
  }

  /** Exactly n bytes when they are at hand, without waiting; else undefined. */
  take(n: number): Buffer | undefined {
    if (this.pending.length < n) return undefined;
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.offset += n;
    return out;
  }

  /** Up to n bytes as they come (at least one unless the stream ended). */
  async chunk(n: number): Promise<Buffer> {
    if (this.pending.length === 0) this.pending = (await this.next()) ?? this.pending;
    const out = this.pending.subarray(0, Math.min(n, this.pending.length));
    this.pending = this.pending.subarray(out.length);
    this.offset += out.length;
    return out;
  }

  /**
   * Pass over n bytes without waiting: those at hand, and those not read yet where the source can
   * pass over them. Returns how many were passed; the caller skips the rest with skip().
   */
  skipSync(n: number): number {
    const now = Math.min(n, this.pending.length);
    this.pending = this.pending.subarray(now);
    this.offset += now;
    if (now === n || !this.source.skip || this.ended) return now;
    const k = this.source.skip(n - now);
    this.offset += k;
    return now + k;
  }

  /** Pass over n bytes; over those not read yet without reading them, where the source can. Returns how many were passed. */
  async skip(n: number): Promise<number> {
    let left = n;
    const now = Math.min(left, this.pending.length);
    this.pending = this.pending.subarray(now);
    this.offset += now;
    left -= now;
    if (left > 0 && this.source.skip && !this.ended) {
      // a file: the bytes are passed over where they are
      const k = this.source.skip(left);
      this.offset += k;
      left -= k;
    }
    while (left > 0) {
      const c = await this.chunk(left);
      if (c.length === 0) break;
      left -= c.length;
    }
    return n - left;
  }
}

/** Read every entry of the archive in order; `onEntry` gets the parsed header and the body. */
export async function readArchive(
  file: string, compression: ReadCompression, signal: AbortSignal | undefined,
  onEntry: (e: Entry, body: AsyncIterable<Buffer>, dataOffset: number) => Promise<void> | void,
  chunkSize?: number,
): Promise<ReadReport> {
  const { source, tool, toolStderr } = await openDecompressed(file, compression, chunkSize);
  const it = source[Symbol.asyncIterator]();
  const input = new ByteReader(it, source);
  const report: ReadReport = { warnings: [], notApplied: [] };
  const noted = new Map<string, NotApplied>();
  const note = (what: string, path: Buffer | string) => {
    const n = noted.get(what);
    if (n) n.entries += 1;
    else {
      const item = { what, entries: 1, first: typeof path === 'string' ? path : printable(path) || '.' };
      noted.set(what, item);
      report.notApplied.push(item);
    }
  };
  let lone = false;
  try {
    let pax: Record<string, string> | null = null;
    let paxGlobal: Record<string, string> | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    let solaris: ReturnType<typeof solarisAcl> | null = null;
    for (;;) {
      if (signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
      const at = input.offset;
      const block = input.take(512) ?? (await input.read(512));
      if (block.length === 0) {
        if (pax || longName || longLink || solaris) throw new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
        throw new DomuError('BAD_INPUT', `${file} is truncated (the end-of-archive marker is missing)`);
      }
      if (block.length < 512) throw new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
      if (isZeroBlock(block)) {
        // GNU tar: a zero block ends the archive; the next one is the second zero block of the end
        // marker, or else the first was "a lone zero block" (warned about; nothing after it is read)
        const next = await input.read(512);
        if (next.length < 512 || !isZeroBlock(next)) {
          lone = true;
          report.warnings.push(`a lone zero block at ${at / 512 + 1} ends the archive, as GNU tar reads it; ${next.length > 0 ? 'what follows it was not read' : 'the second zero block of the end marker is missing'}`);
        }
        break;
      }
      if (!checksumOk(block)) throw new DomuError('BAD_INPUT', `${file} is damaged: a header has a bad checksum or is not a tar header (at byte ${at})`);
      const h: TarHeader = decodeHeaderBlock(block, at + 512);
      if (h.type === 'gnu-sparse' && block[482] !== 0) {
        // old GNU sparse: extension blocks of the map follow the header, before the data
        for (;;) {
          const ext = await input.read(512);
          if (ext.length < 512) throw new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
          h.extensions.push(ext);
          if (ext[504] === 0) break;
        }
        h.byteOffset = input.offset;
      }
      const padded = Math.ceil(h.size / 512) * 512;
      const nameNow = longName ?? h.name;
      const where = () => printable(Buffer.from(nameNow, 'latin1')) || '.';
      switch (h.type) {
        case 'pax-header': case 'pax-global-header': case 'gnu-long-path': case 'gnu-long-link-path': case 'solaris-acl': {
          if (h.size > MAX_EXTENDED_HEADER) throw new EntryError(`entry ${where()}: an extended header of ${h.size} bytes, more than the ${MAX_EXTENDED_HEADER >> 20} MiB this reads into memory`);
          const data = await input.read(padded);
          if (data.length < padded) throw new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
          const body = data.subarray(0, h.size);
          if (h.type === 'pax-header' || h.type === 'pax-global-header') {
            const obj: Record<string, string> = {};
            const sequence: Array<[string, string]> = [];
            try {
              decodePaxText(body, obj, (k, v) => {
                if (ORDERED_KEYS.has(k)) sequence.push([k, v]);
              });
            } catch (e) {
              throw new EntryError(`${file} is damaged: ${oneLine(e)} in the pax header before ${where()}`);
            }
            // pax sparse 0.0 repeats GNU.sparse.offset/numbytes: keep them in order for sparse.ts
            if (sequence.length > 0) obj[PAX_SPARSE_SEQUENCE] = JSON.stringify(sequence);
            if (h.type === 'pax-global-header') {
              paxGlobal = { ...(paxGlobal ?? {}), ...obj };
              for (const k of Object.keys(obj)) {
                if (k === 'GNU.volume.label') note('GNU volume label (pax GNU.volume.label)', obj[k]!);
                else if (paxIgnored(k)) note(`pax keyword ${k} (global header)`, '(global header)');
              }
            }
            else pax = { ...(pax ?? {}), ...obj };
          } else if (h.type === 'solaris-acl') {
            solaris = solarisAcl(body, where());
          } else {
            const nul = body.indexOf(0);
            const text = body.toString('latin1', 0, nul < 0 ? body.length : nul);
            if (h.type === 'gnu-long-path') longName = text;
            else longLink = text;
          }
          continue;
        }
        case 'gnu-volume-label': {
          // GNU tar skips a volume label when extracting
          note('GNU volume label (type V)', Buffer.from(h.name, 'latin1'));
          await skip(input, padded, file);
          pax = null;
          longName = longLink = null;
          continue;
        }
        case 'gnu-multi-volume':
          throw new EntryError(`entry ${where()} is continued from another volume (GNU multi-volume archive, type M): extract the volumes in order with tar --multi-volume; GNU tar cannot extract it alone either`);
        case 'gnu-long-names':
          throw new EntryError(`entry ${where()} is an old GNU long-names list (type N), which renames and links files by the names in it: refusing it (GNU tar 1.34 no longer writes these)`);
      }
      // the entry itself: pax records (global, then its own), GNU long names
      // (no copy when there is no global header: an entry's own records are its own object)
      const records = paxGlobal ? { ...paxGlobal, ...(pax ?? {}) } : (pax ?? {});
      if (longName !== null) h.name = longName;
      if (longLink !== null) h.linkname = longLink;
      if (records.path) h.name = records.path;
      if (records.linkpath) h.linkname = records.linkpath;
      if (records.size !== undefined && records.size !== '') {
        if (!/^[0-9]{1,16}$/.test(records.size) || Number(records.size) > Number.MAX_SAFE_INTEGER) {
          throw new EntryError(`entry ${where()} has an invalid (negative or malformed) size: pax size "${records.size}"`);
        }
        h.size = Number(records.size);
      }
      if (records['GNU.volume.offset'] && records['GNU.volume.offset'] !== '0') {
        throw new EntryError(`entry ${where()} is continued from another volume (GNU.volume.offset ${records['GNU.volume.offset']}): extract the volumes in order with tar --multi-volume`);
      }
      h.pax = paxGlobal || pax ? records : null;
      const name = Buffer.from(h.name, 'latin1');
      if (h.type === null) note(`entry type '${printable(Buffer.from(h.typeflag, 'latin1'))}' GNU tar does not know (extracted as a regular file, as GNU tar does)`, name);
      if (h.type === 'gnu-dumpdir') note('incremental dump directory listing (type D; the directory is made, the listing is not applied)', name);
      for (const k of Object.keys(pax ?? {})) if (paxIgnored(k)) note(`pax keyword ${k}`, name);
      pax = null;
      longName = longLink = null;
      const entry = parseHeader(h);
      if (solaris) {
        if (solaris.access !== undefined) entry.aclAccess ??= solaris.access;
        if (solaris.default !== undefined) entry.aclDefault ??= solaris.default;
        if (solaris.notApplied) note(solaris.notApplied, entry.path);
        solaris = null;
      }
      libarchiveXattrs(entry, records);
      // only a regular file's data is handed on; any size a link or directory claims is skipped, as GNU tar does
      const dataLength = entry.kind === 'file' && h.type !== 'link' ? h.size : 0;
      const body = new Body(input, dataLength, file);
      const pending = onEntry(entry, body, input.offset);
      if (pending) await pending;
      // whatever of the body was not read, and its padding: passed over without an await when the source can
      const rest = body.left + padded - dataLength;
      if (rest > 0) {
        const passed = input.skipSync(rest);
        if (passed < rest) await skip(input, rest - passed, file);
      }
    }
    // after the end marker: zero padding (tar's records) is normal; anything else is reported
    let trailing = 0;
    let nonZero = false;
    try {
      for (;;) {
        const c = await input.chunk(1 << 20);
        if (c.length === 0) break;
        trailing += c.length;
        if (!nonZero && !c.equals(Buffer.alloc(c.length))) nonZero = true;
      }
      if (tool) await tool;
      // a decompressor's warning with a success status (bzip2: "trailing garbage after EOF ignored";
      // the in-process gzip reader: "decompression OK, trailing garbage ignored")
      const said = oneLine(toolStderr().trim());
      if (said) report.warnings.push(said.startsWith(`${compression}:`) ? said : `${compression}: ${said}`);
    } catch (e) {
      // the tar data was whole: a decompressor's complaint about what follows it is a warning (GNU tar extracts too)
      report.warnings.push(`${compression} reported an error after the end of the archive, which was read whole: ${oneLine(e instanceof DomuError ? e.message : e)}`);
    }
    if (nonZero && !lone) report.warnings.push(`${trailing} bytes after the end-of-archive marker were not read (GNU tar ignores them too)`);
  } catch (e) {
    source.destroy();
    // a decompressor that failed explains a cut-short stream better than the tar reader can
    const toolError = tool ? await tool.then(() => undefined, (err: unknown) => err) : undefined;
    const toolText = toolError === undefined ? '' : oneLine(toolError instanceof DomuError ? toolError.message : toolError);
    const truncated = e instanceof DomuError && /is truncated/.test(e.message);
    if (truncated && toolText && !/SIGPIPE/.test(toolText)) throw new DomuError('BAD_INPUT', `${file} cannot be decompressed: ${toolText}`);
    if (e instanceof DomuError) throw e;
    if (e instanceof EntryError) throw new DomuError('BAD_INPUT', e.message);
    throw new DomuError('BAD_INPUT', `${file} cannot be decompressed: ${oneLine(e)}`);
  }
  return report;
}

async function skip(input: ByteReader, n: number, file: string): Promise<void> {
  if (n > 0 && (await input.skip(n)) < n) throw new DomuError('BAD_INPUT', `${file} is truncated (it ends inside an entry)`);
}

/** The entry's data, `n` bytes, read on demand; iterating it again after the end yields nothing. */
class Body implements AsyncIterable<Buffer> {
  constructor(private readonly input: ByteReader, public left: number, private readonly file: string) {}

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        if (this.left === 0) return { done: true, value: undefined };
        const c = await this.input.chunk(Math.min(this.left, 1 << 20));
        if (c.length === 0) throw new DomuError('BAD_INPUT', `${this.file} is truncated (it ends inside an entry)`);
        this.left -= c.length;
        return { done: false, value: c };
      },
      return: async (): Promise<IteratorResult<Buffer>> => ({ done: true, value: undefined }),
    };
  }
}

/** bsdtar's LIBARCHIVE.xattr.NAME=base64 (NAME URL-encoded), for an xattr not also in SCHILY.xattr. */
function libarchiveXattrs(entry: Entry, records: Record<string, string>): void {
  for (const [k, v] of Object.entries(records)) {
    if (!k.startsWith('LIBARCHIVE.xattr.')) continue;
    const enc = k.slice('LIBARCHIVE.xattr.'.length);
    const bytes: number[] = [];
    for (let i = 0; i < enc.length; i++) {
      if (enc[i] === '%' && /^[0-9a-fA-F]{2}$/.test(enc.slice(i + 1, i + 3))) {
        bytes.push(parseInt(enc.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(enc.charCodeAt(i) & 0xff);
    }
    const name = Buffer.from(bytes);
    if (entry.xattrs.some(([n]) => n.equals(name))) continue;
    entry.xattrs.push([name, Buffer.from(v, 'base64')]);
  }
}
