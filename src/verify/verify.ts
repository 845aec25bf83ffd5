// verifyTree(): compare a source tree with a target (a tree, an image file or a volume, opened
// read-only) on every attribute the clone keeps, and return the differences grouped by kind.

import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { lstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve, relative, isAbsolute } from 'node:path';
import type { CompareResult, CompareTask } from './compare.worker.js';
import { comparePair, type ContentResult, type WalkMode, type WalkResult } from './pair.js';
import { CleanupStack } from '../cleanup.js';
import { DomuError } from '../errors.js';
import { DEFAULT_EXCLUDES, ExcludeSet } from '../walk/exclude.js';
import { judgeEntry, kindOfStats, type ScanRules, type StatEntry } from '../walk/walk.js';
import { openReadOnly } from './mount-ro.js';
import { encodeXattrPaths, streamXattrs } from './xattrs.js';
import { displayPath } from './display.js';
import { DIFFERENCE_KINDS, type DifferenceKind } from './kinds.js';

export { displayPath } from './display.js';
export { DIFFERENCE_KINDS, type DifferenceKind } from './kinds.js';

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
  /** Worker threads walking and comparing (each reads both sides). Default: the cores, at least 2, at most 4. */
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

function showTime(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(s) * 1000).toISOString().replace('.000Z', '')}.${frac}Z`;
}

function sameMtime(a: bigint, b: bigint, windowNs: bigint, precision: bigint): boolean {
  if (windowNs > 0n) {
    const d = a > b ? a - b : b - a;
    return d <= windowNs;
  }
  return a / precision === b / precision;
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

/** For each name in a hard-link group, the group's first name (sorted), so two trees' groups compare by value. */
function linkLeaders(links: Array<[string, string]>): Map<string, string> {
  const groups = new Map<string, string[]>();
  for (const [rel, key] of links) {
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

function entryOfRoot(root: string): StatEntry {
  const st = lstatSync(root, { bigint: true });
  return { rel: '', kind: kindOfStats(st), st };
}

/** Whether the walk of `source` under the rules would reach `inside` (a path relative to it). */
function walkReaches(source: string, inside: string, rules: ScanRules): boolean {
  const parts = inside.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    let e: StatEntry;
    try {
      e = { ...entryOfRoot(`${source}/${rel}`), rel };
    } catch {
      return false;
    }
    if (judgeEntry(rel, parts[i - 1]!, e.kind, e.st.dev, rules) !== 'keep') return false;
  }
  return true;
}

/**
 * Compare `source` with `target` on every attribute clone keeps. Throws DomuError on bad input only.
 *
 * The walk runs in worker threads, a batch of directories at a time, both sides of a directory in
 * the same task: metadata first, then the contents of files whose kind and size match, each file
 * read once on each side (files with several names once per pair of inodes). Paths found on both
 * sides stream meanwhile into one getfattr pipeline per side.
 */
export async function verifyTree(options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const patterns = [...(options.defaultExcludes === false ? [] : DEFAULT_EXCLUDES), ...(options.excludes ?? [])];
  const excludes = new ExcludeSet(patterns);
  const window = options.modifyWindow ?? 0;
  if (!Number.isFinite(window) || window < 0) throw new DomuError('USAGE', '--modify-window must be a number of seconds, 0 or more');
  const floor = PRECISION_NS[options.mtimePrecision ?? 'ns'];
  if (floor === undefined) throw new DomuError('USAGE', `mtime precision must be one of ns, us, ms, s`);
  const source = resolve(options.source);
  const cleanup = options.cleanup ?? new CleanupStack();
  let sourceRoot: StatEntry;
  try {
    sourceRoot = entryOfRoot(source);
  } catch (e) {
    throw new DomuError('BAD_INPUT', `source ${options.source}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (sourceRoot.kind !== 'dir') throw new DomuError('BAD_INPUT', `source ${options.source} is not a directory`);
  const oneFs = options.oneFileSystem ?? false;
  const sourceRules: ScanRules = oneFs ? { excludes, rootDev: sourceRoot.st.dev } : { excludes };

  const opened = await openReadOnly(options.target, cleanup);
  let xs: ReturnType<typeof streamXattrs> | undefined;
  let xt: ReturnType<typeof streamXattrs> | undefined;
  try {
    const targetRoot = resolve(opened.root);
    const inside = relative(source, targetRoot);
    if (opened.kind === 'directory' && inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) && walkReaches(source, inside, sourceRules)) {
      // Like clone: a target inside the source must be excluded, or the walk would read it twice.
      throw new DomuError('BAD_INPUT', `the target ${options.target} lies inside the source; exclude it (--exclude /${inside})`);
    }
    const targetRootEntry = entryOfRoot(targetRoot);
    const wantX = options.xattrs !== false;
    xs = wantX ? streamXattrs(source) : undefined;
    xt = wantX ? streamXattrs(targetRoot) : undefined;

    const diffs: Difference[] = [];
    const add = (kind: DifferenceKind, rel: string, s?: string, t?: string) => {
      const d: Difference = { kind, rel, path: displayPath(rel) };
      if (s !== undefined) d.source = s;
      if (t !== undefined) d.target = t;
      diffs.push(d);
    };
    const entries: [number, number] = [1, 1];
    const precision: [bigint, bigint] = [1_000_000_000n, 1_000_000_000n];
    const mtimes: Array<[string, bigint, bigint]> = [];
    const links: [Array<[string, string]>, Array<[string, string]>] = [[], []];
    const linkChecks: string[] = [];
    const linkedContent: WalkResult['linkedContent'] = [];
    const both: string[] = [];
    let bytes = 0;
    const take = (r: WalkResult) => {
      for (const [k, rel, s, t] of r.differences) add(k, rel, s, t);
      entries[0] += r.entries[0];
      entries[1] += r.entries[1];
      for (const i of [0, 1] as const) if (r.precision[i] < precision[i]) precision[i] = r.precision[i];
      for (const m of r.mtimes) mtimes.push(m);
      for (const [side, rel, key] of r.links) links[side].push([rel, key]);
      for (const rel of r.linkChecks) linkChecks.push(rel);
      for (const l of r.linkedContent) linkedContent.push(l);
      for (const rel of r.both) both.push(rel);
      if (xs && xt && r.both.length > 0) {
        const paths = encodeXattrPaths(r.both);
        xs.add(paths);
        xt.add(paths);
      }
      bytes += r.bytes;
      options.onProgress?.({ phase: 'compare', entries: entries[0], bytes });
    };

    // the roots themselves, as any pair of directories
    const rootPair: WalkResult = { next: [], differences: [], entries: [0, 0], both: [], mtimes: [], precision: [precision[0], precision[1]], links: [], linkChecks: [], linkedContent: [], bytes: 0 };
    for (const i of [0, 1] as const) {
      let p = rootPair.precision[i];
      const m = (i === 0 ? sourceRoot : targetRootEntry).st.mtimeNs;
      while (p > 1n && m % p !== 0n) p /= 1000n;
      rootPair.precision[i] = p;
    }
    if (targetRootEntry.kind !== 'dir') rootPair.differences.push(['type', '', 'dir', targetRootEntry.kind]);
    else comparePair('', sourceRoot, targetRootEntry, { source, target: targetRoot }, rootPair, false);
    take(rootPair);

    const cores = Math.max(1, availableParallelism());
    const threads = options.concurrency ?? Math.min(4, Math.max(2, cores));
    const pool = new Piscina<CompareTask, CompareResult>({ filename: compareWorkerFile(), minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
    try {
      if (targetRootEntry.kind === 'dir') {
        const base = { op: 'walk' as const, source, target: targetRoot, excludes: patterns, ignoreLostFound: options.ignoreLostFound ?? opened.kind !== 'directory', ...(oneFs ? { sourceDev: sourceRoot.st.dev } : {}) };
        const queue: Array<[string, WalkMode]> = [['', 'both']];
        let inFlight = 0;
        let failed: unknown;
        await new Promise<void>((done, fail) => {
          const pump = () => {
            if (failed !== undefined) return;
            while (queue.length > 0 && inFlight < threads * 2) {
              // small batches while the queue is short, so every thread gets work early
              const n = Math.min(64, Math.max(1, Math.ceil(queue.length / threads)));
              const dirs = queue.splice(queue.length - n, n);
              inFlight++;
              pool.run({ ...base, dirs }).then(
                (r) => {
                  inFlight--;
                  const w = r as WalkResult;
                  take(w);
                  for (const d of w.next) queue.push(d);
                  pump();
                },
                (e) => {
                  failed = e;
                  fail(e);
                },
              );
            }
            if (queue.length === 0 && inFlight === 0) done();
          };
          pump();
        });

        // Files with several names: once per pair of inodes, the result given to every name.
        const pairs = new Map<string, { size: number; rels: string[] }>();
        for (const [rel, size, ks, kt] of linkedContent) {
          const key = `${ks}|${kt}`;
          const p = pairs.get(key);
          if (p) p.rels.push(rel);
          else pairs.set(key, { size, rels: [rel] });
        }
        const items = [...pairs.values()];
        const byRel = new Map(items.map((p) => [p.rels[0]!, p]));
        const batches: Array<Array<[string, number]>> = [];
        let cur: Array<[string, number]> = [];
        let curBytes = 0;
        for (const p of items) {
          cur.push([p.rels[0]!, p.size]);
          curBytes += p.size;
          if (cur.length >= 512 || curBytes >= 64 * 2 ** 20) {
            batches.push(cur);
            cur = [];
            curBytes = 0;
          }
        }
        if (cur.length > 0) batches.push(cur);
        await Promise.all(
          batches.map(async (b) => {
            const r = (await pool.run({ op: 'content', source, target: targetRoot, items: b })) as ContentResult;
            for (const rel of r.different) for (const n of byRel.get(rel)!.rels) add('content', n);
            for (const [rel, message] of r.errors) for (const n of byRel.get(rel)!.rels) add('unreadable', n, message);
            bytes += r.bytes;
          }),
        );
      }
    } finally {
      await pool.destroy();
    }

    const windowNs = BigInt(Math.round(window * 1e9));
    let prec = precision[0] > precision[1] ? precision[0] : precision[1];
    if (floor > prec) prec = floor;
    for (const [rel, a, b] of mtimes) if (!sameMtime(a, b, windowNs, prec)) add('mtime', rel, showTime(a), showTime(b));
    const srcLeaders = linkLeaders(links[0]);
    const dstLeaders = linkLeaders(links[1]);
    for (const rel of linkChecks) {
      const la = srcLeaders.get(rel);
      const lb = dstLeaders.get(rel);
      if (la !== lb) add('hardlink', rel, la === undefined ? '(single)' : `group of ${displayPath(la)}`, lb === undefined ? '(single)' : `group of ${displayPath(lb)}`);
    }

    if (xs && xt) {
      const [xa, xb] = await Promise.all([xs.finish(), xt.finish()]);
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
      entries: { source: entries[0], target: entries[1] },
      bytesCompared: bytes,
      mtimePrecisionNs: windowNs > 0n ? Number(windowNs) : Number(prec),
      differences: diffs,
      counts,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    // getfattr runs inside the target: it must be gone before an image is unmounted
    await Promise.all([xs?.finish().catch(() => undefined), xt?.finish().catch(() => undefined)]);
    await opened.close();
  }
}
