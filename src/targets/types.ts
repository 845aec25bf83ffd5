// The target kinds and what opening and closing one hands back; apart from index.ts so that the
// modules that implement a kind can import these without importing the entry point.

import type { DomuError } from '../errors.js';
import type { CleanupStack } from '../cleanup.js';
import type { UsageHint } from '../walk/usage-hint.js';

export type { UsageHint } from '../walk/usage-hint.js';

export type FsType = 'ext2' | 'ext3' | 'ext4' | 'xfs';
export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';

export interface DirSpec {
  kind: 'dir';
  path: string;
}
export interface ImageSpec {
  kind: 'image';
  path: string;
  /** bytes (whole MiB); estimated from sizeHint when absent */
  size?: number;
  fs: FsType;
  label?: string;
  format: 'raw' | 'qcow2' | 'vmdk';
  /** mount: loop-mount and write (exact); mkfs-d: stage, then mke2fs -d (no mount; whole-second times) */
  populate: 'mount' | 'mkfs-d';
  /** replace an existing file */
  force?: boolean;
  /** extra mkfs arguments (--mkfs-options) */
  mkfsOptions?: string[];
}
export interface LvmSpec {
  kind: 'lvm';
  vg: string;
  lv: string;
  size?: number;
  fs: FsType;
  label?: string;
  /** replace an existing volume */
  force?: boolean;
  mkfsOptions?: string[];
}
export interface DeviceSpec {
  kind: 'device';
  path: string;
  fs: FsType;
  label?: string;
  /** required: the device's contents are destroyed */
  force: boolean;
  mkfsOptions?: string[];
}
export interface TarSpec {
  kind: 'tar';
  path: string;
  compression: Compression;
  /** replace an existing file */
  force?: boolean;
}
export type TargetSpec = DirSpec | ImageSpec | LvmSpec | DeviceSpec | TarSpec;

/** What close() returns, for the summary line and --json. */
export interface TargetSummary {
  kind: TargetSpec['kind'];
  /** the directory, image file, volume or device node, or tarball */
  path: string;
  fs?: FsType;
  label?: string;
  /** the filesystem's UUID (for fstab UUID=...) */
  uuid?: string;
  /** the filesystem's size in bytes (an image's virtual size) */
  size?: number;
  /** whether the size was worked out from the tree rather than given */
  sizeEstimated?: boolean;
  format?: ImageSpec['format'];
  populate?: ImageSpec['populate'];
  compression?: Compression;
  /** bytes the output file takes on the host disk (sparse or compressed) */
  fileBytes?: number;
}

export interface OpenedTarget {
  /** an empty directory to write the tree into (a mount point, a staging directory, or the target directory) */
  root: string;
  spec: TargetSpec;
  /**
   * Paths on the host that this target writes while it is open (the image and its temporary files,
   * the mount point, the staging tree); a `*` matches any characters within a name. A clone of the
   * host must leave them out, or it would copy the target into itself.
   */
  hostPaths?: string[];
  /** the filesystem that is being made, known before the tree is written (fstab can use its UUID or label) */
  filesystem?: { fs: FsType; uuid: string; label?: string };
  /** sync, unmount, detach, mke2fs -d, convert, write the tarball */
  close(): Promise<TargetSummary>;
  /** A one-line DomuError when `e` means the target is full (ENOSPC, EDQUOT), else undefined. */
  explainError(e: unknown): DomuError | undefined;
}

export interface OpenOptions {
  cleanup: CleanupStack;
  /** the tree's disk usage in bytes (du -B1), or that and its entry count; sizes an image given no --size */
  sizeHint?: () => Promise<number | UsageHint>;
  signal?: AbortSignal;
  /** progress lines for the user ("image size 1.2 GiB (...)") */
  log?: (line: string) => void;
}
