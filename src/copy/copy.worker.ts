// The worker: one function, a plain batch in, a plain result out. Errors come back as data
// ({ path, code, message }), since an Error subclass loses its name and code across threads.

import {
  chmodSync, linkSync, lchownSync, lstatSync, lutimesSync, mkdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync,
  utimesSync, type BigIntStats,
} from 'node:fs';
import { copyRegular } from './regular.js';
import { needsExactTime } from './exact-times.js';
import { copyEntriesAsync } from './async-entries.js';
import { sameMicros, utimeArg } from './times.js';
import { kindOfStats, scanDirectory, type ScanRules } from '../walk/walk.js';
import { fsPath } from './paths.js';
import { ExcludeSet } from '../walk/exclude.js';
import {
  foundDirOf, newResult, type BatchResult, type CopyBatch, type CopyMode, type DirMetaBatch, type LinkGroupBatch, type ScanBatch,
  type WorkerTask,
} from './types.js';

function vanished(path: string): { path: string; code: string; message: string } {
  return { path, code: 'VANISHED', message: 'vanished before it was copied' };
}

function problem(rel: string, e: unknown): { path: string; code: string; message: string } {
  const err = e as NodeJS.ErrnoException;
  const message = (err?.message ?? String(e)).split('\n')[0]!;
  return { path: rel, code: err?.code ?? 'EIO', message };
}

/** In update mode: make room for a new entry at dst, unless what is there is already identical. */
function existingIsSame(dst: string | Buffer, st: BigIntStats, mode: CopyMode, kind: 'file' | 'symlink', linkTarget?: Buffer): boolean {
  if (mode === 'fresh') return false;
  const cur = lstatSync(dst, { bigint: true, throwIfNoEntry: false });
  if (!cur) return false;
  const same =
    kindOfStats(cur) === kind &&
    cur.size === st.size &&
    cur.uid === st.uid &&
    cur.gid === st.gid &&
    (kind === 'symlink' || cur.mode === st.mode) &&
    sameMicros(cur.mtimeNs, st.mtimeNs) &&
    (kind !== 'symlink' || readlinkSync(dst, { encoding: 'buffer' }).equals(linkTarget!));
  if (same) return true;
  if (cur.isDirectory()) rmSync(dst, { recursive: true, force: true });
  else unlinkSync(dst);
  return false;
}

function copyOne(batch: CopyBatch | LinkGroupBatch, rel: string, out: BatchResult, deferLinks: boolean): BigIntStats | undefined {
  const src = fsPath(batch.source, rel);
  const dst = fsPath(batch.target, rel);
  const st = lstatSync(src, { bigint: true, throwIfNoEntry: false });
  if (!st) {
    out.changed.push(vanished(rel));
    return undefined;
  }
  if (st.isFile()) {
    if (deferLinks && st.nlink > 1n) {
      out.deferred.push({ rel, key: `${st.dev}:${st.ino}` });
      return undefined;
    }
    if (existingIsSame(dst, st, batch.mode, 'file')) {
      out.unchanged += 1;
      // an interrupted run may have stopped before the nanosecond pass
      if (needsExactTime(st.mtimeNs)) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
      return st;
    }
    const exact = needsExactTime(st.mtimeNs);
    const change = copyRegular(src, dst, st, { fresh: batch.mode === 'fresh', umask: batch.umask, timesLater: exact && batch.exactTimesLater === true });
    if (exact) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
    if (change) out.changed.push({ path: rel, code: change.toUpperCase(), message: `${change} while being copied` });
    out.copied.file += 1;
    out.bytes += Number(st.size);
    return st;
  }
  if (st.isSymbolicLink()) {
    const target = readlinkSync(src, { encoding: 'buffer' });
    if (existingIsSame(dst, st, batch.mode, 'symlink', target)) {
      out.unchanged += 1;
      if (needsExactTime(st.mtimeNs)) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
      return st;
    }
    symlinkSync(target, dst);
    if (batch.mode !== 'fresh' || st.uid !== 0n || st.gid !== 0n) lchownSync(dst, Number(st.uid), Number(st.gid));
    const exact = needsExactTime(st.mtimeNs);
    if (!(exact && batch.exactTimesLater)) lutimesSync(dst, utimeArg(st.atimeNs), utimeArg(st.mtimeNs));
    if (exact) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
    out.copied.symlink += 1;
    return st;
  }
  // It changed kind since the walk read its directory.
  out.changed.push({ path: rel, code: 'CHANGED_KIND', message: `became a ${kindOfStats(st)} during the run` });
  return undefined;
}

