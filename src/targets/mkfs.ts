// Making and checking filesystems: mke2fs for ext2/ext3/ext4 (ext3 is the seed's `mke2fs -j`),
// mkfs.xfs for xfs, e2fsck -fn / xfs_repair -n to check them.

import { DomuError, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import type { FsType } from './types.js';

export const FS_TYPES: readonly FsType[] = ['ext2', 'ext3', 'ext4', 'xfs'];

export function isExt(fs: FsType): boolean {
  return fs !== 'xfs';
}

/** Longest label each filesystem stores, in bytes. */
export const LABEL_MAX: Readonly<Record<FsType, number>> = { ext2: 16, ext3: 16, ext4: 16, xfs: 12 };

export function checkFsType(fs: unknown, what = '--fs'): FsType {
  if (typeof fs === 'string' && (FS_TYPES as readonly string[]).includes(fs)) return fs as FsType;
  throw new DomuError('USAGE', `${what} ${JSON.stringify(fs)} is not one of ${FS_TYPES.join(', ')}`);
}

export function checkLabel(label: string | undefined, fs: FsType): string | undefined {
  if (label === undefined) return undefined;
  if (label === '') throw new DomuError('USAGE', '--label must not be empty');
  if (/[\x00-\x1f\x7f]/.test(label)) throw new DomuError('USAGE', '--label must not hold control characters');
  const n = Buffer.byteLength(label);
  if (n > LABEL_MAX[fs]) {
    throw new DomuError('USAGE', `--label ${JSON.stringify(label)} is ${n} bytes; ${fs} labels hold at most ${LABEL_MAX[fs]}`);
  }
  return label;
}

export interface MkfsOptions {
  label?: string;
  uuid: string;
  /** ext only: the number of inodes (-N), when the default is too few for the tree */
  inodes?: number;
  /** ext only: populate from this directory (mke2fs -d) */
  fromDir?: string;
  /** extra arguments from the user (--mkfs-options), placed before the device */
  extra?: readonly string[];
  signal?: AbortSignal;
}

/** The command that makes `fs` on `target` (a block device or an image file). */
export function mkfsCommand(fs: FsType, target: string, o: MkfsOptions): { tool: string; args: string[] } {
  if (isExt(fs)) {
    // -F: the target is ours (a fresh file or volume, or a device the user forced after our checks)
    const args = ['-F', '-q', '-t', fs, '-U', o.uuid];
    if (o.label !== undefined) args.push('-L', o.label);
    if (o.inodes !== undefined) args.push('-N', String(o.inodes));
    if (o.fromDir !== undefined) args.push('-d', o.fromDir);
    args.push(...(o.extra ?? []), target);
    return { tool: 'mke2fs', args };
  }
  if (o.fromDir !== undefined) throw new DomuError('USAGE', 'xfs cannot be populated without a mount here: use --populate mount');
  const args = ['-f', '-q', '-m', `uuid=${o.uuid}`];
  if (o.label !== undefined) args.push('-L', o.label);
  args.push(...(o.extra ?? []), target);
  return { tool: 'mkfs.xfs', args };
}

/**
 * Make the filesystem. mke2fs -d failing for lack of room is reported as ENOSPC, so that the
 * caller can say the image is too small.
 */
export async function makeFilesystem(fs: FsType, target: string, o: MkfsOptions): Promise<void> {
  const { tool, args } = mkfsCommand(fs, target, o);
  const r = await runTool(tool, args, { allowFailure: true, ...(o.signal ? { signal: o.signal } : {}) });
  if (r.status === 0) return;
  const why = oneLine(r.stderr) || `exit status ${r.status}`;
  if (/Could not allocate block|No space left|Could not allocate inode|ENOSPC|Inode table .* too small|too many inodes/i.test(why)) {
    const err = new Error(why) as NodeJS.ErrnoException;
    err.code = 'ENOSPC';
    throw err;
  }
  throw new DomuError('INTERNAL', `${tool} failed: ${why}`);
}

export interface FsCheck {
  clean: boolean;
  /** the checker's output, for messages */
  output: string;
}

/** Check a filesystem read-only: e2fsck -fn, or xfs_repair -n. The filesystem must not be mounted. */
export async function checkFilesystem(target: string, fs: FsType): Promise<FsCheck> {
  const r = isExt(fs)
    ? await runTool('e2fsck', ['-fn', target], { allowFailure: true })
    : await runTool('xfs_repair', ['-n', target], { allowFailure: true });
  return { clean: r.status === 0, output: `${r.stdout.toString()}${r.stderr}` };
}
