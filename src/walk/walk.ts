// The one tree walker. judgeEntry() applies the exclusion rules and --one-file-system for every
// walk; scanDirectory() reads one directory with file types for the clone's workers (no stat per
// file), listDirectory() and walkTree() lstat every entry for verify, sizing, fingerprints and pack.
// Names stay latin1 strings: one char per byte, nothing re-encoded.

import { lstatSync, readdirSync, type BigIntStats, type Dirent } from 'node:fs';
import type { ExcludeSet } from './exclude.js';
import { kindOfMode, lstatLean, type LeanStat } from '../sys/lean-stat.js';

export type { LeanStat } from '../sys/lean-stat.js';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface WalkedEntry {
  /** Path relative to the source root, latin1, no leading slash. */
  rel: string;
  kind: EntryKind;
}

/** Absolute source path of `rel` as a Buffer (byte-exact). */
export function joinRoot(root: string, rel: string): Buffer {
  if (rel === '') return Buffer.from(root, 'latin1');
  return Buffer.from(root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`, 'latin1');
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * joinRoot() as a system call argument: the string itself when it is ASCII (whose UTF-8 is the
 * same bytes), saving a Buffer per call in hot loops; a Buffer otherwise.
 */
export function joinRootArg(root: string, rel: string): string | Buffer {
  const p = rel === '' ? root : root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`;
  return NON_ASCII.test(p) ? Buffer.from(p, 'latin1') : p;
}

export function kindOfDirent(d: Dirent): EntryKind | undefined {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isCharacterDevice()) return 'chardev';
  if (d.isBlockDevice()) return 'blockdev';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  return undefined; // DT_UNKNOWN: the caller must lstat
}

export function kindOfStats(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean }): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** One directory's listing, classified: what the scan of a directory hands back. */
export interface DirListing {
  /** Everything that is not a directory: files, symlinks, device nodes, fifos, sockets. */
  entries: WalkedEntry[];
  /** Subdirectories to copy and enter, with their lstat. */
  subdirs: Array<{ rel: string; st: BigIntStats }>;
  /** Excluded directories and mount points under --one-file-system: recreated empty. */
  pruned: Array<{ rel: string; st: BigIntStats; reason: 'excluded' | 'other-filesystem' }>;
  /** Children that vanished (code ENOENT) or could not be looked at. */
  problems: Array<{ rel: string; code: string; message: string }>;
  /** Names read from the directory. */
  count: number;
}

export interface ScanRules {
  excludes: ExcludeSet;
  /** The source root's device under --one-file-system: subdirectories on another one are pruned. */
  rootDev?: bigint;
}

/** What the rules make of a child: kept, pruned (a directory recreated empty, not entered) or dropped. */
export type RuleVerdict = 'keep' | 'drop' | 'excluded' | 'other-filesystem';

/**
 * The one place the exclusion rules and --one-file-system are applied, for every walk (clone,
 * verify, sizing, fingerprints, pack): an excluded directory is pruned (kept, not entered), any
 * other excluded entry dropped; a directory on another device than `rootDev` is pruned.
 */
export function judgeEntry(rel: string, name: string, kind: EntryKind, dev: bigint | undefined, rules: ScanRules): RuleVerdict {
  if (rules.excludes.matches(rel, name, kind === 'dir')) return kind === 'dir' ? 'excluded' : 'drop';
  if (kind === 'dir' && rules.rootDev !== undefined && dev !== rules.rootDev) return 'other-filesystem';
  return 'keep';
}

/**
 * Read one directory of the source (readdir with file types: only directories and DT_UNKNOWN
 * entries are lstat'ed), apply the exclusion rules and --one-file-system, and classify the
 * children. Throws what readdir throws (ENOENT: the directory vanished).
 */
export function scanDirectory(source: string, rel: string, rules: ScanRules): DirListing {
  const dirents = readdirSync(joinRoot(source, rel), { withFileTypes: true, encoding: 'buffer' }) as unknown as Dirent[];
  const out: DirListing = { entries: [], subdirs: [], pruned: [], problems: [], count: dirents.length };
  for (const d of dirents) {
    const name = (d.name as unknown as Buffer).toString('latin1');
    const childRel = rel === '' ? name : `${rel}/${name}`;
    let kind = kindOfDirent(d);
    let st: BigIntStats | undefined;
    if (kind === undefined || kind === 'dir') {
      try {
        st = lstatSync(joinRoot(source, childRel), { bigint: true });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        out.problems.push({ rel: childRel, code: err.code ?? 'EIO', message: err.code === 'ENOENT' ? 'vanished' : (err.message ?? String(e)).split('\n')[0]! });
        continue;
      }
      kind = kindOfStats(st);
    }
    const verdict = judgeEntry(childRel, name, kind, st?.dev, rules);
    if (verdict === 'drop') continue;
    if (verdict !== 'keep') {
      out.pruned.push({ rel: childRel, st: st!, reason: verdict });
      continue;
    }
    if (kind === 'dir') {
      out.subdirs.push({ rel: childRel, st: st! });
      continue;
    }
    out.entries.push({ rel: childRel, kind });
  }
  return out;
}

/** One entry of a walk that looks at every entry (verify, sizing, fingerprints, pack). */
export interface StatEntry {
  /** Path relative to the root, latin1, no leading slash ('' for the root itself). */
  rel: string;
  kind: EntryKind;
  st: BigIntStats;
  /** A directory kept but not entered: excluded, or a mount point under --one-file-system. */
  pruned?: 'excluded' | 'other-filesystem';
}

export interface WalkProblem {
  rel: string;
  code: string;
  /** One line: what the system call said. */
  message: string;
  /** What failed: listing the directory `rel`, or looking at the entry `rel`. */
  during?: 'readdir' | 'lstat';
}

