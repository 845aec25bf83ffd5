// Sizes of images and volumes: the --size flag (parsed by src/sys/size.ts, the one size parser),
// and estimating an image size from the tree's disk usage plus headroom.

import { DomuError } from '../errors.js';
import type { FsType } from './types.js';
import type { UsageHint } from '../walk/usage-hint.js';

import { GiB, MiB, MAX_SIZE, formatSize, readSize } from '../sys/size.js';

export { KiB, MiB, GiB, TiB, MAX_SIZE, formatSize } from '../sys/size.js';

/** The smallest filesystem each mkfs makes here (mkfs.xfs refuses anything under 300 MiB). */
export const MIN_SIZE: Readonly<Record<FsType, number>> = {
  ext2: 4 * MiB,
  ext3: 4 * MiB,
  ext4: 4 * MiB,
  xfs: 300 * MiB,
};

/**
 * Parse a size as xen-create-image and lvcreate -L take it: a number with an optional binary unit
 * K, M, G or T (optionally followed by "b", "B" or "iB"; case-insensitive). A bare number means MiB,
 * as in `lvcreate -L 4096`. Fractions are allowed ("1.5G"). The result is in bytes, rounded up to a
 * whole MiB.
 */
export function parseSize(text: string, what = '--size'): number {
  const r = readSize(text);
  if ('bytes' in r) return r.bytes;
  if (r.problem === 'zero') throw new DomuError('USAGE', `${what} must be more than zero`);
  if (r.problem === 'too-big') throw new DomuError('USAGE', `${what} ${text} is more than ${formatSize(MAX_SIZE)}`);
  throw new DomuError('USAGE', `${what} ${JSON.stringify(text)} is not a size: use a number with K, M, G or T (4G, 512M; a bare number is MiB)`);
}

/** Check that a size fits the filesystem; returns it. */
export function checkSizeForFs(bytes: number, fs: FsType, what = '--size'): number {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new DomuError('USAGE', `${what} must be a positive whole number of bytes`);
  if (bytes < MIN_SIZE[fs]) {
    throw new DomuError('USAGE', `${what} ${formatSize(bytes)} is too small for ${fs}: the least is ${formatSize(MIN_SIZE[fs])}`);
  }
  if (bytes > MAX_SIZE) throw new DomuError('USAGE', `${what} ${formatSize(bytes)} is more than ${formatSize(MAX_SIZE)}`);
  return bytes;
}

export type { UsageHint } from '../walk/usage-hint.js';

export function normalizeHint(hint: number | UsageHint): UsageHint {
  return typeof hint === 'number' ? { bytes: hint } : hint;
}

/** Bytes per inode mke2fs picks for a filesystem of this size (mke2fs.conf: floppy, small, default). */
export function ext2InodeRatio(size: number): number {
  if (size < 3 * MiB) return 8192;
  if (size < 512 * MiB) return 4096;
  return 16384;
}

/** The journal mke2fs makes (ext2fs_default_journal_size), in bytes, for a 4 KiB-block filesystem. */
function journalBytes(size: number): number {
  if (size < 128 * MiB) return 4 * MiB;
  if (size < 1 * GiB) return 16 * MiB;
  if (size < 2 * GiB) return 32 * MiB;
  if (size < 16 * GiB) return 64 * MiB;
  if (size < 32 * GiB) return 128 * MiB;
  return 1 * GiB;
}

/** Inodes to ask mke2fs for (-N) so that a tree of `inodes` entries fits with room to grow, or undefined if the default is enough. */
export function ext2InodesFor(size: number, inodes: number | undefined): number | undefined {
  if (inodes === undefined) return undefined;
  const wanted = Math.ceil(inodes * 1.25) + 1024;
  return Math.floor(size / ext2InodeRatio(size)) >= wanted ? undefined : wanted;
}

/**
 * The image size for a tree: its usage plus a quarter (at least 64 MiB) of free space for the guest,
 * plus the filesystem's own needs (inode tables, journal or log, the 5% ext reserves for root),
 * rounded up to 64 MiB. Never less than the filesystem's minimum.
 */
export function estimateImageSize(hint: number | UsageHint, fs: FsType): number {
  const { bytes, inodes } = normalizeHint(hint);
  if (!Number.isFinite(bytes) || bytes < 0) throw new DomuError('INTERNAL', `bad size estimate: ${bytes}`);
  const data = bytes + Math.max(bytes / 4, 64 * MiB);
  let size: number;
  if (fs === 'xfs') {
    // xfs: inodes are allocated on demand; the log is at most 64 MiB for images of this range,
    // metadata is a few per cent.
    size = (data + 64 * MiB) / 0.97;
  } else {
    // iterate: the inode-table share and the journal depend on the size itself
    size = data;
    for (let i = 0; i < 4; i++) {
      const ratio = ext2InodeRatio(size);
      const inodeShare = 256 / ratio;
      const extraInodes = ext2InodesFor(size, inodes);
      const journal = fs === 'ext2' ? 0 : journalBytes(size);
      size = (data + journal + (extraInodes ?? 0) * 256) / (1 - 0.05 - inodeShare - 0.01);
    }
  }
  const rounded = Math.ceil(size / (64 * MiB)) * 64 * MiB;
  return Math.max(rounded, MIN_SIZE[fs]);
}
