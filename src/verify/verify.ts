// verifyTree(): compare a source tree with a target (a tree, an image file or a volume, opened
// read-only) on every attribute the clone keeps, and return the differences grouped by kind.

import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import type { CompareBatch, CompareResult } from './compare.worker.js';
import { CleanupStack } from '../cleanup.js';
import { DomuError } from '../errors.js';
import { DEFAULT_EXCLUDES, ExcludeSet } from '../walk/exclude.js';
import { openReadOnly } from './mount-ro.js';
import { dirChildren, majorMinor, readLinkBytes, readTree, type Tree, type TreeEntry } from './tree.js';
import { readXattrs, type XattrMap } from './xattrs.js';
import { resolve, relative, isAbsolute } from 'node:path';

export const DIFFERENCE_KINDS = [
  'missing', // in the source, not in the target
  'extra', // in the target, not in the source
  'type',
  'content',
  'size',
  'owner',
  'mode',
  'mtime',
  'symlink',
  'device',
  'hardlink',
  'xattr',
  'acl',
  'not-empty', // an excluded directory that should be empty in the target
  'unreadable',
] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export interface Difference {
  kind: DifferenceKind;
  /** The path as shown to people: "/etc/passwd", with non-UTF-8 bytes and control characters escaped as \xNN. */
  path: string;
  /** The raw path relative to the root, latin1 (one char per byte). */
  rel: string;
  source?: string;
  target?: string;
}

export interface VerifyOptions {
  source: string;
  /** A directory, an image file (raw, qcow2, vmdk), an LVM volume (VG/LV or /dev/VG/LV) or a block device. */
  target: string;
  /** Exclusion patterns, anchored like clone's (and rsync's). */
  excludes?: readonly string[];
  /** Add clone's default excludes (/home /mnt /tmp /proc /sys /var). Default true. */
  defaultExcludes?: boolean;
  oneFileSystem?: boolean;
  /**
   * Seconds two mtimes may differ by and still count as equal, like rsync's --modify-window.
   * 0 (the default) compares to the nanosecond, or to the coarser precision one side's filesystem keeps.
   */
  modifyWindow?: number;
  /**
   * Compare mtimes no finer than this ('us' after a clone, which keeps microseconds because
   * Node's utimes does). Default 'ns': as fine as both sides' filesystems keep.
   */
  mtimePrecision?: MtimePrecision;
  /** Ignore a top-level lost+found in the target that the source lacks (a fresh filesystem's). Default: only for image files and volumes. */
  ignoreLostFound?: boolean;
  /** Compare xattrs and ACLs. Default true. */
  xattrs?: boolean;
  /** Worker threads comparing file contents. Default 4. */
  concurrency?: number;
  cleanup?: CleanupStack;
  onProgress?: (p: VerifyProgress) => void;
}

export type MtimePrecision = 'ns' | 'us' | 'ms' | 's';
export const PRECISION_NS: Readonly<Record<MtimePrecision, bigint>> = { ns: 1n, us: 1000n, ms: 1_000_000n, s: 1_000_000_000n };

export interface VerifyProgress {
  phase: 'read-source' | 'read-target' | 'compare';
  entries: number;
  bytes: number;
}

export interface VerifyResult {
  identical: boolean;
  source: string;
  target: string;
  targetKind: 'directory' | 'image file' | 'block device';
  entries: { source: number; target: number };
  /** Bytes of file content compared (each side). */
  bytesCompared: number;
  /** Precision of the mtime comparison, in nanoseconds (1, 1000, 1e9), or the window when one was given. */
  mtimePrecisionNs: number;
  differences: Difference[];
  counts: Partial<Record<DifferenceKind, number>>;
  seconds: number;
}

/** The worker file. Under vitest this module runs from src/*.ts; workers always load the build. */
function compareWorkerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return here.replace(/\/src\/verify\/verify\.ts$/, '/dist/verify/compare.worker.js');
  return here.replace(/verify\.js$/, 'compare.worker.js');
}

