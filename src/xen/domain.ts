// The typed model of a Xen domain. The config writer renders it, and the fixups (fstab, console,
// bootloader, network) take their device names from it, so the config and the guest always agree.

import { createHash } from 'node:crypto';

export type DomainType = 'pv' | 'pvh' | 'hvm';
export type LifecycleAction = 'destroy' | 'restart' | 'rename-restart' | 'preserve' | 'coredump-destroy' | 'coredump-restart' | 'soft-reset';
export type DiskBackend = 'phy' | 'file';
export type DiskFormat = 'raw' | 'qcow2' | 'qcow' | 'vhd';
export type XenConsole = 'hvc0' | 'xvc0' | 'ttyS0';

/** A filesystem or swap area on a disk, as the guest sees it. */
export interface DiskMount {
  /** Partition number inside the disk (xvda + 1 = /dev/xvda1); absent when the vdev itself holds it. */
  partition?: number;
  /** Where it is mounted in the guest; "swap" for a swap area. */
  mountpoint: string;
  /** Filesystem type (ext4, xfs, ...), or "swap". */
  fs: string;
  /** fstab options; defaults per filesystem. */
  options?: string;
}

export interface DomainDisk {
  /** The backing device or image file in the Dom0. */
  target: string;
  /** The device name in the guest: xvda, xvda1, ... */
  vdev: string;
  backend: DiskBackend;
  format?: DiskFormat;
  access?: 'rw' | 'ro';
  /** Write this disk in xl's `format=raw, vdev=xvda, access=rw, target=...` form (the default for files). */
  keyValue?: boolean;
  mounts?: DiskMount[];
}

export interface DomainVif {
  /** Xen's 00:16:3e range is derived from the domain name when absent. */
  mac?: string;
  bridge?: string;
  /** Static IPv4 address of the guest (also given to Xen as vif ip=). */
  ip?: string;
  /** Dotted netmask or a prefix length; 255.255.255.0 when absent. */
  netmask?: string;
  gateway?: string;
  /** Configure the guest's interface with DHCP (the default when no ip is given). */
  dhcp?: boolean;
  /** DNS servers written into static guest configs. */
  nameservers?: string[];
}

export interface XenDomain {
  name: string;
  type: DomainType;
  /** MiB. */
  memory: number;
  /** MiB; at least memory. */
  maxmem?: number;
  vcpus: number;
  maxvcpus?: number;
  /** Dom0 paths of the kernel and initrd the domain boots; or use bootloader "pygrub". */
  kernel?: string;
  ramdisk?: string;
  bootloader?: string;
  /** The root= argument; derived from the disk mounted on / when absent. */
  root?: string;
  /** Extra kernel command line. */
  extra?: string;
  /** The guest's Xen console; detected from the guest's kernel when absent (hvc0 for mainline kernels). */
  console?: XenConsole;
  disks: DomainDisk[];
  vifs: DomainVif[];
  onPoweroff?: LifecycleAction;
  onReboot?: LifecycleAction;
  onCrash?: LifecycleAction;
}

/** The bootloader value for GRUB built for Xen PV (pvgrub2), and Debian's image of it (grub-xen-host). */
export const PVGRUB = 'pvgrub';
export const PVGRUB_IMAGE = '/usr/lib/grub-xen/grub-x86_64-xen.bin';

/** A device as the guest names it, with the mount it carries. */
export interface GuestDevice {
  device: string; // /dev/xvda1
  vdev: string;
  partition?: number;
  mount: DiskMount;
}

/** Every filesystem and swap area of the domain, in disk order. */
export function guestDevices(domain: XenDomain): GuestDevice[] {
  const out: GuestDevice[] = [];
  for (const disk of domain.disks) {
    for (const mount of disk.mounts ?? []) {
      const device = `/dev/${disk.vdev}${mount.partition === undefined ? '' : String(mount.partition)}`;
      const d: GuestDevice = { device, vdev: disk.vdev, mount };
      if (mount.partition !== undefined) d.partition = mount.partition;
      out.push(d);
    }
  }
  return out;
}

/** The guest device of the root filesystem, if the model names one. */
export function rootDevice(domain: XenDomain): GuestDevice | undefined {
  return guestDevices(domain).find((d) => d.mount.mountpoint === '/');
}

/** The root= argument for the kernel: explicit, or the device mounted on /. */
export function kernelRoot(domain: XenDomain): string | undefined {
  return domain.root ?? rootDevice(domain)?.device;
}

/** The console a guest of this type uses, when the caller knows whether its kernel is a legacy XenLinux. */
export function domainConsole(domain: XenDomain, legacyKernel = false): XenConsole {
  if (domain.console) return domain.console;
  if (domain.type === 'hvm') return 'ttyS0';
  return legacyKernel ? 'xvc0' : 'hvc0';
}

/** The full kernel command line the domain passes: root= (as xl writes it), console= and extra. */
export function kernelCommandLine(domain: XenDomain, legacyKernel = false): string {
  const parts: string[] = [];
  const root = kernelRoot(domain);
  if (root) parts.push(`root=${root}`, 'ro');
  const extra = domain.extra ?? '';
  if (!/(^|\s)console=/.test(extra)) parts.push(`console=${domainConsole(domain, legacyKernel)}`);
  if (extra.trim()) parts.push(extra.trim());
  return parts.join(' ');
}

/** A MAC in Xen's 00:16:3e range, derived stably from the domain name and interface index. */
export function deriveMac(name: string, index = 0): string {
  const h = createHash('sha256').update(`domu-forge:${name}:${index}`).digest();
  const bytes = [0x00, 0x16, 0x3e, h[0]! & 0x7f, h[1]!, h[2]!];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The MAC of vif `index`: given, or derived. */
export function vifMac(domain: XenDomain, index: number): string {
  return (domain.vifs[index]?.mac ?? deriveMac(domain.name, index)).toLowerCase();
}

/** A netmask as a prefix length: "255.255.255.0" or "24" -> 24; undefined when invalid. */
export function prefixLength(netmask: string): number | undefined {
  if (/^\d{1,2}$/.test(netmask)) {
    const n = Number(netmask);
    return n <= 32 ? n : undefined;
  }
  const parts = netmask.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  const bits = parts.map((p) => Number(p).toString(2).padStart(8, '0')).join('');
  if (!/^1*0*$/.test(bits)) return undefined;
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

/** A prefix length as a dotted netmask. */
export function dottedNetmask(prefix: number): string {
  const bits = '1'.repeat(prefix).padEnd(32, '0');
  return [0, 8, 16, 24].map((i) => parseInt(bits.slice(i, i + 8), 2)).join('.');
}

export function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && (p === '0' || !p.startsWith('0')));
}

/** Default fstab options per filesystem. */
export function defaultMountOptions(fs: string, mountpoint: string): string {
  if (fs === 'swap') return 'sw';
  if (mountpoint === '/' && /^ext[234]$/.test(fs)) return 'errors=remount-ro';
  return 'defaults';
}
