// The walk, one directory at a time: read a directory of the source (readdir with file types, so
// no stat per file here), apply the exclusion rules and --one-file-system, and classify its
// children. The clone's workers call it, each on the directories the scheduler hands out, so the
// reads of a cold tree overlap. Names stay latin1 strings: one char per byte, nothing re-encoded.

import { lstatSync, readdirSync, type BigIntStats, type Dirent } from 'node:fs';
import type { ExcludeSet } from './exclude.js';

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
    if (rules.excludes.matches(childRel, name, kind === 'dir')) {
      if (kind === 'dir') out.pruned.push({ rel: childRel, st: st!, reason: 'excluded' });
      continue;
    }
    if (kind === 'dir') {
      if (rules.rootDev !== undefined && st!.dev !== rules.rootDev) out.pruned.push({ rel: childRel, st: st!, reason: 'other-filesystem' });
      else out.subdirs.push({ rel: childRel, st: st! });
      continue;
    }
    out.entries.push({ rel: childRel, kind });
  }
  return out;
}
