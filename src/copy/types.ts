// Plain data that crosses the worker boundary: batches in, results out. No classes, no Errors.

import type { BigIntStats } from 'node:fs';

/** How a batch treats entries already present in the target. */
export type CopyMode = 'fresh' | 'update';

/** What every batch that makes entries in the target carries. */
export interface MakingBatch {
  source: string;
  target: string;
  mode: CopyMode;
  umask: number;
  /** The nanosecond pass (python3) sets the times of entries with sub-microsecond digits: skip them here. */
  exactTimesLater?: boolean;
  /** Asynchronous fs calls with this many in flight (fresh targets only); synchronous when absent. */
  asyncInFlight?: number;
}

export interface CopyBatch extends MakingBatch {
  op: 'entries';
  /** Relative latin1 paths of regular files and symlinks (kinds from readdir: 'f' or 'l'). */
  rels: string[];
  kinds: string;
}

export interface LinkGroupBatch extends MakingBatch {
  op: 'link-groups';
  /** Each group: names of one inode; the first is copied, the rest are linked to it. */
  groups: string[][];
}

export interface DirMetaBatch {
  op: 'dir-meta';
  source: string;
  target: string;
  /** Directories with the metadata to apply, read by the scheduler when it walked them. */
  dirs: Array<{ rel: string; uid: number; gid: number; mode: number; atime: number; mtime: number }>;
}

/**
 * Directories to read, each already made in the target: the worker lists them, makes their
 * subdirectories in the target, copies their files and symlinks, and hands back what is left for
 * the scheduler (subdirectories to enter, device nodes, and the files of a large directory).
 */
export interface ScanBatch extends MakingBatch {
  op: 'scan';
  dirs: string[];
  /** Exclusion patterns (rsync-style), applied by the worker. */
  excludes: string[];
  /** The source root's st_dev under --one-file-system. */
  rootDev?: string;
  /** A task copies its files and symlinks itself when they are at most this many; otherwise all go back. */
  keepAtMost: number;
}

export type WorkerTask = CopyBatch | LinkGroupBatch | DirMetaBatch | ScanBatch;

/** A directory found by a scan, already made in the target; its metadata is applied last. */
export interface FoundDir {
  rel: string;
  uid: number;
  gid: number;
  mode: number;
  /** Nanoseconds, as decimal strings. */
  atimeNs: string;
  mtimeNs: string;
  /** st_size: on most filesystems it grows with the number of entries. */
  size: number;
  /** Set for an excluded directory or a mount point: made empty, not entered. */
  pruned?: 'excluded' | 'other-filesystem';
}

export interface EntryProblem {
  path: string;
  code: string;
  message: string;
}

/** A regular file that has more than one name: deferred to the link-group phase. */
export interface DeferredLink {
  rel: string;
  key: string;
}

export interface CopyCounts {
  file: number;
  symlink: number;
  hardlink: number;
  dir: number;
  chardev: number;
  blockdev: number;
  fifo: number;
  socket: number;
}

export interface BatchResult {
  /** Entries created or rewritten in the target, per kind. */
  copied: CopyCounts;
  /** Entries found identical in the target (update mode) and left alone. */
  unchanged: number;
  bytes: number;
  deferred: DeferredLink[];
  errors: EntryProblem[];
  /** Entries that vanished, grew or shrank while being copied. */
  changed: EntryProblem[];
  /** rel, atime ns, mtime ns (flat) of entries whose mtime has digits below the microsecond. */
  exactTimes: string[];
  /** Entries whose xattrs are to be copied now (their owner and mode are final). */
  xattrNames: string[];
  /** Files, symlinks and link groups' names finished. */
  done: number;
  /** Scans only: names listed, directories found (subdirectories and pruned ones), device nodes and
   *  fifos for the tar pass, sockets skipped, and files and symlinks left for the scheduler. */
  listed: number;
  dirs: FoundDir[];
  specials: Array<{ rel: string; kind: 'chardev' | 'blockdev' | 'fifo' }>;
  skipped: EntryProblem[];
  overflow: { rels: string[]; kinds: string };
}

/** A directory's FoundDir from its lstat. */
export function foundDirOf(rel: string, st: BigIntStats, pruned?: FoundDir['pruned']): FoundDir {
  return {
    rel, uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode), atimeNs: String(st.atimeNs), mtimeNs: String(st.mtimeNs), size: Number(st.size),
    ...(pruned ? { pruned } : {}),
  };
}

export function newResult(): BatchResult {
  return {
    copied: emptyCounts(), unchanged: 0, bytes: 0, deferred: [], errors: [], changed: [], exactTimes: [], xattrNames: [], done: 0,
    listed: 0, dirs: [], specials: [], skipped: [], overflow: { rels: [], kinds: '' },
  };
}

export function emptyCounts(): CopyCounts {
  return { file: 0, symlink: 0, hardlink: 0, dir: 0, chardev: 0, blockdev: 0, fifo: 0, socket: 0 };
}

export function addCounts(into: CopyCounts, from: CopyCounts): void {
  for (const k of Object.keys(into) as Array<keyof CopyCounts>) into[k] += from[k];
}