/** A latin1 path made readable: UTF-8 shown as is, other bytes and control characters as \xNN. */
export function displayPath(rel: string): string {
  const bytes = Buffer.from(rel, 'latin1');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = rel.replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  }
  return `/${text.replace(/\\(?!x[0-9a-f]{2})/g, '\\\\').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

function octal(n: number): string {
  return n.toString(8).padStart(4, '0');
}

function showTime(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(s) * 1000).toISOString().replace('.000Z', '')}.${frac}Z`;
}

/** The coarsest of 1s, 1ms, 1µs, 1ns that divides every mtime of a tree: what its filesystem keeps. */
function timePrecision(entries: Iterable<TreeEntry>): bigint {
  let p = 1_000_000_000n;
  for (const e of entries) {
    while (p > 1n && e.mtimeNs % p !== 0n) p /= 1000n;
    if (p === 1n) break;
  }
  return p;
}

function sameMtime(a: bigint, b: bigint, windowNs: bigint, precision: bigint): boolean {
  if (windowNs > 0n) {
    const d = a > b ? a - b : b - a;
    return d <= windowNs;
  }
  return a / precision === b / precision;
}

function hasAncestorIn(rel: string, set: Set<string>): boolean {
  let i = rel.lastIndexOf('/');
  while (i > 0) {
    if (set.has(rel.slice(0, i))) return true;
    i = rel.lastIndexOf('/', i - 1);
  }
  return false;
}

/** For each name in a hard-link group, the group's first name (sorted), so two trees' groups compare by value. */
function linkLeaders(tree: Tree): Map<string, string> {
  const groups = new Map<string, string[]>();
  for (const [rel, e] of tree.entries) {
    if (e.kind === 'dir' || e.nlink < 2) continue;
    const key = `${e.dev}:${e.ino}`;
    const g = groups.get(key);
    if (g) g.push(rel);
    else groups.set(key, [rel]);
  }
  const leaders = new Map<string, string>();
  for (const names of groups.values()) {
    if (names.length < 2) continue;
    names.sort();
    for (const n of names) leaders.set(n, names[0]!);
  }
  return leaders;
}

function compareXattrs(rel: string, a: Map<string, string> | undefined, b: Map<string, string> | undefined, out: Difference[]): void {
  if (!a && !b) return;
  const names = new Set([...(a?.keys() ?? []), ...(b?.keys() ?? [])]);
  const changed: Record<'xattr' | 'acl', string[]> = { xattr: [], acl: [] };
  for (const n of [...names].sort()) {
    const va = a?.get(n);
    const vb = b?.get(n);
    if (va === vb) continue;
    const kind = n.startsWith('system.posix_acl_') ? 'acl' : 'xattr';
    changed[kind].push(va === undefined ? `+${n}` : vb === undefined ? `-${n}` : `~${n}`);
  }
  for (const kind of ['xattr', 'acl'] as const) {
    if (changed[kind].length === 0) continue;
    out.push({
      kind,
      rel,
      path: displayPath(rel),
      source: [...names].filter((n) => a?.has(n) && (kind === 'acl') === n.startsWith('system.posix_acl_')).sort().join(',') || '(none)',
      target: changed[kind].join(' '),
    });
  }
}

