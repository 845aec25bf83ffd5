// Where a tree goes: a directory, an image file, an LVM volume, an existing block device, or a
// tarball. openTarget() hands out an empty directory to write the tree into; close() finishes the
// target (sync, unmount, detach, mke2fs -d, convert, write the tarball) and returns a summary.
// Every mount, loop device, volume and half-made file is pushed on the caller's CleanupStack.

import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import type { CleanupStack } from '../build/cleanup.js';
import type { UsageHint } from './size.js';
import { openImage, checkOutputFile } from './image.js';
import { openLvm } from './lvm.js';
import { openDevice } from './device.js';
import { removeStagingTree } from './system.js';
import { fullTargetError } from './errors.js';

export type { UsageHint } from './size.js';

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

/** Open a target to write a tree into. Throws DomuError on bad input; the caller runs `cleanup` on any error. */
export async function openTarget(spec: TargetSpec, opts: OpenOptions): Promise<OpenedTarget> {
  if (opts.signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
  switch (spec.kind) {
    case 'dir':
      return openDir(spec);
    case 'image':
      return openImage(spec, opts);
    case 'lvm':
      return openLvm(spec, opts);
    case 'device':
      return openDevice(spec, opts);
    case 'tar':
      return openTar(spec, opts);
    default:
      throw new DomuError('INTERNAL', `unknown target kind ${(spec as { kind: string }).kind}`);
  }
}

/** A short name for messages: "image /srv/x.img", "volume vg0/web". */
export function describeTarget(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'dir':
      return `directory ${spec.path}`;
    case 'image':
      return `image ${spec.path}`;
    case 'lvm':
      return `volume ${spec.vg}/${spec.lv}`;
    case 'device':
      return `device ${spec.path}`;
    case 'tar':
      return `tarball ${spec.path}`;
  }
}

/** A directory target: made if missing; what is already in it is the clone's business. */
async function openDir(spec: DirSpec): Promise<OpenedTarget> {
  const path = resolve(spec.path);
  const st = await stat(path).catch((e: unknown) => {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new DomuError('BAD_INPUT', `${path}: ${oneLine(e)}`);
  });
  if (st && !st.isDirectory()) throw new DomuError('BAD_INPUT', `${path} exists and is not a directory`);
  if (!st) await mkdir(path, { recursive: true, mode: 0o755 });
  return {
    root: path,
    spec,
    hostPaths: [path],
    explainError: (e) => fullTargetError(e, `directory ${path}`, undefined),
    close: async () => ({ kind: 'dir', path }),
  };
}

interface TarOutModule {
  writeTarball(root: string, file: string, options: { compression: Compression; signal?: AbortSignal }): Promise<unknown>;
}

/** Load the tarball writer (src/targets/tar-out.ts) when it is there. */
async function loadTarOut(): Promise<TarOutModule> {
  // not a static import: the writer is another module's, and this builds without it
  const url = new URL('./tar-out.js', import.meta.url).href;
  try {
    return (await import(url)) as TarOutModule;
  } catch (e) {
    if (errnoCode(e) === 'ERR_MODULE_NOT_FOUND') throw new DomuError('INTERNAL', 'tar target needs tar-out (src/targets/tar-out.ts is not built yet)');
    throw e;
  }
}

/** A tarball target: a staging directory beside the file; close() writes the tarball and renames it into place. */
async function openTar(spec: TarSpec, opts: OpenOptions): Promise<OpenedTarget> {
  const path = resolve(spec.path);
  if (!['none', 'gzip', 'xz', 'zstd'].includes(spec.compression)) throw new DomuError('USAGE', '--compress must be none, gzip, xz or zstd');
  await checkOutputFile(path, spec.force ?? false, '--tar');
  const tarOut = await loadTarOut();
  const staging = await mkdtemp(join(dirname(path), `.${basename(path)}.domu-forge-staging-`));
  const dropStaging = opts.cleanup.push(`remove staging tree ${staging}`, () => removeStagingTree(staging));
  return {
    root: staging,
    spec,
    hostPaths: [staging, path, join(dirname(path), `.${basename(path)}.partial-*`)],
    explainError: (e) => fullTargetError(e, `tarball ${path}`, undefined),
    close: async () => {
      // writeTarball writes beside `path` and renames into place itself
      await tarOut.writeTarball(staging, path, { compression: spec.compression, ...(opts.signal ? { signal: opts.signal } : {}) });
      await removeStagingTree(staging);
      dropStaging();
      const st = await stat(path);
      return { kind: 'tar', path, compression: spec.compression, fileBytes: st.size };
    },
  };
}

export { parseSize, estimateImageSize, formatSize } from './size.js';
export { checkFilesystem } from './mkfs.js';
export { importDisk, type ImportDiskOptions, type ImportDiskSummary } from './disk-format.js';
