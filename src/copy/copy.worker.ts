// The worker: one function, a plain batch in, a plain result out. Errors come back as data
// ({ path, code, message }), since an Error subclass loses its name and code across threads.

import {
  chmodSync, linkSync, lchownSync, lstatSync, lutimesSync, readlinkSync, rmSync, symlinkSync, unlinkSync,
  utimesSync, type BigIntStats,
} from 'node:fs';
import { copyRegular } from './regular.js';
import { needsExactTime } from './exact-times.js';
import { copyEntriesAsync } from './async-entries.js';
import { sameMicros, utimeArg } from './times.js';
import { joinRoot, kindOfStats } from '../walk/walk.js';
import {
  emptyCounts, type BatchResult, type CopyBatch, type CopyMode, type DirMetaBatch, type LinkGroupBatch, type WorkerTask,
} from './types.js';

function newResult(): BatchResult {
  return { copied: emptyCounts(), unchanged: 0, bytes: 0, deferred: [], errors: [], changed: [], exactTimes: [] };
}

function problem(rel: string, e: unknown): { path: string; code: string; message: string } {
  const err = e as NodeJS.ErrnoException;
  const message = (err?.message ?? String(e)).split('\n')[0]!;
  return { path: rel, code: err?.code ?? 'EIO', message };
}

/** In update mode: make room for a new entry at dst, unless what is there is already identical. */
function existingIsSame(dst: Buffer, st: BigIntStats, mode: CopyMode, kind: 'file' | 'symlink', linkTarget?: Buffer): boolean {
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
  const src = joinRoot(batch.source, rel);
  const dst = joinRoot(batch.target, rel);
  const st = lstatSync(src, { bigint: true, throwIfNoEntry: false });
  if (!st) {
    out.changed.push({ path: rel, code: 'VANISHED', message: 'vanished before it was copied' });
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
    const change = copyRegular(src, dst, st, { fresh: batch.mode === 'fresh', umask: batch.umask });
    if (needsExactTime(st.mtimeNs)) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
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
    lutimesSync(dst, utimeArg(st.atimeNs), utimeArg(st.mtimeNs));
    if (needsExactTime(st.mtimeNs)) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
    out.copied.symlink += 1;
    return st;
  }
  // It changed kind since the walk read its directory.
  out.changed.push({ path: rel, code: 'CHANGED_KIND', message: `became a ${kindOfStats(st)} during the run` });
  return undefined;
}

function copyEntries(batch: CopyBatch): BatchResult {
  const out = newResult();
  for (const rel of batch.rels) {
    try {
      copyOne(batch, rel, out, true);
    } catch (e) {
      out.errors.push(problem(rel, e));
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
    }
  }
  return out;
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
    const firstDst = joinRoot(batch.target, first);
    const firstIno = lstatSync(firstDst, { bigint: true }).ino;
    for (const rel of rest) {
      try {
        const dst = joinRoot(batch.target, rel);
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
    const dst = joinRoot(batch.target, d.rel);
    try {
      lchownSync(dst, d.uid, d.gid);
      chmodSync(dst, d.mode & 0o7777);
      utimesSync(dst, d.atime, d.mtime);
    } catch (e) {
      out.errors.push(problem(d.rel, e));
    }
  }
  return out;
}

export default function copyBatch(task: WorkerTask): BatchResult | Promise<BatchResult> {
  switch (task.op) {
    case 'entries':
      if (task.asyncInFlight && task.mode === 'fresh') return copyEntriesAsync(task, task.asyncInFlight);
      return copyEntries(task);
    case 'link-groups':
      return copyLinkGroups(task);
    case 'dir-meta':
      return applyDirMeta(task);
  }
}