function problemOf(rel: string, e: unknown, during?: 'readdir' | 'lstat'): WalkProblem {
  const err = e as NodeJS.ErrnoException;
  return { rel, code: err.code ?? 'EIO', message: (err.message ?? String(e)).split('\n')[0]!, ...(during ? { during } : {}) };
}

export interface ListOptions {
  /** Children in byte order of their names (a tarball's stable order). Default: readdir's order. */
  sorted?: boolean;
}

/**
 * Read one directory and lstat each child (bigint: nanosecond times, 64-bit inodes), under the
 * rules. Throws what readdir throws; a child that cannot be lstat'ed is a problem, not an entry.
 */
export function listDirectory(root: string, rel: string, rules: ScanRules, options: ListOptions = {}): { entries: StatEntry[]; problems: WalkProblem[] } {
  const names = readdirSync(joinRoot(root, rel), { encoding: 'buffer' });
  if (options.sorted) names.sort(Buffer.compare);
  const entries: StatEntry[] = [];
  const problems: WalkProblem[] = [];
  for (const nb of names) {
    const name = nb.toString('latin1');
    const childRel = rel === '' ? name : `${rel}/${name}`;
    let st: BigIntStats;
    try {
      st = lstatSync(joinRoot(root, childRel), { bigint: true });
    } catch (e) {
      problems.push(problemOf(childRel, e, 'lstat'));
      continue;
    }
    const kind = kindOfStats(st);
    const verdict = judgeEntry(childRel, name, kind, st.dev, rules);
    if (verdict === 'drop') continue;
    entries.push(verdict === 'keep' ? { rel: childRel, kind, st } : { rel: childRel, kind, st, pruned: verdict });
  }
  return { entries, problems };
}

/** An entry with only the lstat fields a comparison needs (see sys/lean-stat.ts); a StatEntry is one too. */
export interface LeanEntry {
  rel: string;
  kind: EntryKind;
  st: LeanStat;
  pruned?: 'excluded' | 'other-filesystem';
  /** The entry's path as lstat was given it (joinRootArg's form), for the caller's next system calls. */
  path: string | Buffer;
}

/**
 * listDirectory() without Node's Stats objects: the same children, the same rules, the same
 * problems, each child's lstat cut to the fields in LeanStat (several times less garbage per entry).
 * For walks that lstat every entry of large trees (verify).
 */
export function listDirectoryLean(root: string, rel: string, rules: ScanRules, options: ListOptions = {}): { entries: LeanEntry[]; problems: WalkProblem[] } {
  // latin1: one char per byte, as names.toString('latin1') gives them, without a Buffer per name
  const dir = rel === '' ? root : root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`;
  const dirAscii = !NON_ASCII.test(dir);
  const names = readdirSync(dirAscii ? dir : Buffer.from(dir, 'latin1'), { encoding: 'latin1' });
  if (options.sorted) names.sort(); // latin1 chars compare as the bytes do
  const entries: LeanEntry[] = [];
  const problems: WalkProblem[] = [];
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  for (const name of names) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    // the test per name, not per path: a short string, once
    const full = `${prefix}${name}`;
    const path = dirAscii && !NON_ASCII.test(name) ? full : Buffer.from(full, 'latin1');
    let st: LeanStat;
    try {
      st = lstatLean(path);
    } catch (e) {
      problems.push(problemOf(childRel, e, 'lstat'));
      continue;
    }
    const kind = kindOfMode(st.mode);
    const verdict = judgeEntry(childRel, name, kind, st.dev, rules);
    if (verdict === 'drop') continue;
    entries.push(verdict === 'keep' ? { rel: childRel, kind, st, path } : { rel: childRel, kind, st, pruned: verdict, path });
  }
  return { entries, problems };
}

export interface WalkTreeOptions extends ListOptions {
  excludes: ExcludeSet;
  /** Do not enter directories on another filesystem than the root's (they are kept, pruned). */
  oneFileSystem?: boolean;
  /** Called for what could not be read (a directory's listing or a child's lstat). */
  onProblem?: (p: WalkProblem) => void;
}

/**
 * Every entry of a tree in the order a recursive walk meets them: the root first, then each child,
 * a directory's whole subtree right after the directory (with `sorted`, the order tar writes).
 * Under the rules; synchronous lstat (from one thread it is several times faster than fs.promises
 * for many small calls). Each directory is listed (its children lstat'ed) when it is entered.
 * Throws when the root cannot be lstat'ed; anything else unreadable goes to onProblem.
 * `root` is, like every `rel`, the latin1 form of its bytes (see joinRoot).
 */
export function* walkTree(root: string, options: WalkTreeOptions): Generator<StatEntry> {
  const rootSt = lstatSync(joinRoot(root, ''), { bigint: true });
  const rules: ScanRules = { excludes: options.excludes, ...(options.oneFileSystem ? { rootDev: rootSt.dev } : {}) };
  const first: StatEntry = { rel: '', kind: kindOfStats(rootSt), st: rootSt };
  yield first;
  if (first.kind !== 'dir') return;
  const open = (rel: string): { entries: StatEntry[]; next: number } => {
    try {
      const listing = listDirectory(root, rel, rules, options);
      for (const p of listing.problems) options.onProblem?.(p);
      return { entries: listing.entries, next: 0 };
    } catch (e) {
      options.onProblem?.(problemOf(rel, e, 'readdir'));
      return { entries: [], next: 0 };
    }
  };
  const stack = [open('')];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.entries.length) {
      stack.pop();
      continue;
    }
    const e = top.entries[top.next++]!;
    yield e;
    if (e.kind === 'dir' && !e.pruned) stack.push(open(e.rel));
  }
}
