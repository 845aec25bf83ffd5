// Plain data that crosses the worker boundary: batches in, results out. No classes, no Errors.

/** How a batch treats entries already present in the target. */
export type CopyMode = 'fresh' | 'update';

export interface CopyBatch {
  op: 'entries';
  source: string;
  target: string;
  mode: CopyMode;
  umask: number;
  /** Asynchronous fs calls with this many in flight (fresh targets only); synchronous when absent. */
  asyncInFlight?: number;
  /** Relative latin1 paths of regular files and symlinks (kinds from readdir: 'f' or 'l'). */
  rels: string[];
  kinds: string;
}

export interface LinkGroupBatch {
  op: 'link-groups';
  source: string;
  target: string;
  mode: CopyMode;
  umask: number;
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

export type WorkerTask = CopyBatch | LinkGroupBatch | DirMetaBatch;

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
}

export function emptyCounts(): CopyCounts {
  return { file: 0, symlink: 0, hardlink: 0, dir: 0, chardev: 0, blockdev: 0, fifo: 0, socket: 0 };
}

export function addCounts(into: CopyCounts, from: CopyCounts): void {
  for (const k of Object.keys(into) as Array<keyof CopyCounts>) into[k] += from[k];
}
