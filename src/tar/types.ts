// The tar code's shared types: the summary and progress reports, the parsed entry, the one error
// an entry raises, and the printable form of a raw-byte name for messages.

/** Compressions the writer makes. */
export type TarCompression = 'none' | 'gzip' | 'xz' | 'zstd';
export const TAR_COMPRESSIONS: readonly TarCompression[] = ['none', 'gzip', 'xz', 'zstd'];

/** The compression a tarball's name stands for: .gz/.tgz, .xz/.txz, .zst/.tzst, else none. */
export function compressionOfName(file: string): TarCompression {
  if (/\.(tgz|tar\.gz|gz)$/i.test(file)) return 'gzip';
  if (/\.(txz|tar\.xz|xz)$/i.test(file)) return 'xz';
  if (/\.(tzst|tar\.zst|zst)$/i.test(file)) return 'zstd';
  return 'none';
}
/** Compressions the reader takes (every one GNU tar 1.34 handles, found by magic bytes). */
export type ReadCompression = TarCompression | 'bzip2' | 'lzma' | 'lzip' | 'lzop' | 'lz4' | 'compress' | 'lrzip';

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
  compression: ReadCompression;
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  /** Entries that carry at least one xattr (ACLs included). */
  withXattrs: number;
  /** Files stored (pack, as GNU sparse 1.0) or read (unpack, any GNU sparse format) as sparse entries. */
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
  /** Read from the archive and not applied (unpack): volume labels, unknown pax keywords, ACL forms Linux cannot carry. */
  notApplied: NotApplied[];
}

/** Something read from the archive and not applied to the tree, with how often and where first. */
export interface NotApplied {
  what: string;
  entries: number;
  /** The first entry it came with, printable. */
  first: string;
}

export function emptySummary(archive: string, root: string, compression: ReadCompression): TarSummary {
  return {
    archive, root, compression,
    entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, withXattrs: 0, sparse: 0,
    bytes: 0, archiveBytes: 0, seconds: 0, skipped: [], changed: [], warnings: [], notApplied: [],
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

export type Xattrs = Array<[name: Buffer, value: Buffer]>;

export type Kind = 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';

/** One archive entry as the reader hands it on: header, pax records and GNU extensions resolved. */
export interface Entry {
  /** Normalised relative path, raw bytes; empty for the root itself. */
  path: Buffer;
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  atimeNs: bigint | undefined;
  /** Symlink target verbatim, or the normalised path a hard link points to. */
  linkname: Buffer | null;
  devmajor: number;
  devminor: number;
  xattrs: Xattrs;
  aclAccess: string | undefined;
  aclDefault: string | undefined;
  /** A GNU sparse file (old GNU type S, pax 0.0, 0.1 or 1.0): its layout; the body holds its data (sparse.ts). */
  sparse: SparseInfo | undefined;
}

/** How a GNU sparse file is stored (sparse.ts reads it). */
export interface SparseInfo {
  format: 'old GNU' | 'pax 0.0' | 'pax 0.1' | 'pax 1.0';
  /** The file's size (GNU.sparse.realsize or .size, the old GNU header's realsize). */
  realSize: number;
  /** Regions [offset, size] in archive order; undefined for pax 1.0, whose map starts the body. */
  map: Array<[number, number]> | undefined;
}

/** A refusal caused by one entry; the reader turns it into a BAD_INPUT DomuError with its message. */
export class EntryError extends Error {}

export const NS = 1_000_000_000n;

export interface ExtractTarballOptions {
  /** Create device files the archive holds. Without it an archive with devices is refused. */
  trusted?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TarProgress) => void;
  /** Refuse paths with more components than this (a depth bomb). Default 1024, as node-tar. */
  maxDepth?: number;
}

export interface WriteTarballOptions {
  compression: TarCompression;
  signal?: AbortSignal;
  onProgress?: (p: TarProgress) => void;
  /** Store files with holes as GNU sparse 1.0 entries (default true); false stores the holes as zeros. */
  sparse?: boolean;
  /** Patterns left out, as a clone's excludes (walk/exclude.ts); default none. */
  exclude?: readonly string[];
  /** Stay on the root's filesystem, as a clone's oneFileSystem. */
  oneFileSystem?: boolean;
}
