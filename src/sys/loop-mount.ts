// Attach a filesystem image to a loop device, mount it on a fresh temporary directory, run `use`
// on the mount point, and release everything (unmount, remove the directory, detach) whatever
// happens. Each step is on the cleanup stack while it is held, so a signal mid-way releases it too.

import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import { runTool } from './exec.js';

export interface LoopMountOptions {
  /** Filesystem type for mount -t. */
  type: string;
  /** mount -o options, if any. */
  options?: string;
  /** Attach the loop device read-only. */
  readOnly?: boolean;
  /** Prefix of the temporary mount point under the system's temporary directory. */
  prefix: string;
}

export async function withLoopMount<T>(file: string, o: LoopMountOptions, cleanup: CleanupStack, use: (mountPoint: string) => Promise<T>): Promise<T> {
  const loop = (await runTool('losetup', ['--find', '--show', ...(o.readOnly ? ['--read-only'] : []), file])).stdout.toString().trim();
  const dropLoop = cleanup.push(`detach ${loop}`, async () => {
    await runTool('losetup', ['-d', loop], { allowFailure: true });
  });
  const mnt = await fsp.mkdtemp(path.join(os.tmpdir(), o.prefix));
  const dropDir = cleanup.push(`remove ${mnt}`, () => fsp.rmdir(mnt));
  try {
    await runTool('mount', ['-t', o.type, ...(o.options ? ['-o', o.options] : []), loop, mnt]);
    const dropMount = cleanup.push(`unmount ${mnt}`, async () => {
      await runTool('umount', [mnt], { allowFailure: true });
    });
    try {
      return await use(mnt);
    } finally {
      await runTool('umount', [mnt]);
      dropMount();
    }
  } finally {
    await fsp.rmdir(mnt).catch(() => undefined);
    dropDir();
    await runTool('losetup', ['-d', loop], { allowFailure: true });
    dropLoop();
  }
}