function copyEntries(batch: CopyBatch, out = newResult()): BatchResult {
  for (const rel of batch.rels) {
    try {
      if (copyOne(batch, rel, out, true)) {
        out.xattrNames.push(rel);
        out.done += 1;
      }
    } catch (e) {
      out.errors.push(problem(rel, e));
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
    }
  }
  return out;
}

/** The asynchronous path reports per kind; derive the names done from what it did not finish
 *  (`r` may hold a scan's other findings too: only the batch's own names are looked up). */
function finishAsync(batch: CopyBatch, r: BatchResult): BatchResult {
  const skip = new Set<string>([...r.deferred.map((d) => d.rel), ...r.errors.map((e) => e.path), ...r.changed.filter((c) => c.code === 'VANISHED' || c.code === 'CHANGED_KIND').map((c) => c.path)]);
  for (const rel of batch.rels) {
    if (!skip.has(rel)) {
      r.xattrNames.push(rel);
      r.done += 1;
    }
  }
  return r;
}

/** Make a directory in the target (mode 0700 until its metadata is applied, last); false when one was there. */
function makeDir(target: string, rel: string): boolean {
  const dst = fsPath(target, rel);
  try {
    mkdirSync(dst, { mode: 0o700 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const cur = lstatSync(dst);
    if (cur.isDirectory()) return false;
    // never write through what is there: a symlink or file where a directory belongs goes
    unlinkSync(dst);
    mkdirSync(dst, { mode: 0o700 });
    return true;
  }
}

/** In update mode, a device node or fifo already identical in the target is left alone. */
function specialIsSame(batch: ScanBatch, rel: string): boolean {
  if (batch.mode === 'fresh') return false;
  const a = lstatSync(fsPath(batch.source, rel), { bigint: true, throwIfNoEntry: false });
  const b = lstatSync(fsPath(batch.target, rel), { bigint: true, throwIfNoEntry: false });
  return a !== undefined && b !== undefined && a.mode === b.mode && a.rdev === b.rdev && a.uid === b.uid && a.gid === b.gid && sameMicros(a.mtimeNs, b.mtimeNs);
}

let rulesKey = '';
let rules: ScanRules | undefined;

function scanRules(batch: ScanBatch): ScanRules {
  const key = `${batch.rootDev ?? ''}\0${batch.excludes.join('\0')}`;
  if (!rules || key !== rulesKey) {
    rules = { excludes: new ExcludeSet(batch.excludes), ...(batch.rootDev !== undefined ? { rootDev: BigInt(batch.rootDev) } : {}) };
    rulesKey = key;
  }
  return rules;
}

/**
 * Read the batch's directories, make their subdirectories in the target, then copy their files
 * and symlinks here when there are at most keepAtMost; otherwise they go back with the
 * subdirectories to enter, to be shared out in batches.
 */
function scanDirs(batch: ScanBatch): BatchResult | Promise<BatchResult> {
  const out = newResult();
  const r = scanRules(batch);
  const rels: string[] = [];
  let kinds = '';
  for (const dir of batch.dirs) {
    let listing;
    try {
      listing = scanDirectory(batch.source, dir, r);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') out.changed.push(vanished(dir || '.'));
      else out.errors.push(problem(dir || '.', e));
      continue;
    }
    out.listed += listing.count;
    for (const p of listing.problems) {
      if (p.code === 'ENOENT') out.changed.push(vanished(p.rel));
      else out.errors.push({ path: p.rel, code: p.code, message: p.message });
    }
    const found: Array<{ rel: string; st: BigIntStats; reason?: 'excluded' | 'other-filesystem' }> = [...listing.subdirs, ...listing.pruned];
    for (const d of found) {
      try {
        if (makeDir(batch.target, d.rel)) out.copied.dir += 1;
        else out.unchanged += 1;
      } catch (e) {
        out.errors.push(problem(d.rel, e));
        continue;
      }
      out.dirs.push(foundDirOf(d.rel, d.st, d.reason));
    }
    for (const { rel, kind } of listing.entries) {
      if (kind === 'file' || kind === 'symlink') {
        rels.push(rel);
        kinds += kind === 'file' ? 'f' : 'l';
      } else if (kind === 'socket') {
        out.skipped.push({ path: rel, code: 'SOCKET', message: 'unix socket not copied (it is recreated by whatever listens on it)' });
      } else {
        try {
          if (specialIsSame(batch, rel)) out.unchanged += 1;
          else out.specials.push({ rel, kind: kind as 'chardev' | 'blockdev' | 'fifo' });
        } catch (e) {
          out.errors.push(problem(rel, e));
        }
      }
    }
  }
  const keep = rels.length <= batch.keepAtMost ? rels.length : 0;
  out.overflow = { rels: rels.slice(keep), kinds: kinds.slice(keep) };
  const mine: CopyBatch = { ...batch, op: 'entries', rels: rels.slice(0, keep), kinds: kinds.slice(0, keep) };
  return copyFiles(mine, out);
}

/** Files and symlinks: synchronous calls, or asynchronous ones when asked (fresh targets only). */
function copyFiles(batch: CopyBatch, out = newResult()): BatchResult | Promise<BatchResult> {
  if (batch.asyncInFlight && batch.mode === 'fresh') return copyEntriesAsync(batch, batch.asyncInFlight, out).then((r) => finishAsync(batch, r));
  return copyEntries(batch, out);
}

function copyLinkGroups(batch: LinkGroupBatch): BatchResult {
  const out = newResult();
  for (const group of batch.groups) {
    const [first, ...rest] = group as [string, ...string[]];
    let firstSt: BigIntStats | undefined;
    try {
      firstSt = copyOne(batch, first, out, false);
    } catch (e) {
      out.errors.push(problem(first, e));
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
    }
    if (!firstSt) continue;
    out.xattrNames.push(first);
    out.done += group.length;
    const firstDst = fsPath(batch.target, first);
    const firstIno = lstatSync(firstDst, { bigint: true }).ino;
    for (const rel of rest) {
      try {
        const dst = fsPath(batch.target, rel);
        const cur = lstatSync(dst, { bigint: true, throwIfNoEntry: false });
        if (cur && cur.ino === firstIno) {
          out.unchanged += 1;
          continue;
        }
        if (cur) {
          if (cur.isDirectory()) rmSync(dst, { recursive: true, force: true });
          else unlinkSync(dst);
        }
        linkSync(firstDst, dst);
        out.copied.hardlink += 1;
      } catch (e) {
        out.errors.push(problem(rel, e));
      }
    }
  }
  return out;
}

function applyDirMeta(batch: DirMetaBatch): BatchResult {
  const out = newResult();
  for (const d of batch.dirs) {
    const dst = fsPath(batch.target, d.rel);
    try {
      lchownSync(dst, d.uid, d.gid);
      chmodSync(dst, d.mode & 0o7777);
      utimesSync(dst, d.atime, d.mtime);
      out.xattrNames.push(d.rel);
    } catch (e) {
      out.errors.push(problem(d.rel, e));
    }
  }
  return out;
}

export default function copyBatch(task: WorkerTask): BatchResult | Promise<BatchResult> {
  switch (task.op) {
    case 'entries':
      return copyFiles(task);
    case 'scan':
      return scanDirs(task);
    case 'link-groups':
      return copyLinkGroups(task);
    case 'dir-meta':
      return applyDirMeta(task);
  }
}
