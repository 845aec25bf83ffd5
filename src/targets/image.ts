// Image file targets: a sparse file with a filesystem, populated either through a loop mount
// (exact) or from a staging tree with `mke2fs -d` (no mount; whole-second timestamps), then
// converted to qcow2/VMDK if asked, and renamed into place only when complete.

import { chmod, lstat, mkdtemp, open, rename, rm, stat, statfs } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { DomuError, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import type { ImageSpec, OpenOptions, OpenedTarget, TargetSummary, UsageHint } from './types.js';
import { checkFsType, checkLabel, isExt, makeFilesystem } from './mkfs.js';
import { MiB, checkSizeForFs, estimateImageSize, ext2InodesFor, formatSize, normalizeHint } from './size.js';
import { attachLoop, removeStagingTree } from './system.js';
import { mountForPopulate } from './mounted.js';
import { convertRaw, partialName } from './disk-format.js';
import { fullTargetError } from './errors.js';

/** Refuse an output path that exists (unless force), is a directory, or sits in a missing directory. */
export async function checkOutputFile(path: string, force: boolean, flag: string): Promise<void> {
  const dir = dirname(path);
  const dst = await stat(dir).catch(() => undefined);
  if (!dst?.isDirectory()) throw new DomuError('BAD_INPUT', `${dir} is not an existing directory (for ${flag} ${path})`);
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory()) throw new DomuError('BAD_INPUT', `${path} is a directory; ${flag} takes a file name`);
  if (st.isBlockDevice()) throw new DomuError('BAD_INPUT', `${path} is a block device; use --device to write onto it`);
  if (!force) throw new DomuError('BAD_INPUT', `${path} exists; add --force to replace it`);
  if (!st.isFile() && !st.isSymbolicLink()) throw new DomuError('BAD_INPUT', `${path} exists and is not a regular file`);
}

/** Create an empty sparse file of `size` bytes that only its owner can read (an image holds the guest's secrets). */
async function createSparse(file: string, size: number): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

/** The disk usage of a staged tree (du), for sizing a mke2fs -d image. */
async function measureTree(dir: string): Promise<UsageHint> {
  const bytes = Number((await runTool('du', ['-s', '-B1', '--', dir])).stdout.toString().split(/\s/)[0]);
  const inodes = Number((await runTool('du', ['-s', '--inodes', '--', dir])).stdout.toString().split(/\s/)[0]);
  return { bytes, inodes };
}

/**
 * mke2fs -d gives the root inode its own mode, owner and times; set them from the staged root
 * (debugfs, on the unmounted image), to the nanosecond.
 */
async function copyRootInode(image: string, staged: string): Promise<void> {
  const st = await stat(staged, { bigint: true });
  const lines = [`sif <2> mode 0${st.mode.toString(8)}`, `sif <2> uid ${st.uid}`, `sif <2> gid ${st.gid}`];
  for (const [field, ns] of [['atime', st.atimeNs], ['mtime', st.mtimeNs]] as const) {
    let sec = ns / 1_000_000_000n;
    let nsec = ns % 1_000_000_000n;
    if (nsec < 0n) {
      nsec += 1_000_000_000n;
      sec -= 1n;
    }
    // ext4's extra field: nanoseconds << 2, plus two epoch bits extending the signed 32-bit seconds
    const lo = BigInt.asIntN(32, sec);
    const epoch = ((sec - lo) >> 32n) & 3n;
    lines.push(`sif <2> ${field} @${lo}`, `sif <2> ${field}_extra ${(nsec << 2n) | epoch}`);
  }
  const r = await runTool('debugfs', ['-w', '-f', '-', image], { input: `${lines.join('\n')}\n`, allowFailure: true });
  const problems = r.stderr.split('\n').filter((l) => l.trim() && !/^debugfs \d/.test(l));
  if (r.status !== 0 || problems.length > 0) {
    throw new DomuError('INTERNAL', `debugfs could not set the root directory's attributes: ${oneLine(problems.join('\n') || r.stderr)}`);
  }
}

function summaryBase(spec: ImageSpec, path: string): Omit<TargetSummary, 'size'> {
  return { kind: 'image', path, fs: spec.fs, format: spec.format, populate: spec.populate, ...(spec.label !== undefined ? { label: spec.label } : {}) };
}

