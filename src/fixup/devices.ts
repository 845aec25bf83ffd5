// fixup/devices: block nodes for the domain's disks and partitions (/dev/xvda, /dev/xvda1, ...), and
// where /dev is static (no udev, no systemd) the console, null and Xen console nodes. The major
// number is the guest kernel's: 202 for mainline xen-blkfront and Red Hat's XenLinux, 220 only for
// XenSource's own old kernels (the seed's `mknod /dev/xvda b 220 0`).

import { consoleOf, defineStage } from './context.js';

/** Character device numbers of the Xen consoles (Linux devices.txt: hvc 229/0, xvc 204/191). */
const CONSOLE_NODES: Record<string, { major: number; minor: number }> = {
  hvc0: { major: 229, minor: 0 },
  xvc0: { major: 204, minor: 191 },
  ttyS0: { major: 4, minor: 64 },
};

/** Minor number of xvd<letter><partition>: 16 minors per disk, for xvda..xvdp. */
export function xvdMinor(vdev: string, partition = 0): number | undefined {
  const m = /^xvd([a-p])(\d+)?$/.exec(vdev);
  if (!m) return undefined;
  const part = m[2] === undefined ? partition : Number(m[2]);
  if (part > 15) return undefined;
  return (m[1]!.charCodeAt(0) - 97) * 16 + part;
}

export const devicesStage = defineStage('devices', 'make /dev/xvd* nodes for the domain disks, and console/null where /dev is static', async (ctx, p) => {
  const major = ctx.options.blockMajor ?? (ctx.kernel.flavour === 'xensource' ? 220 : 202);
  for (const disk of ctx.domain.disks) {
    const names = new Map<string, number | undefined>();
    names.set(disk.vdev, xvdMinor(disk.vdev));
    for (const m of disk.mounts ?? []) {
      if (m.partition !== undefined) names.set(`${disk.vdev}${m.partition}`, xvdMinor(disk.vdev, m.partition));
    }
    for (const [name, minor] of names) {
      if (minor === undefined) {
        p.note(`no static node for ${name}: only xvda..xvdp (partitions 0..15) have fixed numbers; udev names it`);
        continue;
      }
      await p.mknod(`/dev/${name}`, 'b', major, minor, 0o660);
    }
  }
  const staticDev = !ctx.guest.udev && ctx.guest.init !== 'systemd';
  if (!staticDev) return;
  await p.mknod('/dev/console', 'c', 5, 1, 0o600);
  await p.mknod('/dev/null', 'c', 1, 3, 0o666);
  const cons = consoleOf(ctx);
  const node = CONSOLE_NODES[cons];
  if (node) await p.mknod(`/dev/${cons}`, 'c', node.major, node.minor, 0o620);
});
