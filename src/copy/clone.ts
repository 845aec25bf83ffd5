// cloneTree(): the exact, parallel copy of a root tree. The scheduler walks the source, creates
// directories, and shards files and symlinks across the worker pool in batches; hard-link groups,
// device nodes and fifos, directory metadata and xattrs follow, each in its own phase.

import { createHash } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { DomuError, oneLine } from '../errors.js';
import { readState, writeState } from '../sys/state.js';
import { DEFAULT_EXCLUDES, ExcludeSet } from '../walk/exclude.js';
import { joinRoot } from '../walk/walk.js';
import { CopyPool, defaultWorkerCount } from './pool.js';
import { copyWithTar } from './special.js';
import { utimeArg } from './times.js';
import {
  addCounts, emptyCounts, foundDirOf, type BatchResult, type CopyCounts, type CopyMode, type DirMetaBatch, type EntryProblem, type FoundDir, type WorkerTask,
} from './types.js';
import { XattrCopier } from './xattrs.js';
import { ReadAhead } from './readahead.js';
import { ExactTimes, needsExactTime } from './exact-times.js';

export interface CloneOptions {
  source: string;
  target: string;
  /** Extra exclusion patterns (rsync-style anchoring). */
  excludes?: readonly string[];
  /** Apply /home /mnt /tmp /proc /sys /var (default true). */
  defaultExcludes?: boolean;
  oneFileSystem?: boolean;
  workers?: number;
  /** Entries per batch sent to a worker. */
  batchSize?: number;
  /** Copy into a non-empty target that no earlier clone of this source made. */
  force?: boolean;
  /** Identifies the target across runs for resuming (an image path); defaults to the target directory. */
  resumeKey?: string;
  signal?: AbortSignal;
  onProgress?: (p: CloneProgress) => void;
  /** Inside the workers: synchronous fs calls (default), or asynchronous with this many in flight. */
  asyncInFlight?: number;
  /** Helper threads that read the files of queued batches ahead of the workers (cold caches). */
  readAhead?: number;
  /** Turns an ENOSPC into the target's own message ("image x.img (2 GiB) is full ..."). */
  explainError?: (e: unknown) => DomuError | undefined;
}

export interface CloneProgress {
  phase: 'copy' | 'links' | 'specials' | 'directories' | 'xattrs' | 'times';
  entriesDone: number;
  /** Entries found so far by the walk, and whether it has finished. */
  entriesFound: number;
  walkDone: boolean;
  bytes: number;
  seconds: number;
}

export interface CloneSummary {
  source: string;
  target: string;
  mode: CopyMode;
  /** Entries created in the target, per kind. */
  copied: CopyCounts;
  /** Entries already identical in the target (a rerun), left alone. */
  unchanged: number;
  /** Excluded directories and mount points recreated empty. */
  prunedDirs: Array<{ path: string; reason: 'excluded' | 'other-filesystem' }>;
  bytes: number;
  seconds: number;
  workers: number;
  xattrsSet: number;
  /** Wall time per phase (copy includes the walk). */
  phaseSeconds: Partial<Record<CloneProgress['phase'], number>>;
  /** Entries whose nanosecond times were set in the last pass (python3's os.utime). */
  exactTimes: number;
  warnings: string[];
  /** Sockets and anything else deliberately not copied. */
  skipped: EntryProblem[];
  /** Entries that vanished, grew or shrank during the run. */
  changed: EntryProblem[];
  errors: EntryProblem[];
}

const DEFAULT_BATCH = 256;
/** Read-ahead helper threads (see readahead.ts). */
const DEFAULT_READAHEAD = 2;
/** A scan task takes directories up to this much st_size together (about 1,000 names on ext4)... */
const SCAN_TASK_BYTES = 32 * 1024;
/** ... and at most this many. */
const MAX_DIRS_PER_TASK = 64;
/** A scan copies the files and symlinks it found itself when they are this few; more go back. */
const SCAN_COPIES_AT_MOST = 64;