export async function openImage(spec: ImageSpec, opts: OpenOptions): Promise<OpenedTarget> {
  const { cleanup, signal, log } = opts;
  const path = resolve(spec.path);
  const fs = checkFsType(spec.fs);
  checkLabel(spec.label, fs);
  if (spec.populate === 'mkfs-d' && !isExt(fs)) {
    throw new DomuError('USAGE', '--populate mkfs-d makes ext2, ext3 or ext4 only; use --populate mount for xfs');
  }
  if (spec.populate !== 'mount' && spec.populate !== 'mkfs-d') throw new DomuError('USAGE', `--populate must be mount or mkfs-d`);
  if (!['raw', 'qcow2', 'vmdk'].includes(spec.format)) throw new DomuError('USAGE', '--format must be raw, qcow2 or vmdk');
  if (spec.size !== undefined) checkSizeForFs(spec.size, fs);
  await checkOutputFile(path, spec.force ?? false, '--image');
  const uuid = randomUUID();
  const raw = partialName(path, 'raw');
  let dropRaw = (): void => undefined;
  /** Create the sparse file, with its removal on the stack until it is renamed into place. */
  const createRaw = async (sz: number): Promise<void> => {
    dropRaw = cleanup.push(`remove half-made image ${raw}`, () => rm(raw, { force: true }));
    await createSparse(raw, sz);
  };
  let size = spec.size;
  let sizeEstimated = false;

  const decideSize = async (measure: () => Promise<UsageHint | undefined>): Promise<{ size: number; inodes?: number }> => {
    if (size !== undefined) {
      // a given size: still make sure a staged tree gets enough inodes
      const usage = spec.populate === 'mkfs-d' ? await measure() : undefined;
      const inodes = usage && isExt(fs) ? ext2InodesFor(size, usage.inodes) : undefined;
      await checkHostSpace(size, usage);
      return inodes === undefined ? { size } : { size, inodes };
    }
    const usage = await measure();
    if (!usage) throw new DomuError('USAGE', `give --size for ${path}: there is nothing to estimate it from`);
    size = estimateImageSize(usage, fs);
    sizeEstimated = true;
    log?.(`image size ${formatSize(size)} (${formatSize(usage.bytes)} of data plus headroom)`);
    await checkHostSpace(size, usage);
    const inodes = isExt(fs) ? ext2InodesFor(size, usage.inodes) : undefined;
    return inodes === undefined ? { size } : { size, inodes };
  };

  /**
   * The image is sparse, so the host disk fills only as the tree is written; when it fills, the
   * loop device sees I/O errors, not ENOSPC. Refuse when the tree clearly cannot fit; warn when the
   * image could outgrow the free space.
   */
  const checkHostSpace = async (sz: number, usage: UsageHint | undefined): Promise<void> => {
    const st = await statfs(dirname(path));
    const free = st.bavail * st.bsize;
    if (usage && free < usage.bytes + 64 * MiB) {
      throw new DomuError('ENVIRONMENT', `the disk holding ${dirname(path)} has ${formatSize(free)} free; the tree needs about ${formatSize(usage.bytes)}`);
    }
    if (free < sz) log?.(`warning: the disk holding ${dirname(path)} has ${formatSize(free)} free; the sparse image can grow to ${formatSize(sz)}`);
  };

  const finishImage = async (): Promise<TargetSummary> => {
    if (spec.format !== 'raw') {
      const out = partialName(path, spec.format);
      const dropOut = cleanup.push(`remove half-made ${out}`, () => rm(out, { force: true }));
      log?.(`converting to ${spec.format}`);
      await convertRaw(raw, out, spec.format, signal);
      await chmod(out, 0o600);
      await rm(raw, { force: true });
      await rename(out, path);
      dropOut();
    } else {
      await rename(raw, path);
    }
    dropRaw();
    const st = await stat(path);
    return { ...summaryBase(spec, path), size: size!, sizeEstimated, uuid, fileBytes: st.blocks * 512 };
  };

  const explainError = (e: unknown) => fullTargetError(e, `image ${path}`, size);

  if (spec.populate === 'mount') {
    const { size: sz, inodes } = await decideSize(async () => (opts.sizeHint ? normalizeHint(await opts.sizeHint()) : undefined));
    await createRaw(sz);
    log?.(`making ${fs} on ${path} (${formatSize(sz)})`);
    await makeFilesystem(fs, raw, { label: spec.label, uuid, inodes, extra: spec.mkfsOptions, signal }).catch((e: unknown) => {
      throw fullTargetError(e, `image ${path}`, sz) ?? e;
    });
    const loop = await attachLoop(raw, cleanup, signal);
    const mounted = await mountForPopulate(loop.device, fs, cleanup, signal);
    return {
      root: mounted.root,
      spec,
      hostPaths: [path, raw, join(dirname(path), `.${basename(path)}.domu-forge-*`), mounted.root],
      filesystem: { fs, uuid, ...(spec.label !== undefined ? { label: spec.label } : {}) },
      explainError,
      close: async () => {
        await mounted.finish();
        await loop.detach();
        return finishImage();
      },
    };
  }

  // mkfs-d: stage beside the image (same filesystem, where the space is), build at close
  const staging = await mkdtemp(join(dirname(path), `.${basename(path)}.domu-forge-staging-`));
  const dropStaging = cleanup.push(`remove staging tree ${staging}`, () => removeStagingTree(staging));
  return {
    root: staging,
    spec,
    hostPaths: [path, staging, raw, join(dirname(path), `.${basename(path)}.domu-forge-*`)],
    filesystem: { fs, uuid, ...(spec.label !== undefined ? { label: spec.label } : {}) },
    // while the tree is written, it goes to the host's disk; the image itself is made at close
    explainError: (e) => fullTargetError(e, `the staging tree for image ${path}`, undefined),
    close: async () => {
      const { size: sz, inodes } = await decideSize(() => measureTree(staging));
      await createRaw(sz);
      log?.(`making ${fs} on ${path} (${formatSize(sz)}) from the staged tree`);
      try {
        await makeFilesystem(fs, raw, { label: spec.label, uuid, inodes, fromDir: staging, extra: spec.mkfsOptions, signal });
      } catch (e) {
        throw fullTargetError(e, `image ${path}`, sz) ?? e;
      }
      await copyRootInode(raw, staging);
      await removeStagingTree(staging);
      dropStaging();
      return finishImage();
    },
  };
}

/**
 * A swap file of `size` bytes, 0600 from its first byte (swapped-out guest memory holds its secrets;
 * `truncate` under a 022 umask would make it 0644), formatted with mkswap. An existing file is replaced.
 */
export async function makeSwapFile(path: string, size: number, label?: string): Promise<void> {
  await rm(path, { force: true });
  await createSparse(path, size);
  await runTool('mkswap', [...(label ? ['-L', label.slice(0, 16)] : []), path]);
}
