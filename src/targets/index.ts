// Where a tree goes: a directory, an image file, an LVM volume, an existing block device, or a
// tarball. openTarget() hands out an empty directory to write the tree into; close() finishes the
// target (sync, unmount, detach, mke2fs -d, convert, write the tarball) and returns a summary.
// Every mount, loop device, volume and half-made file is pushed on the caller's CleanupStack.

import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { openImage, checkOutputFile } from './image.js';
import { openLvm } from './lvm.js';
import { openDevice } from './device.js';
import { removeStagingTree } from './system.js';
import { fullTargetError } from './errors.js';
import { writeTarball } from '../tar/index.js';

export type * from './types.js';
import type { DirSpec, OpenOptions, OpenedTarget, TarSpec, TargetSpec } from './types.js';

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

/** A tarball target: a staging directory beside the file; close() writes the tarball and renames it into place. */
async function openTar(spec: TarSpec, opts: OpenOptions): Promise<OpenedTarget> {
  const path = resolve(spec.path);
  if (!['none', 'gzip', 'xz', 'zstd'].includes(spec.compression)) throw new DomuError('USAGE', '--compress must be none, gzip, xz or zstd');
  await checkOutputFile(path, spec.force ?? false, '--tar');
  const staging = await mkdtemp(join(dirname(path), `.${basename(path)}.domu-forge-staging-`));
  const dropStaging = opts.cleanup.push(`remove staging tree ${staging}`, () => removeStagingTree(staging));
  return {
    root: staging,
    spec,
    hostPaths: [staging, path, join(dirname(path), `.${basename(path)}.partial-*`)],
    explainError: (e) => fullTargetError(e, `tarball ${path}`, undefined),
    close: async () => {
      // writeTarball writes beside `path` and renames into place itself
      await writeTarball(staging, path, { compression: spec.compression, ...(opts.signal ? { signal: opts.signal } : {}) });
      await removeStagingTree(staging);
      dropStaging();
      const st = await stat(path);
      return { kind: 'tar', path, compression: spec.compression, fileBytes: st.size };
    },
  };
}

export { parseSize, estimateImageSize, formatSize } from './size.js';
export { checkFilesystem } from './mkfs.js';
export { makeSwapFile } from './image.js';
export { importDisk, type ImportDiskOptions, type ImportDiskSummary } from './disk-format.js';
