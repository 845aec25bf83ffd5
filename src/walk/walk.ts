// The scheduler's walk: read the source tree directory by directory (readdir with file types, so
// no stat per file here), apply the exclusion rules and --one-file-system, and hand each directory's
// children to the caller. Names stay latin1 strings: one char per byte, so nothing is re-encoded.

import { lstatSync, readdirSync, type BigIntStats, type Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { ExcludeSet } from './exclude.js';

/** Directory listings read ahead of the walk, at most. */
const PREFETCH = 16;

export type EntryKind = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface WalkedEntry {
  /** Path relative to the source root, latin1, no leading slash. */
  rel: string;
  kind: EntryKind;
}

export type WalkEvent =
  /** A directory to create in the target; its children come in the events that follow. */
  | { type: 'dir'; rel: string; st: BigIntStats; children: WalkedEntry[] }
  /** An excluded directory, or a mount point under --one-file-system: recreated empty. */
  | { type: 'pruned-dir'; rel: string; st: BigIntStats; reason: 'excluded' | 'other-filesystem' }
  | { type: 'error'; rel: string; code: string; message: string };

export interface WalkOptions {
  source: string;
  excludes: ExcludeSet;
  oneFileSystem: boolean;
  /** Called for every directory before it is read; return false to stop the walk. */
  shouldContinue?: () => boolean;
}

/** Absolute source path of `rel` as a Buffer (byte-exact). */
export function joinRoot(root: string, rel: string): Buffer {
  if (rel === '') return Buffer.from(root, 'latin1');
  return Buffer.from(root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`, 'latin1');
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

function errorEvent(rel: string, e: unknown): WalkEvent {
  const err = e as NodeJS.ErrnoException;
  return { type: 'error', rel, code: err.code ?? 'EIO', message: err.message?.split('\n')[0] ?? String(e) };
}

/**
 * Walk depth-first. A directory's event comes before its subdirectories' events, so the caller
 * can create it in the target first. Yields to the event loop between directories.
 */
export async function* walkSource(options: WalkOptions): AsyncGenerator<WalkEvent> {
  const { source, excludes, oneFileSystem } = options;
  let rootSt: BigIntStats;
  try {
    rootSt = lstatSync(source, { bigint: true });
  } catch (e) {
    yield errorEvent('', e);
    return;
  }
  const rootDev = rootSt.dev;
  const stack: Array<{ rel: string; st: BigIntStats }> = [{ rel: '', st: rootSt }];
  const prefetched = new Map<string, Promise<Dirent[] | Error>>();
  let sinceYield = 0;
  while (stack.length > 0) {
    if (options.shouldContinue && !options.shouldContinue()) return;
    const { rel, st } = stack.pop()!;
    let dirents: Dirent[];
    const ahead = prefetched.get(rel);
    prefetched.delete(rel);
    try {
      if (ahead) {
        const r = await ahead;
        if (r instanceof Error) throw r;
        dirents = r;
      } else dirents = readdirSync(joinRoot(source, rel), { withFileTypes: true, encoding: 'buffer' }) as unknown as Dirent[];
    } catch (e) {
      const ev = errorEvent(rel, e);
      // A directory that vanished is reported like any vanished entry; keep going.
      yield ev;
      continue;
    }
    const children: WalkedEntry[] = [];
    const subdirs: Array<{ rel: string; st: BigIntStats }> = [];
    const pruned: WalkEvent[] = [];
    for (const d of dirents) {
      const name = (d.name as unknown as Buffer).toString('latin1');
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let kind = kindOfDirent(d);
      let childSt: BigIntStats | undefined;
      if (kind === undefined || kind === 'dir') {
        try {
          childSt = lstatSync(joinRoot(source, childRel), { bigint: true });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
            pruned.push({ type: 'error', rel: childRel, code: 'ENOENT', message: 'vanished' });
            continue;
          }
          pruned.push(errorEvent(childRel, e));
          continue;
        }
        kind = kindOfStats(childSt);
      }
      if (excludes.matches(childRel, name, kind === 'dir')) {
        if (kind === 'dir') pruned.push({ type: 'pruned-dir', rel: childRel, st: childSt!, reason: 'excluded' });
        continue;
      }
      if (kind === 'dir') {
        if (oneFileSystem && childSt!.dev !== rootDev) {
          pruned.push({ type: 'pruned-dir', rel: childRel, st: childSt!, reason: 'other-filesystem' });
        } else subdirs.push({ rel: childRel, st: childSt! });
        continue;
      }
      children.push({ rel: childRel, kind });
    }
    yield { type: 'dir', rel, st, children };
    for (const p of pruned) yield p;
    // Reverse so that the depth-first order follows the directory's own order.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    // Read the next directories ahead on libuv's threads: on a cold cache their reads overlap.
    for (let i = stack.length - 1; i >= 0 && prefetched.size < PREFETCH; i--) {
      const next = stack[i]!.rel;
      if (prefetched.has(next)) continue;
      const p = readdir(joinRoot(source, next), { withFileTypes: true, encoding: 'buffer' }).then(
        (d) => d as unknown as Dirent[],
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      prefetched.set(next, p);
    }
    sinceYield += dirents.length + 1;
    if (sinceYield > 2000) {
      sinceYield = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}
