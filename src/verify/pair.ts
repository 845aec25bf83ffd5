// Comparing one directory of the source with the same directory of the target: both listed by the
// walker under the same rules, joined by name, every entry's metadata compared first and a regular
// file's contents read (once on each side) only where kind and size match. Runs in the verify
// workers, one batch of directories at a time; returns plain data.

import { closeSync, constants, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { ExcludeSet } from '../walk/exclude.js';
import { joinRootArg, listDirectoryLean, type LeanEntry, type ScanRules, type WalkProblem } from '../walk/walk.js';
import { displayPath } from './display.js';
import type { DifferenceKind } from './kinds.js';

/**
 * How a directory is walked: 'both' joins the two sides; 'src-report'/'dst-report' list one side
 * and report each child missing/extra (the other side's entry is not a directory);
 * 'src-silent'/'dst-silent' only count what lies under an entry already reported (or pruned).
 */
export type WalkMode = 'both' | 'src-report' | 'src-silent' | 'dst-report' | 'dst-silent';

export interface WalkBatch {
  op: 'walk';
  source: string;
  target: string;
  dirs: Array<[string, WalkMode]>;
  excludes: string[];
  /** The source root's device under --one-file-system. */
  sourceDev?: bigint;
  /** Skip a top-level lost+found that only the target has. */
  ignoreLostFound: boolean;
}

/** Regular files with more than one name, compared once per pair of inodes by the caller. */
export interface ContentBatch {
  op: 'content';
  source: string;
  target: string;
  items: Array<[string, number]>;
}

export type RawDifference = [DifferenceKind, string, string | undefined, string | undefined];

export interface WalkResult {
  next: Array<[string, WalkMode]>;
  differences: RawDifference[];
  entries: [number, number];
  /** Entries on both sides with the same kind: their xattrs are compared. */
  both: string[];
  /** Same-kind entries whose mtimes differ at all (the caller applies the precision), excluded directories left out. */
  mtimes: Array<[string, bigint, bigint]>;
  /** The coarsest of 1 s, 1 ms, 1 µs, 1 ns dividing every mtime seen, each side. */
  precision: [bigint, bigint];
  /** Non-directories with more than one link: [side (0 source, 1 target), rel, dev:ino]. */
  links: Array<[0 | 1, string, string]>;
  /** Same-kind non-directories where either side has more than one link: their groups are compared. */
  linkChecks: string[];
  /** Equal-size files with more than one link: [rel, size, source dev:ino, target dev:ino]. */
  linkedContent: Array<[string, number, string, string]>;
  bytes: number;
}

export interface ContentResult {
  different: string[];
  errors: Array<[string, string]>;
  bytes: number;
}

const CHUNK = 1 << 20;
let bufA: Buffer | undefined;
let bufB: Buffer | undefined;

/**
 * Read up to `want` bytes. A read that stops short exactly at `end` (the size lstat gave) is
 * taken as the end of the file, as a regular file's short read is: that saves the second read
 * (of 0 bytes) per small file per side. A short read anywhere else reads on to be sure.
 */
function readFull(fd: number, buf: Buffer, want: number, end = -1): number {
  let got = 0;
  while (got < want) {
    const n = readSync(fd, buf, got, want - got, null);
    if (n === 0) break;
    got += n;
    if (got === end) break;
  }
  return got;
}

/**
 * Whether two files hold the same bytes, reading each once. `size` is the lstat size both sides
 * share: a file that fits a chunk is read with one call of size + 1 bytes, so growth shows too.
 */
export function sameContent(a: string | Buffer, b: string | Buffer, size: number): boolean {
  bufA ??= Buffer.allocUnsafe(CHUNK + 1);
  bufB ??= Buffer.allocUnsafe(CHUNK + 1);
  // O_NOFOLLOW: an entry that turned into a symlink since the walk is not followed
  const fa = openSync(a, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const fb = openSync(b, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      let want = size < CHUNK ? size + 1 : CHUNK;
      let end = size < CHUNK ? size : -1;
      for (;;) {
        const na = readFull(fa, bufA, want, end);
        const nb = readFull(fb, bufB, want, end);
        if (na !== nb) return false;
        if (bufA.compare(bufB, 0, nb, 0, na) !== 0) return false;
        if (na < want) return true; // both at their end
        want = CHUNK;
        end = -1;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

function oneLine(e: unknown): string {
  return ((e as Error).message ?? String(e)).split('\n')[0]!;
}

function octal(n: number): string {
  return n.toString(8).padStart(4, '0');
}

/** Linux's dev_t split, as glibc's major()/minor() do it. */
export function majorMinor(rdev: bigint): [number, number] {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

const excludeCache = new Map<string, ExcludeSet>();
function excludesOf(patterns: string[]): ExcludeSet {
  const key = JSON.stringify(patterns);
  let set = excludeCache.get(key);
  if (!set) excludeCache.set(key, (set = new ExcludeSet(patterns)));
  return set;
}

function newResult(): WalkResult {
  return { next: [], differences: [], entries: [0, 0], both: [], mtimes: [], precision: [1_000_000_000n, 1_000_000_000n], links: [], linkChecks: [], linkedContent: [], bytes: 0 };
}

function coarsest(p: bigint, mtimeNs: bigint): bigint {
  while (p > 1n && mtimeNs % p !== 0n) p /= 1000n;
  return p;
}

/** Compare two entries of the same path and kind on everything but xattrs (the caller batches those). */
/** An entry to compare: a walk's LeanEntry, or a root's StatEntry (no path: it is joined here). */
export type PairEntry = Omit<LeanEntry, 'path'> & { path?: string | Buffer };

export function comparePair(rel: string, a: PairEntry, b: PairEntry, batch: Pick<WalkBatch, 'source' | 'target'>, out: WalkResult, contentNow: boolean): void {
  const add = (kind: DifferenceKind, s?: string, t?: string) => out.differences.push([kind, rel, s, t]);
  const sa = a.st;
  const sb = b.st;
  out.both.push(rel);
  if (sa.uid !== sb.uid || sa.gid !== sb.gid) add('owner', `${sa.uid}:${sa.gid}`, `${sb.uid}:${sb.gid}`);
  const pa = Number(sa.mode & 0o7777n);
  const pb = Number(sb.mode & 0o7777n);
  if (a.kind !== 'symlink' && pa !== pb) add('mode', octal(pa), octal(pb));
  // An excluded directory's mtime only records changes to what was excluded (a live /tmp, a
  // mounted /sys), so it is not compared; its mode and owner are.
  if (!a.pruned && sa.mtimeNs !== sb.mtimeNs) out.mtimes.push([rel, sa.mtimeNs, sb.mtimeNs]);
  if (a.kind === 'file') {
    if (sa.size !== sb.size) add('size', String(sa.size), String(sb.size));
    else if (!(sa.dev === sb.dev && sa.ino === sb.ino)) {
      if (sa.nlink > 1n || sb.nlink > 1n) out.linkedContent.push([rel, Number(sa.size), `${sa.dev}:${sa.ino}`, `${sb.dev}:${sb.ino}`]);
      else if (contentNow) {
        try {
          if (!sameContent(a.path ?? joinRootArg(batch.source, rel), b.path ?? joinRootArg(batch.target, rel), Number(sa.size))) add('content');
        } catch (e) {
          add('unreadable', oneLine(e));
        }
        out.bytes += Number(sa.size);
      }
    }
  } else if (a.kind === 'symlink') {
    try {
      const la = readlinkSync(a.path ?? joinRootArg(batch.source, rel), { encoding: 'buffer' });
      const lb = readlinkSync(b.path ?? joinRootArg(batch.target, rel), { encoding: 'buffer' });
      if (!la.equals(lb)) add('symlink', displayPath(la.toString('latin1')).slice(1), displayPath(lb.toString('latin1')).slice(1));
    } catch (e) {
      add('unreadable', oneLine(e));
    }
  } else if (a.kind === 'chardev' || a.kind === 'blockdev') {
    if (sa.rdev !== sb.rdev) add('device', majorMinor(sa.rdev).join(','), majorMinor(sb.rdev).join(','));
  }
  if (a.kind !== 'dir' && (sa.nlink > 1n || sb.nlink > 1n)) out.linkChecks.push(rel);
  if (a.pruned) {
    // clone recreates an excluded directory empty; the target's own copy must hold nothing.
    try {
      const kids = readdirSync(b.path ?? joinRootArg(batch.target, rel));
      if (kids.length > 0) add('not-empty', 'empty', `${kids.length} entries`);
    } catch (e) {
      add('unreadable', undefined, oneLine(e));
    }
  }
}

function note(out: WalkResult, side: 0 | 1, e: LeanEntry): void {
  out.entries[side]++;
  out.precision[side] = coarsest(out.precision[side], e.st.mtimeNs);
  if (e.kind !== 'dir' && e.st.nlink > 1n) out.links.push([side, e.rel, `${e.st.dev}:${e.st.ino}`]);
}

function list(root: string, rel: string, rules: ScanRules, side: 0 | 1, out: WalkResult): LeanEntry[] {
  const problem = (p: WalkProblem) => out.differences.push(side === 0 ? ['unreadable', p.rel, p.message, undefined] : ['unreadable', p.rel, undefined, p.message]);
  try {
    const l = listDirectoryLean(root, rel, rules);
    for (const p of l.problems) problem(p);
    return l.entries;
  } catch (e) {
    problem({ rel, code: (e as NodeJS.ErrnoException).code ?? 'EIO', message: oneLine(e) });
    return [];
  }
}

/** Walk a batch of directories (see WalkMode); the worker's 'walk' task. */
export function walkBatch(batch: WalkBatch): WalkResult {
  const out = newResult();
  const excludes = excludesOf(batch.excludes);
  const srcRules: ScanRules = batch.sourceDev !== undefined ? { excludes, rootDev: batch.sourceDev } : { excludes };
  const dstRules: ScanRules = { excludes };
  for (const [rel, mode] of batch.dirs) {
    if (mode !== 'both') {
      const side = mode.startsWith('src') ? 0 : 1;
      const report = mode.endsWith('report');
      for (const e of list(side === 0 ? batch.source : batch.target, rel, side === 0 ? srcRules : dstRules, side, out)) {
        note(out, side, e);
        if (report) out.differences.push(side === 0 ? ['missing', e.rel, e.kind, undefined] : ['extra', e.rel, undefined, e.kind]);
        if (e.kind === 'dir' && !e.pruned) out.next.push([e.rel, side === 0 ? 'src-silent' : 'dst-silent']);
      }
      continue;
    }
    const a = list(batch.source, rel, srcRules, 0, out);
    const b = list(batch.target, rel, dstRules, 1, out);
    const inTarget = new Map<string, LeanEntry>();
    for (const e of b) {
      inTarget.set(e.rel, e);
      note(out, 1, e);
    }
    for (const s of a) {
      note(out, 0, s);
      const t = inTarget.get(s.rel);
      if (!t) {
        out.differences.push(['missing', s.rel, s.kind, undefined]);
        if (s.kind === 'dir' && !s.pruned) out.next.push([s.rel, 'src-silent']);
        continue;
      }
      inTarget.delete(s.rel);
      if (s.kind !== t.kind) {
        out.differences.push(['type', s.rel, s.kind, t.kind]);
        // the children of a directory the other side has as something else are missing (or extra)
        if (s.kind === 'dir' && !s.pruned) out.next.push([s.rel, 'src-report']);
        if (t.kind === 'dir' && !t.pruned) out.next.push([t.rel, 'dst-report']);
        continue;
      }
      comparePair(s.rel, s, t, batch, out, true);
      if (s.kind === 'dir') {
        if (!s.pruned && !t.pruned) out.next.push([s.rel, 'both']);
        else if (!t.pruned) out.next.push([t.rel, 'dst-silent']); // a mount point pruned under -x: counted, not compared
      }
    }
    for (const t of inTarget.values()) {
      if (!(batch.ignoreLostFound && t.rel === 'lost+found')) out.differences.push(['extra', t.rel, undefined, t.kind]);
      if (t.kind === 'dir' && !t.pruned) out.next.push([t.rel, 'dst-silent']);
    }
  }
  return out;
}

/** Compare the contents of files of equal size; the worker's 'content' task. */
export function compareContents(batch: ContentBatch): ContentResult {
  const result: ContentResult = { different: [], errors: [], bytes: 0 };
  for (const [rel, size] of batch.items) {
    try {
      if (!sameContent(joinRootArg(batch.source, rel), joinRootArg(batch.target, rel), size)) result.different.push(rel);
    } catch (e) {
      result.errors.push([rel, oneLine(e)]);
    }
    result.bytes += size;
  }
  return result;
}
