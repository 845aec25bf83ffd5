// lstat for walks that look at every entry, without Node's Stats objects: lstatSync({ bigint: true })
// builds 22 BigInts and 4 Dates per call, and on a tree of 55,000 entries the garbage they leave
// costs more CPU than the system calls. Node 20's fs binding hands back the raw stat array (the one
// lstatSync reads); only the fields a walk compares are taken from it.

import { lstatSync, type BigIntStats } from 'node:fs';

/** The fields of an lstat that walks compare: a structural subset of BigIntStats. */
export interface LeanStat {
  dev: bigint;
  ino: bigint;
  mode: bigint;
  nlink: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  size: bigint;
  mtimeNs: bigint;
}

type RawLstat = (path: string | Buffer, bigint: true, req: undefined, throwIfNoEntry: true) => BigInt64Array;

// Node's stat array layout (src/node_file.h, FillStatsArray): dev mode nlink uid gid rdev blksize
// ino size blocks, then seconds and nanoseconds of atime, mtime, ctime, birthtime.
const DEV = 0;
const MODE = 1;
const NLINK = 2;
const UID = 3;
const GID = 4;
const RDEV = 5;
const INO = 7;
const SIZE = 8;
const MTIME_S = 12;
const MTIME_NS = 13;

function fromRaw(a: BigInt64Array): LeanStat {
  // the values BigIntStats takes, as they are (it does not make dev or ino unsigned either)
  return {
    dev: a[DEV]!,
    ino: a[INO]!,
    mode: a[MODE]!,
    nlink: a[NLINK]!,
    uid: a[UID]!,
    gid: a[GID]!,
    rdev: a[RDEV]!,
    size: a[SIZE]!,
    mtimeNs: a[MTIME_S]! * 1_000_000_000n + a[MTIME_NS]!,
  };
}

/** The LeanStat fields of a BigIntStats (the fallback, and what the raw path is checked against). */
export function leanOf(st: BigIntStats): LeanStat {
  return { dev: st.dev, ino: st.ino, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, rdev: st.rdev, size: st.size, mtimeNs: st.mtimeNs };
}

function sameLean(a: LeanStat, b: LeanStat): boolean {
  return (Object.keys(a) as Array<keyof LeanStat>).every((k) => a[k] === b[k]);
}

/**
 * The binding's lstat, if this Node has it with the layout above: checked once against
 * lstatSync on a directory and a file, else undefined (and lstatLean uses lstatSync).
 */
function findRaw(): RawLstat | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): { lstat?: unknown } }).binding('fs');
    if (typeof binding.lstat !== 'function') return undefined;
    const raw = binding.lstat.bind(binding) as RawLstat;
    for (const p of ['/', process.execPath]) {
      const a = raw(p, true, undefined, true);
      if (!(a instanceof BigInt64Array) || a.length < 18) return undefined;
      if (!sameLean(fromRaw(a), leanOf(lstatSync(p, { bigint: true })))) return undefined;
    }
    return raw;
  } catch {
    return undefined;
  }
}

const raw = findRaw();

/** Whether lstatLean takes the fast path (Node's raw stat array) on this Node. */
export const leanStatIsRaw = raw !== undefined;

/** lstat `path` (a Buffer for exact bytes); throws what lstatSync throws (the same errors). */
export function lstatLean(path: string | Buffer): LeanStat {
  if (raw) return fromRaw(raw(path, true, undefined, true));
  return leanOf(lstatSync(path, { bigint: true }));
}

const S_IFMT = 0o170000n;

/** The kind of entry a mode says (S_IFMT), as kindOfStats does for a Stats. */
export function kindOfMode(mode: bigint): 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket' {
  switch (mode & S_IFMT) {
    case 0o100000n:
      return 'file';
    case 0o040000n:
      return 'dir';
    case 0o120000n:
      return 'symlink';
    case 0o020000n:
      return 'chardev';
    case 0o060000n:
      return 'blockdev';
    case 0o010000n:
      return 'fifo';
    default:
      return 'socket';
  }
}
