// Reading one side of a comparison: every entry's lstat (nanosecond times, numeric ids, rdev),
// under the same exclusion rules as clone. Paths are latin1 strings relative to the root (one char
// per byte, so a non-UTF-8 name survives), and every filesystem call gets them back as Buffers.

import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import type { ExcludeSet } from '../walk/exclude.js';
import { joinRoot as pathIn, kindOfStats as kindOf, type EntryKind } from '../walk/walk.js';

/** The entry kinds, as the clone's walk names them. */
export type VerifyKind = EntryKind;

export interface TreeEntry {
  kind: VerifyKind;
  /** Permission bits with setuid, setgid and sticky (mode & 0o7777). */
  perm: number;
  uid: number;
  gid: number;
  size: bigint;
  mtimeNs: bigint;
  rdev: bigint;
  dev: bigint;
  ino: bigint;
  nlink: number;
  /** An excluded directory (or a mount point under --one-file-system): compared, never entered. */
  pruned?: boolean;
}

export interface Tree {
  root: string;
  entries: Map<string, TreeEntry>;
  /** Entries that could not be read, with the reason. */
  errors: Array<{ rel: string; message: string }>;
}

export interface ReadTreeOptions {
  excludes: ExcludeSet;
  oneFileSystem: boolean;
  /** Called every few thousand entries, for progress. */
  onProgress?: (entries: number) => void;
}

// The clone's own helpers: the same byte-exact paths and the same kinds on both sides.
export { joinRoot as pathIn, kindOfStats as kindOf } from '../walk/walk.js';

function entryOf(st: BigIntStats): TreeEntry {
  return {
    kind: kindOf(st),
    perm: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.size,
    mtimeNs: st.mtimeNs,
    rdev: st.rdev,
    dev: st.dev,
    ino: st.ino,
    nlink: Number(st.nlink),
  };
}

/** Linux's dev_t split, as glibc's major()/minor() do it. */
export function majorMinor(rdev: bigint): [number, number] {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

/**
 * Walk a whole tree with synchronous lstat (from the main thread it is several times faster than
 * the thread-pool round trip of fs.promises for millions of small calls), yielding now and then.
 */
export async function readTree(root: string, options: ReadTreeOptions): Promise<Tree> {
  const entries = new Map<string, TreeEntry>();
  const errors: Tree['errors'] = [];
  const rootSt = lstatSync(root, { bigint: true });
  entries.set('', entryOf(rootSt));
  const stack: string[] = [''];
  let count = 0;
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let names: Buffer[];
    try {
      names = readdirSync(pathIn(root, rel), { encoding: 'buffer' });
    } catch (e) {
      errors.push({ rel, message: (e as Error).message.split('\n')[0]! });
      continue;
    }
    for (const nb of names) {
      const name = nb.toString('latin1');
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let st: BigIntStats;
      try {
        st = lstatSync(pathIn(root, childRel), { bigint: true });
      } catch (e) {
        errors.push({ rel: childRel, message: (e as Error).message.split('\n')[0]! });
        continue;
      }
      const entry = entryOf(st);
      const isDir = entry.kind === 'dir';
      if (options.excludes.matches(childRel, name, isDir)) {
        // An excluded directory is recreated empty by clone; anything else excluded is not copied.
        if (isDir) {
          entry.pruned = true;
          entries.set(childRel, entry);
        }
        continue;
      }
      entries.set(childRel, entry);
      if (isDir) {
        if (options.oneFileSystem && entry.dev !== rootSt.dev) entry.pruned = true;
        else stack.push(childRel);
      }
    }
    count += names.length;
    if (count > 4000) {
      // Let the event loop feed the getfattr pipes of the other side meanwhile.
      options.onProgress?.(entries.size);
      count = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return { root, entries, errors };
}

export function readLinkBytes(root: string, rel: string): Buffer {
  return readlinkSync(pathIn(root, rel), { encoding: 'buffer' });
}

/** Whether a directory holds nothing (a top-level lost+found of a fresh filesystem aside). */
export function dirChildren(root: string, rel: string): string[] {
  return readdirSync(pathIn(root, rel), { encoding: 'buffer' }).map((b) => b.toString('latin1'));
}
