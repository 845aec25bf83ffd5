// The safety pass: before anything is written, the whole archive is read and every entry checked
// (names inside the target, links to earlier entries, nothing planted through a symlink, depth,
// PATH_MAX, devices only when trusted). The extractor re-checks names with the same normalise().

import { DomuError } from '../errors.js';
import { readArchive, type ReadReport } from './read.js';
import { readSparseBody } from './sparse.js';
import { EntryError, printable, type Entry, type ExtractTarballOptions, type Kind, type ReadCompression } from './types.js';

export const PATH_MAX = 4096;

/** "./a//b/." -> "a/b"; refuses absolute names, "..", NUL and depth bombs. */
export function normalise(name: Buffer, what: string, maxDepth: number): Buffer {
  const where = () => printable(name); // only for a message: printing every name cost more than the checks
  if (name.includes(0)) throw new EntryError(`${what} ${where()} contains a NUL byte`);
  if (name[0] === 0x2f) throw new EntryError(`${what} ${where()} is an absolute path; refusing to extract outside the target`);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === 0x2f) {
      const part = name.subarray(start, i);
      start = i + 1;
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
      if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) throw new EntryError(`${what} ${where()} contains ".."; refusing to extract outside the target`);
      parts.push(part);
    }
  }
  if (parts.length > maxDepth) throw new EntryError(`${what} ${where().slice(0, 60)}... is ${parts.length} levels deep (more than ${maxDepth}): refusing a depth bomb`);
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from('/'));
    out.push(p);
  });
  return Buffer.concat(out);
}

export function parentsOf(path: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < path.length; i++) if (path[i] === 0x2f) out.push(path.subarray(0, i));
  return out;
}

export interface ScanResult {
  entries: number;
  bytes: number;
  devices: string[];
  deviceCount: number;
  hasXattrs: boolean;
  /** What the reader found besides the entries. */
  report: ReadReport;
  /**
   * An uncompressed archive's entries as checked, each with its normalised path and the offset of
   * its data in the file, for the extraction to take without parsing the headers again; undefined
   * for a compressed stream (it cannot be read again by offset) or more entries than KEEP_MAX.
   */
  kept: KeptEntry[] | undefined;
  /** The longest normalised path, in bytes (the PATH_MAX check for another root: rootLen + 1 + longestPath). */
  longestPath: number;
}

export interface KeptEntry {
  entry: Entry;
  rel: Buffer;
  dataOffset: number;
}

/** The most entries kept from the safety pass (a few hundred bytes each); beyond it the extraction reads the headers again. */
export const KEEP_MAX = 400_000;

/** The safety pass reads an uncompressed archive 256 KiB at a time (its CPU time on /usr/share/{doc,locale,man}: 0.38-0.56 s, against 0.47-0.77 s in 4 MiB chunks). */
const SCAN_CHUNK = 256 << 10;

export async function scanArchive(file: string, compression: ReadCompression, rootLen: number, maxDepth: number, opts: ExtractTarballOptions, keep = false): Promise<ScanResult> {
  const kinds = new Map<string, Kind>([['', 'directory']]);
  const kept: KeptEntry[] | undefined = compression === 'none' && keep ? [] : undefined;
  const result: ScanResult = { entries: 0, bytes: 0, devices: [], deviceCount: 0, hasXattrs: false, report: { warnings: [], notApplied: [] }, kept, longestPath: 0 };
  let last = 0;
  // synchronous for every entry but a sparse one (its map is read from the body): no await per entry
  // read in chunks of SCAN_CHUNK: the bodies are passed over by seeking, so less of them is read than with 4 MiB
  result.report = await readArchive(file, compression, opts.signal, (e, body, dataOffset) => {
    const path = normalise(e.path, 'entry', maxDepth);
    const at = () => printable(path) || '.';
    if (path.length > result.longestPath) result.longestPath = path.length;
    if (rootLen + 1 + path.length >= PATH_MAX) throw new EntryError(`entry ${at().slice(0, 60)}... is too long: the target path would exceed PATH_MAX (${PATH_MAX})`);
    if (path.length === 0 && e.kind !== 'directory') throw new EntryError('the archive\'s root entry "." is not a directory');
    // planting: nothing may be written through a symlink (or a non-directory) the archive put there
    const through = (p: Buffer, what: string) => {
      for (const parent of parentsOf(p)) {
        const k = kinds.get(parent.toString('latin1'));
        if (k === 'symlink') throw new EntryError(`${what} ${printable(p)} goes through the symbolic link ${printable(parent)} the archive created earlier; refusing to extract through it`);
        if (k !== undefined && k !== 'directory') throw new EntryError(`${what} ${printable(p)} goes through ${printable(parent)}, which the archive made a ${k}`);
      }
    };
    through(path, 'entry');
    let kind = e.kind;
    if (kind === 'link') {
      if (!e.linkname || e.linkname.length === 0) throw new EntryError(`hard link ${at()} has no target`);
      const target = normalise(e.linkname, `hard link ${at()} points to`, maxDepth);
      through(target, `hard link ${at()} points to`);
      const tk = kinds.get(target.toString('latin1'));
      if (tk === undefined) throw new EntryError(`hard link ${at()} points to ${printable(target)}, which is not earlier in the archive; refusing a link outside it`);
      if (tk === 'directory') throw new EntryError(`hard link ${at()} points to the directory ${printable(target)}`);
      kind = tk;
    }
    if (e.kind === 'symlink' && (!e.linkname || e.linkname.length === 0 || e.linkname.includes(0))) throw new EntryError(`symbolic link ${at()} has an empty or invalid target`);
    if (e.kind === 'character-device' || e.kind === 'block-device') {
      result.deviceCount += 1;
      if (result.devices.length < 10) result.devices.push(at());
    }
    if (e.xattrs.length > 0 || e.aclAccess || e.aclDefault) result.hasXattrs = true;
    const done = () => {
      kinds.set(path.toString('latin1'), kind);
      result.entries += 1;
      if (e.kind === 'file') result.bytes += e.sparse?.realSize ?? e.size;
      if (result.kept) {
        if (result.kept.length < KEEP_MAX) result.kept.push({ entry: e, rel: path, dataOffset });
        else result.kept = undefined;
      }
      const now = Date.now();
      if (opts.onProgress && now - last >= 100) {
        last = now;
        opts.onProgress({ phase: 'scan', entries: result.entries, bytes: result.bytes });
      }
    };
    if (e.sparse !== undefined) return readSparseBody(body, e.sparse, at(), { write: () => undefined, truncate: () => undefined }).then(done);
    done();
    return undefined;
  }, SCAN_CHUNK);
  return result;
}

export function refuseDevices(scan: ScanResult, opts: ExtractTarballOptions): void {
  if (scan.deviceCount > 0 && !opts.trusted) {
    throw new DomuError('BAD_INPUT',
      `the archive holds ${scan.deviceCount} device file(s) (first: ${scan.devices[0]}); nothing was extracted`,
      { hint: 'devices in an archive are created only when you trust it: pass --trusted' });
  }
}
