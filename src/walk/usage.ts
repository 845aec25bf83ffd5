// What a tree will need on its target, by one rule for every source (a tree, a tarball): each
// entry takes one 4 KiB block, a regular file its data rounded up to whole blocks. Sizes an image
// or volume when no --size is given.

import { ExcludeSet } from './exclude.js';
import { walkTree, type EntryKind } from './walk.js';

/** The block the rule counts in: ext4's and xfs's default. */
export const USAGE_BLOCK = 4096;

/** What a tree needs: bytes on the target and entries (inodes). Fits the targets' UsageHint. */
export interface TreeUsage {
  bytes: number;
  inodes: number;
}

/** What one entry takes: a regular file its data in whole blocks (none when empty), anything else one block. */
export function entryUsage(kind: EntryKind, size: number | bigint): number {
  if (kind !== 'file') return USAGE_BLOCK;
  return Math.ceil(Number(size) / USAGE_BLOCK) * USAGE_BLOCK;
}

/**
 * The same rule when only totals are known (a tarball's check gives its file bytes and entry
 * count): an upper bound, since rounding a file up adds less than one block.
 */
export function usageOfTotals(fileBytes: number, entries: number): TreeUsage {
  return { bytes: fileBytes + entries * USAGE_BLOCK, inodes: entries };
}

export interface TreeUsageOptions {
  excludes: ExcludeSet;
  oneFileSystem?: boolean;
}

/** Bytes and inodes a tree needs under the rules (a pruned directory counts: it is recreated empty). */
export function treeUsage(root: string, options: TreeUsageOptions): TreeUsage {
  let bytes = 0;
  let inodes = 0;
  for (const e of walkTree(root, { excludes: options.excludes, oneFileSystem: options.oneFileSystem ?? false })) {
    bytes += entryUsage(e.kind, e.st.size);
    inodes++;
  }
  return { bytes, inodes };
}

/** treeUsage() for a source and exclude patterns, as clone's size hint wants it. */
export async function estimateUsage(source: string, patterns: readonly string[], oneFileSystem: boolean): Promise<TreeUsage> {
  return treeUsage(source, { excludes: new ExcludeSet(patterns), oneFileSystem });
}
