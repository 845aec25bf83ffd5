// A fresh filesystem on a block device (loop device, LVM volume, disk), mounted on a private mount
// point for the tree to be written into, then synced and unmounted. Shared by image, lvm and device.

import { lstat, readdir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { setTimesNs } from '../sys/times.js';
import type { CleanupStack } from '../cleanup.js';
import type { FsType } from './types.js';
import { isExt } from './mkfs.js';
import { makeMountPoint, mountFilesystem } from './system.js';

export interface MountedRoot {
  root: string;
  /** Put back lost+found on ext if the tree did not bring one, sync, unmount, remove the mount point. */
  finish: () => Promise<void>;
}

/** Mount `device` (holding a fresh `fs`) on a new private mount point, with an empty root. */
export async function mountForPopulate(device: string, fs: FsType, cleanup: CleanupStack, signal?: AbortSignal): Promise<MountedRoot> {
  const mp = await makeMountPoint(cleanup);
  if (signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
  const mounted = await mountFilesystem(device, mp.dir, fs, cleanup);
  if (isExt(fs)) {
    // hand out an empty root; lost+found is put back at the end when the tree has none
    await rmdir(join(mp.dir, 'lost+found')).catch(() => undefined);
  }
  const left = await readdir(mp.dir);
  if (left.length > 0) throw new DomuError('INTERNAL', `the new filesystem on ${device} is not empty: ${left.join(', ')}`);
  return {
    root: mp.dir,
    finish: async () => {
      if (isExt(fs)) await restoreLostFound(mp.dir);
      await runTool('sync', ['-f', mp.dir]);
      await mounted.unmount();
      await mp.remove();
    },
  };
}

/** mke2fs makes /lost+found (mode 0700, preallocated); e2fsck wants it. Keep the root's times. */
async function restoreLostFound(root: string): Promise<void> {
  const exists = await lstat(join(root, 'lost+found')).then(() => true, () => false);
  if (exists) return;
  const st = await stat(root, { bigint: true });
  await runTool('mklost+found', [], { cwd: root });
  await setTimesNs(root, st.atimeNs, st.mtimeNs, { noDereference: true });
}