function isEmptyTarget(dir: string): boolean {
  try {
    return readdirSync(dir).every((n) => n === 'lost+found');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

function cloneRecordPath(key: string): string {
  return `clones/${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`;
}

interface CloneRecord {
  source: string;
  target: string;
  excludes: string[];
  status: 'running' | 'done' | 'interrupted' | 'failed';
  updated: string;
}

/** Check the inputs before touching anything. Returns the resolved paths and the copy mode. */
export function planClone(options: CloneOptions): { source: string; target: string; excludes: ExcludeSet; patterns: string[]; mode: CopyMode; key: string } {
  if (!options.source) throw new DomuError('USAGE', 'a source directory is required');
  if (!options.target) throw new DomuError('USAGE', 'a target directory is required');
  let source: string;
  try {
    source = realpathSync(options.source);
  } catch {
    throw new DomuError('BAD_INPUT', `source ${options.source} does not exist`);
  }
  if (!statSync(source).isDirectory()) throw new DomuError('BAD_INPUT', `source ${options.source} is not a directory`);
  const patterns = [...(options.defaultExcludes === false ? [] : DEFAULT_EXCLUDES), ...(options.excludes ?? [])];
  const excludes = new ExcludeSet(patterns);
  let target = resolve(options.target);
  try {
    target = realpathSync(target);
  } catch {
    /* not there yet: created later */
  }
  try {
    if (lstatSync(target).isDirectory() === false) throw new DomuError('BAD_INPUT', `target ${options.target} exists and is not a directory`);
  } catch (e) {
    if (e instanceof DomuError) throw e;
  }
  if (target === source) throw new DomuError('BAD_INPUT', `target ${options.target} is the source`);
  const rel = relative(source, target);
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) {
    // The target lies inside the source: allowed only when the walk will not enter it.
    const parts = rel.split('/');
    let excluded = false;
    for (let i = 1; i <= parts.length && !excluded; i++) {
      excluded = excludes.matches(parts.slice(0, i).join('/'), parts[i - 1]!, true);
    }
    if (!excluded) {
      throw new DomuError('BAD_INPUT', `target ${options.target} lies inside the source ${options.source}`, {
        hint: `exclude it (or a folder above it), e.g. --exclude /${rel}`,
      });
    }
  }
  const key = options.resumeKey ?? target;
  let mode: CopyMode = 'fresh';
  if (!isEmptyTarget(target)) {
    const rec = readState<CloneRecord>(cloneRecordPath(key));
    const sameJob = rec !== undefined && rec.source === source && JSON.stringify(rec.excludes) === JSON.stringify(patterns);
    if (!sameJob && !options.force) {
      throw new DomuError('BAD_INPUT', `target ${options.target} is not empty`, {
        hint: 'use an empty directory, or --force to copy into it (identical entries are kept, others replaced)',
      });
    }
    mode = 'update';
  }
  return { source, target, excludes, patterns, mode, key };
}

export async function cloneTree(options: CloneOptions): Promise<CloneSummary> {
  const plan = planClone(options);
  const { source, target, mode } = plan;
  const workers = options.workers ?? defaultWorkerCount();
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(workers) || workers < 1) throw new DomuError('USAGE', 'workers must be a positive integer');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DomuError('USAGE', 'batch size must be a positive integer');
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;

  const record = (status: CloneRecord['status']) =>
    writeState(cloneRecordPath(plan.key), { source, target, excludes: plan.patterns, status, updated: new Date().toISOString() } satisfies CloneRecord);
  mkdirSync(target, { recursive: true });
  record('running');

  const summary: CloneSummary = {
    source, target, mode, copied: emptyCounts(), unchanged: 0, prunedDirs: [], bytes: 0, seconds: 0, workers,
    xattrsSet: 0, exactTimes: 0, phaseSeconds: {}, warnings: [], skipped: [], changed: [], errors: [],
  };
  let phase: CloneProgress['phase'] = 'copy';
  let phaseStart = seconds();
  /** Close the current phase's timing and start the next. */
  const enter = (next: CloneProgress['phase']) => {
    const now = seconds();
    summary.phaseSeconds[phase] = (summary.phaseSeconds[phase] ?? 0) + (now - phaseStart);
    phase = next;
    phaseStart = now;
  };
  let entriesDone = 0;
  let entriesFound = 0;
  let walkDone = false;
  let fatal: DomuError | undefined;
  const progress = () =>
    options.onProgress?.({ phase, entriesDone, entriesFound, walkDone, bytes: summary.bytes, seconds: seconds() });

  const xattrs = new XattrCopier(source, target);
  const deferred = new Map<string, string[]>();
  const exactTimes = new ExactTimes(target);
  /** Directories get their exact times last: creating entries inside one changes its mtime. */
  const dirTimes: string[] = [];
  const dirs: DirMetaBatch['dirs'] = [];
  const specials: BatchResult['specials'] = [];
  /** Directories made in the target and still to be read, and files of large directories to hand out. */
  const toScan: Array<{ rel: string; size: number }> = [];
  const entryQueue: Array<{ rels: string[]; kinds: string }> = [];
  let scansInFlight = 0;
  const foundDir = (d: FoundDir) => {
    const atime = BigInt(d.atimeNs);
    const mtime = BigInt(d.mtimeNs);
    dirs.push({ rel: d.rel, uid: d.uid, gid: d.gid, mode: d.mode, atime: utimeArg(atime), mtime: utimeArg(mtime) });
    if (needsExactTime(mtime)) dirTimes.push(d.rel, d.atimeNs, d.mtimeNs);
    if (d.pruned) summary.prunedDirs.push({ path: `/${d.rel}`, reason: d.pruned });
    else toScan.push({ rel: d.rel, size: d.size });
  };
  const onResult = (task: WorkerTask, r: BatchResult) => {
    if (task.op === 'scan') scansInFlight -= 1;
    addCounts(summary.copied, r.copied);
    summary.unchanged += r.unchanged;
    summary.bytes += r.bytes;
    summary.changed.push(...r.changed);
    summary.skipped.push(...r.skipped);
    exactTimes.add(r.exactTimes);
    for (const e of r.errors) {
      if (e.code === 'ENOSPC') fatal ??= targetFull(e.path);
      summary.errors.push(e);
    }
    for (const d of r.deferred) {
      const g = deferred.get(d.key);
      if (g) g.push(d.rel);
      else deferred.set(d.key, [d.rel]);
    }
    // xattrs follow for every name the batch finished: its owner and mode are final
    xattrs.add(r.xattrNames);
    entriesFound += r.listed;
    entriesDone += r.done;
    for (const d of r.dirs) foundDir(d);
    specials.push(...r.specials);
    for (let i = 0; i < r.overflow.rels.length; i += batchSize) {
      const b = { rels: r.overflow.rels.slice(i, i + batchSize), kinds: r.overflow.kinds.slice(i, i + batchSize) };
      entryQueue.push(b);
      readAhead?.read(b.rels, b.kinds);
    }
    progress();
  };
  const targetFull = (path: string): DomuError => {
    const err = Object.assign(new Error(`no space left on device writing ${path}`), { code: 'ENOSPC' });
    return options.explainError?.(err) ?? new DomuError('ENVIRONMENT', `the target is full: no space left on device writing ${path}`);
  };
  // Two helpers by default: /usr cold, 3 interleaved rounds (bench/clone.ts --cold --readahead 0,2),
  // 0.56 of the tar pipe against 0.65 without; DOMU_FORGE_READAHEAD=0 turns them off.
  const readAheadThreads = options.readAhead ?? Number(process.env.DOMU_FORGE_READAHEAD ?? DEFAULT_READAHEAD);
  const readAhead = readAheadThreads > 0 ? new ReadAhead(source, readAheadThreads) : undefined;
  const pool = new CopyPool(workers, onResult);
  const stopped = () => options.signal?.aborted === true || fatal !== undefined;
  const umask = process.umask();

  try {
    const rootSt = lstatSync(source, { bigint: true });
    foundDir(foundDirOf('', rootSt));
    const common = { source, target, mode, umask, exactTimesLater: exactTimes.available, ...(options.asyncInFlight ? { asyncInFlight: options.asyncInFlight } : {}) };
    const scanCommon = { ...common, op: 'scan' as const, excludes: plan.patterns, ...(options.oneFileSystem ? { rootDev: String(rootSt.dev) } : {}) };
    // The workers read the directories. Reading comes first, so the tree's frontier keeps ahead
    // of the copying: up to one scan a worker in flight; files of large directories come back
    // and are handed out in batches, the few files of small directories are copied by the scan.
    while (!stopped()) {
      if (toScan.length > 0 && (scansInFlight < workers || entryQueue.length === 0)) {
        // Depth first (the end of the list); small directories go several to a task, by their size
        // (a directory's st_size grows with its entries on ext4, xfs, btrfs and tmpfs).
        const batch: string[] = [];
        let bytes = 0;
        while (toScan.length > 0 && batch.length < MAX_DIRS_PER_TASK && (batch.length === 0 || bytes + toScan[toScan.length - 1]!.size <= SCAN_TASK_BYTES)) {
          const d = toScan.pop()!;
          batch.push(d.rel);
          bytes += d.size;
        }
        scansInFlight += 1;
        await pool.submit({ ...scanCommon, dirs: batch, keepAtMost: SCAN_COPIES_AT_MOST });
      } else if (entryQueue.length > 0) {
        await pool.submit({ ...common, op: 'entries', ...entryQueue.shift()! });
      } else if (pool.busy > 0) {
        await pool.settleOne();
      } else break;
    }
    walkDone = true;
    await pool.drain();

    if (!stopped() && deferred.size > 0) {
      enter('links');
      let groups: string[][] = [];
      for (const g of deferred.values()) {
        groups.push(g);
        if (groups.length >= Math.max(1, batchSize >> 3)) {
          await pool.submit({ op: 'link-groups', source, target, mode, umask, exactTimesLater: exactTimes.available, groups });
          groups = [];
        }
      }
      if (groups.length > 0) await pool.submit({ op: 'link-groups', source, target, mode, umask, exactTimesLater: exactTimes.available, groups });
      await pool.drain();
    }

    if (!stopped() && specials.length > 0) {
      enter('specials');
      progress();
      // tar does not keep hard links between device nodes: pass one name per inode, link the rest
      const firstOf = new Map<string, string>();
      const links: Array<[string, string]> = [];
      const unique: string[] = [];
      for (const { rel, kind } of specials) {
        const st = lstatSync(joinRoot(source, rel), { bigint: true, throwIfNoEntry: false });
        const key = st && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
        const first = key === undefined ? undefined : firstOf.get(key);
        if (first !== undefined) links.push([first, rel]);
        else {
          if (key !== undefined) firstOf.set(key, rel);
          unique.push(rel);
          summary.copied[kind] += 1;
        }
      }
      summary.warnings.push(...(await copyWithTar(source, target, unique, false)));
      for (const [first, rel] of links) {
        const dst = joinRoot(target, rel);
        try {
          rmSync(dst, { force: true });
          linkSync(joinRoot(target, first), dst);
          summary.copied.hardlink += 1;
        } catch (e) {
          summary.errors.push({ path: rel, code: (e as NodeJS.ErrnoException).code ?? 'EIO', message: oneLine(e) });
        }
      }
    }

    if (!stopped()) {
      // Directory metadata goes last: creating entries inside a directory changes its mtime.
      enter('directories');
      progress();
      for (let i = 0; i < dirs.length; i += batchSize * 4) {
        await pool.submit({ op: 'dir-meta', source, target, dirs: dirs.slice(i, i + batchSize * 4) });
      }
      await pool.drain();
    }
    enter('xattrs');
    progress();
    summary.warnings.push(...(await xattrs.finish()));
    summary.xattrsSet = xattrs.attributesSet;
    enter('times');
    progress();
    if (!stopped()) exactTimes.add(dirTimes);
    summary.warnings.push(...(await exactTimes.finish()));
    summary.exactTimes = exactTimes.count;
  } catch (e) {
    xattrs.kill();
    exactTimes.kill();
    record('failed');
    throw e;
  } finally {
    await pool.close();
    await readAhead?.close();
  }
  enter(phase);
  summary.seconds = seconds();
  if (fatal) {
    record('failed');
    throw fatal;
  }
  if (options.signal?.aborted) {
    record('interrupted');
    throw new DomuError('INTERRUPTED', `interrupted after ${entriesDone} entries; run the same command again to finish the copy`);
  }
  record('done');
  return summary;
}

