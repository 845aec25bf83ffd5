// What the boot test needs from inside a guest image: its newest kernel and initrd, its hostname
// and the device its fstab mounts on /. The image is attached read-only (a read-only loop device
// and a read-only mount without journal replay), so the image is never written.

import path from 'node:path';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { withLoopMount } from '../sys/loop-mount.js';
import type { CleanupStack } from '../cleanup.js';
import { GuestFs } from '../guest/guest-fs.js';
import { copyFileOutOfRoot, readFileInRoot } from './rootfs.js';

export interface KernelFiles {
  /** Paths relative to the guest root, e.g. boot/vmlinuz-6.1.0-50-amd64. */
  kernel: string;
  initrd?: string;
  version: string;
}

/** Compare kernel version strings the way a human would: 6.1.0-50 > 6.1.0-9. */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * The newest kernel in the tree's /boot (regular files named vmlinuz-VERSION; symlinks are not
 * followed) and its initrd.img-VERSION (or initramfs-VERSION.img, the Red Hat name) when present.
 */
export async function newestKernel(root: string): Promise<KernelFiles> {
  const gfs = new GuestFs(root);
  const boot = await gfs.stat('/boot', { refuseSymlinks: true });
  if (!boot?.isDirectory()) throw new DomuError('BAD_INPUT', `the guest has no /boot directory; give --kernel and --initrd`);
  const versions: string[] = [];
  for (const n of await gfs.list('/boot')) {
    const m = /^vmlinuz-(.+)$/.exec(n);
    if (!m) continue;
    const st = await gfs.stat(`/boot/${n}`, { followLast: false });
    if (st?.isFile() && st.size > 0n) versions.push(m[1]!);
  }
  if (versions.length === 0) throw new DomuError('BAD_INPUT', 'the guest has no kernel (/boot/vmlinuz-*); give --kernel and --initrd');
  versions.sort(compareKernelVersions);
  const version = versions[versions.length - 1]!;
  const result: KernelFiles = { kernel: `boot/vmlinuz-${version}`, version };
  for (const cand of [`initrd.img-${version}`, `initramfs-${version}.img`]) {
    const st = await gfs.stat(`/boot/${cand}`, { followLast: false });
    if (st?.isFile()) {
      result.initrd = `boot/${cand}`;
      break;
    }
  }
  return result;
}

/** The device fstab mounts on / ("/dev/xvda2", "UUID=...", ...), or undefined. */
export function fstabRootDevice(fstab: string): string | undefined {
  for (const raw of fstab.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const f = line.split(/\s+/);
    if (f[1] === '/') return f[0];
  }
  return undefined;
}

export interface GuestFiles {
  kernel: string;
  initrd?: string;
  kernelVersion: string;
  /** From /etc/hostname; undefined when the image has none. */
  hostname?: string;
  /** The device of / in the guest's fstab. */
  fstabRoot?: string;
}

/** Filesystem type of an image or device (blkid), or the partition table type, for messages. */
async function probeImage(image: string): Promise<{ type?: string; ptType?: string }> {
  const r = await runTool('blkid', ['-p', '-o', 'export', image], { allowFailure: true });
  const out: { type?: string; ptType?: string } = {};
  for (const line of r.stdout.toString().split('\n')) {
    const [k, v] = line.split('=');
    if (k === 'TYPE' && v) out.type = v;
    if (k === 'PTTYPE' && v) out.ptType = v;
  }
  return out;
}

const MOUNT_OPTIONS: Record<string, string> = {
  ext2: 'ro',
  ext3: 'ro,noload',
  ext4: 'ro,noload',
  xfs: 'ro,norecovery',
  btrfs: 'ro,nologreplay',
};

/**
 * Copy the kernel and initrd out of a guest image (a bare filesystem in a file or block device)
 * into `workDir`, and read its hostname and fstab. Every mount and loop device is released before
 * returning, and pushed on `cleanup` meanwhile.
 */
export async function readGuestFiles(image: string, workDir: string, cleanup: CleanupStack, need: { kernel: boolean }): Promise<GuestFiles> {
  const probe = await probeImage(image);
  if (!probe.type) {
    if (probe.ptType) {
      throw new DomuError('BAD_INPUT', `${image} holds a partition table (${probe.ptType}), not a filesystem: give --kernel, --initrd and --root`);
    }
    throw new DomuError('BAD_INPUT', `${image} holds no filesystem that blkid knows`);
  }
  const opts = MOUNT_OPTIONS[probe.type];
  if (!opts) throw new DomuError('BAD_INPUT', `${image} holds a ${probe.type} filesystem; boot-test reads ext2/3/4, xfs and btrfs`);

  return withLoopMount(image, { type: probe.type, options: opts, readOnly: true, prefix: 'domu-boot-mnt-' }, cleanup, async (mnt) => {
    const result: Partial<GuestFiles> = {};
    if (need.kernel) {
      const k = await newestKernel(mnt);
      result.kernel = path.join(workDir, 'vmlinuz');
      await copyFileOutOfRoot(mnt, k.kernel, result.kernel);
      result.kernelVersion = k.version;
      if (k.initrd) {
        result.initrd = path.join(workDir, 'initrd.img');
        await copyFileOutOfRoot(mnt, k.initrd, result.initrd);
      }
    }
    const hn = (await readFileInRoot(mnt, 'etc/hostname').catch(() => undefined))?.toString().trim().split('\n')[0]?.trim();
    if (hn) result.hostname = hn;
    const fstab = await readFileInRoot(mnt, 'etc/fstab').catch(() => undefined);
    const rootDev = fstab ? fstabRootDevice(fstab.toString()) : undefined;
    if (rootDev) result.fstabRoot = rootDev;
    return { kernel: '', kernelVersion: '', ...result };
  });
}