/** Compare `source` with `target` on every attribute clone keeps. Throws DomuError on bad input only. */
export async function verifyTree(options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const patterns = [...(options.defaultExcludes === false ? [] : DEFAULT_EXCLUDES), ...(options.excludes ?? [])];
  const excludes = new ExcludeSet(patterns);
  const window = options.modifyWindow ?? 0;
  if (!Number.isFinite(window) || window < 0) throw new DomuError('USAGE', '--modify-window must be a number of seconds, 0 or more');
  const source = resolve(options.source);
  const cleanup = options.cleanup ?? new CleanupStack();
  let sourceTree: Tree;
  try {
    sourceTree = await readTree(source, {
      excludes,
      oneFileSystem: options.oneFileSystem ?? false,
      onProgress: (n) => options.onProgress?.({ phase: 'read-source', entries: n, bytes: 0 }),
    });
  } catch (e) {
    throw new DomuError('BAD_INPUT', `source ${options.source}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (sourceTree.entries.get('')!.kind !== 'dir') throw new DomuError('BAD_INPUT', `source ${options.source} is not a directory`);

  const opened = await openReadOnly(options.target, cleanup);
  try {
    const targetRoot = resolve(opened.root);
    const inside = relative(source, targetRoot);
    if (opened.kind === 'directory' && inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)) {
      // Like clone: a target inside the source must be excluded, or the walk would read it twice.
      let covered = false;
      for (let p = inside; p !== '' && p !== '.'; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') {
        if (sourceTree.entries.get(p)?.pruned) covered = true;
      }
      if (!covered && sourceTree.entries.has(inside)) {
        throw new DomuError('BAD_INPUT', `the target ${options.target} lies inside the source; exclude it (--exclude /${inside})`);
      }
    }
    const wantX = options.xattrs !== false;
    const sourceX = wantX ? readXattrs(source, [...sourceTree.entries.keys()]) : Promise.resolve(new Map() as XattrMap);
    sourceX.catch(() => undefined);
    const targetTree = await readTree(targetRoot, {
      excludes,
      oneFileSystem: false,
      onProgress: (n) => options.onProgress?.({ phase: 'read-target', entries: n, bytes: 0 }),
    });
    const targetX = wantX ? readXattrs(targetRoot, [...targetTree.entries.keys()]) : Promise.resolve(new Map() as XattrMap);
    targetX.catch(() => undefined);

    const diffs: Difference[] = [];
    const add = (kind: DifferenceKind, rel: string, s?: string, t?: string) => {
      const d: Difference = { kind, rel, path: displayPath(rel) };
      if (s !== undefined) d.source = s;
      if (t !== undefined) d.target = t;
      diffs.push(d);
    };
    for (const err of sourceTree.errors) add('unreadable', err.rel, err.message);
    for (const err of targetTree.errors) add('unreadable', err.rel, undefined, err.message);

    const windowNs = BigInt(Math.round(window * 1e9));
    const precA = timePrecision(sourceTree.entries.values());
    const precB = timePrecision(targetTree.entries.values());
    let precision = precA > precB ? precA : precB;
    const floor = PRECISION_NS[options.mtimePrecision ?? 'ns'];
    if (floor === undefined) throw new DomuError('USAGE', `mtime precision must be one of ns, us, ms, s`);
    if (floor > precision) precision = floor;
    const srcLeaders = linkLeaders(sourceTree);
    const dstLeaders = linkLeaders(targetTree);

    const missingDirs = new Set<string>();
    const prunedDirs = new Set<string>();
    const contentQueue: Array<{ rel: string; size: bigint }> = [];
    const both: string[] = [];
    for (const [rel, a] of sourceTree.entries) {
      if (a.pruned) prunedDirs.add(rel);
      const b = targetTree.entries.get(rel);
      if (!b) {
        if (a.kind === 'dir') missingDirs.add(rel);
        if (!hasAncestorIn(rel, missingDirs)) add('missing', rel, a.kind);
        continue;
      }
      if (a.kind !== b.kind) {
        add('type', rel, a.kind, b.kind);
        continue;
      }
      both.push(rel);
      if (a.uid !== b.uid || a.gid !== b.gid) add('owner', rel, `${a.uid}:${a.gid}`, `${b.uid}:${b.gid}`);
      if (a.kind !== 'symlink' && a.perm !== b.perm) add('mode', rel, octal(a.perm), octal(b.perm));
      // An excluded directory's mtime only records changes to what was excluded (a live /tmp, a
      // mounted /sys), so it is not compared; its mode and owner are.
      if (!a.pruned && !sameMtime(a.mtimeNs, b.mtimeNs, windowNs, precision)) add('mtime', rel, showTime(a.mtimeNs), showTime(b.mtimeNs));
      if (a.kind === 'file') {
        if (a.size !== b.size) add('size', rel, String(a.size), String(b.size));
        else if (!(a.dev === b.dev && a.ino === b.ino)) contentQueue.push({ rel, size: a.size });
      } else if (a.kind === 'symlink') {
        try {
          const la = readLinkBytes(source, rel);
          const lb = readLinkBytes(targetRoot, rel);
          if (!la.equals(lb)) add('symlink', rel, displayPath(la.toString('latin1')).slice(1), displayPath(lb.toString('latin1')).slice(1));
        } catch (e) {
          add('unreadable', rel, (e as Error).message.split('\n')[0]);
        }
      } else if (a.kind === 'chardev' || a.kind === 'blockdev') {
        if (a.rdev !== b.rdev) add('device', rel, majorMinor(a.rdev).join(','), majorMinor(b.rdev).join(','));
      }
      if (a.kind !== 'dir') {
        const la = srcLeaders.get(rel);
        const lb = dstLeaders.get(rel);
        if (la !== lb) {
          add('hardlink', rel, la === undefined ? '(single)' : `group of ${displayPath(la)}`, lb === undefined ? '(single)' : `group of ${displayPath(lb)}`);
        }
      }
      if (a.pruned) {
        // clone recreates an excluded directory empty; the target's own copy must hold nothing.
        try {
          const kids = dirChildren(targetRoot, rel);
          if (kids.length > 0) add('not-empty', rel, 'empty', `${kids.length} entries`);
        } catch (e) {
          add('unreadable', rel, undefined, (e as Error).message.split('\n')[0]);
        }
      }
    }
    const extraDirs = new Set<string>();
    const ignoreLostFound = options.ignoreLostFound ?? opened.kind !== 'directory';
    for (const [rel, b] of targetTree.entries) {
      if (sourceTree.entries.has(rel)) continue;
      if (ignoreLostFound && (rel === 'lost+found' || rel.startsWith('lost+found/'))) continue; // made by mkfs
      if (b.kind === 'dir') extraDirs.add(rel);
      if (hasAncestorIn(rel, extraDirs) || hasAncestorIn(rel, prunedDirs)) continue;
      add('extra', rel, undefined, b.kind);
    }

    // Content: batches of files to a small worker pool that reads synchronously (many small
    // files cost a thread-pool round trip per call otherwise), large files split across batches.
    let bytes = 0;
    const pool = new Piscina<CompareBatch, CompareResult>({ filename: compareWorkerFile(), minThreads: 1, maxThreads: options.concurrency ?? 4, idleTimeout: 1000 });
    try {
      const batches: CompareBatch[] = [];
      let items: CompareBatch['items'] = [];
      let batchBytes = 0;
      for (const { rel, size } of contentQueue) {
        items.push([rel, Number(size)]);
        batchBytes += Number(size);
        if (items.length >= 512 || batchBytes >= 64 * 2 ** 20) {
          batches.push({ source, target: targetRoot, items });
          items = [];
          batchBytes = 0;
        }
      }
      if (items.length > 0) batches.push({ source, target: targetRoot, items });
      await Promise.all(
        batches.map(async (b) => {
          const r = await pool.run(b);
          for (const rel of r.different) add('content', rel);
          for (const e of r.errors) add('unreadable', e.rel, e.message);
          bytes += r.bytes;
          options.onProgress?.({ phase: 'compare', entries: both.length, bytes });
        }),
      );
    } finally {
      await pool.destroy();
    }

    if (wantX) {
      const [xa, xb] = await Promise.all([sourceX, targetX]);
      for (const rel of both) compareXattrs(rel, xa.get(rel), xb.get(rel), diffs);
    }

    diffs.sort((x, y) => DIFFERENCE_KINDS.indexOf(x.kind) - DIFFERENCE_KINDS.indexOf(y.kind) || (x.rel < y.rel ? -1 : x.rel > y.rel ? 1 : 0));
    const counts: VerifyResult['counts'] = {};
    for (const d of diffs) counts[d.kind] = (counts[d.kind] ?? 0) + 1;
    return {
      identical: diffs.length === 0,
      source: options.source,
      target: options.target,
      targetKind: opened.kind,
      entries: { source: sourceTree.entries.size, target: targetTree.entries.size },
      bytesCompared: bytes,
      mtimePrecisionNs: windowNs > 0n ? Number(windowNs) : Number(precision),
      differences: diffs,
      counts,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await opened.close();
  }
}
