// A fleet guest's disk from the fleet's base image: a sparse copy (holes stay holes, only the data
// is written), grown to the guest's size, loop-mounted read-write for the guest's own stages, and
// renamed into place only when complete. Every step is on the CleanupStack.

import { mkdir, mkdtemp, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DomuError, oneLine } from '../errors.js';
import { runTool } from '../exec.js';
import type { CleanupStack } from './cleanup.js';
import type { OpenedTarget, TargetSummary } from '../targets/index.js';
import type { SpecFs } from '../spec/types.js';

export interface FromBaseOptions {
  base: string;
  path: string;
  /** Bytes; at least the base's size. Default: the base's size. */
  size?: number;
  fs: SpecFs;
  cleanup: CleanupStack;
}

/** Copy a raw image keeping its holes (coreutils cp finds them with SEEK_DATA/SEEK_HOLE). */
export async function sparseCopy(from: string, to: string): Promise<void> {
  await runTool('cp', ['--sparse=always', '--', from, to]);
}

async function blkid(dev: string, tag: string): Promise<string> {
  return (await runTool('blkid', ['-p', '-o', 'value', '-s', tag, dev], { allowFailure: true })).stdout.toString().trim();
}

export async function openFromBase(o: FromBaseOptions): Promise<OpenedTarget> {
  const baseSt = await stat(o.base).catch(() => undefined);
  if (!baseSt?.isFile()) throw new DomuError('INTERNAL', `the fleet's base image ${o.base} is missing`);
  const size = o.size ?? baseSt.size;
  if (size < baseSt.size) {
    throw new DomuError('BAD_INPUT', `${basename(o.path)}: size ${(size / 2 ** 20).toFixed(0)} MiB is smaller than the base image (${(baseSt.size / 2 ** 20).toFixed(0)} MiB)`);
  }
  await mkdir(dirname(o.path), { recursive: true });
  const partial = join(dirname(o.path), `.${basename(o.path)}.partial-${process.pid}`);
  const drops: Array<() => void> = [];
  drops.push(o.cleanup.push(`remove half-made ${partial}`, () => rm(partial, { force: true })));
  await rm(partial, { force: true });
  await sparseCopy(o.base, partial);
  if (size > baseSt.size) {
    await runTool('truncate', ['-s', String(size), partial]);
    // ext: grow offline (the kernel refuses an online resize of a filesystem made without reserved
    // GDT blocks); resize2fs wants a freshly checked filesystem first. xfs grows online, below.
    if (o.fs !== 'xfs') {
      await runTool('e2fsck', ['-f', '-p', partial]);
      await runTool('resize2fs', [partial]);
    }
  }
  const loop = (await runTool('losetup', ['--find', '--show', partial])).stdout.toString().trim();
  const detach = async () => void (await runTool('losetup', ['-d', loop], { allowFailure: true }));
  drops.push(o.cleanup.push(`detach ${loop}`, detach));
  const mnt = await mkdtemp(join(dirname(o.path), `.${basename(o.path)}.mnt-`));
  drops.push(o.cleanup.push(`remove ${mnt}`, () => rmdir(mnt).catch(() => undefined)));
  await runTool('mount', ['-t', o.fs, loop, mnt]);
  const umount = async () => void (await runTool('umount', [mnt], { allowFailure: true }));
  drops.push(o.cleanup.push(`unmount ${mnt}`, umount));
  if (size > baseSt.size && o.fs === 'xfs') await runTool('xfs_growfs', [mnt]);
  const uuid = await blkid(loop, 'UUID');
  const label = await blkid(loop, 'LABEL');
  return {
    root: mnt,
    spec: { kind: 'image', path: o.path, fs: o.fs, format: 'raw', populate: 'mount' },
    filesystem: { fs: o.fs, uuid, ...(label ? { label } : {}) },
    explainError: (e) => (/No space left/.test(oneLine(e)) ? new DomuError('ENVIRONMENT', `${o.path} is full; give the guest a larger size`) : undefined),
    close: async (): Promise<TargetSummary> => {
      await runTool('sync', ['-f', mnt]);
      await runTool('umount', [mnt]);
      await rmdir(mnt);
      await runTool('losetup', ['-d', loop]);
      await rename(partial, o.path);
      for (const d of drops.splice(0)) d();
      const st = await stat(o.path);
      const du = Number((await runTool('du', ['-B1', '--', o.path])).stdout.toString().split(/\s/)[0]);
      return { kind: 'image', path: o.path, fs: o.fs, uuid, size: st.size, format: 'raw', populate: 'mount', fileBytes: du, ...(label ? { label } : {}) };
    },
  };
}
