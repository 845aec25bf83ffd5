// What the guest is, read from the guest's own files (never the host's): its distribution and
// release, its init system, whether /dev is static, and which kernels it carries and of what kind.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestView } from './plan.js';

export type DistroFamily = 'debian' | 'redhat' | 'suse' | 'arch' | 'alpine' | 'unknown';
export type InitSystem = 'systemd' | 'upstart' | 'sysvinit' | 'unknown';
/**
 * mainline: xen-blkfront, block major 202, console hvc0. redhat-xen: Red Hat's 2.6.18 XenLinux
 * (el5xen): xenblk, major 202, console xvc0. xensource: XenSource's own 2.6.1x-xen kernels: major
 * 220 (the seed's number), console xvc0.
 */
export type KernelFlavour = 'mainline' | 'redhat-xen' | 'xensource';

export interface Distro {
  family: DistroFamily;
  /** os-release ID (debian, ubuntu, centos, ...). */
  id: string;
  /** VERSION_ID or the release file's number; "" when unknown. */
  version: string;
  major?: number;
  name: string;
}

export interface KernelInfo {
  version: string;
  /** Guest paths, when present. */
  image?: string;
  initrd?: string;
  flavour: KernelFlavour;
  /** Why we think so, for messages. */
  evidence: string;
}

export interface GuestInfo {
  distro: Distro;
  init: InitSystem;
  /** udev (or systemd-udevd) is installed: /dev is managed, not static. */
  udev: boolean;
  /** Kernels in the guest's /boot and /lib/modules, newest first. */
  kernels: KernelInfo[];
}

function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    out[m[1]!] = v;
  }
  return out;
}

function familyOf(id: string, like: string): DistroFamily {
  const ids = `${id} ${like}`.toLowerCase().split(/\s+/);
  if (ids.some((i) => ['debian', 'ubuntu'].includes(i))) return 'debian';
  if (ids.some((i) => ['rhel', 'fedora', 'centos', 'redhat'].includes(i))) return 'redhat';
  if (ids.some((i) => ['suse', 'opensuse', 'sles'].includes(i))) return 'suse';
  if (ids.includes('arch')) return 'arch';
  if (ids.includes('alpine')) return 'alpine';
  return 'unknown';
}

export async function detectDistro(view: GuestView): Promise<Distro> {
  const osr = (await view.readText('/etc/os-release', 256 * 1024)) ?? (await view.readText('/usr/lib/os-release', 256 * 1024));
  if (osr !== undefined) {
    const f = parseOsRelease(osr);
    const id = (f.ID ?? 'linux').toLowerCase();
    const version = f.VERSION_ID ?? '';
    const d: Distro = { family: familyOf(id, f.ID_LIKE ?? ''), id, version, name: f.PRETTY_NAME ?? f.NAME ?? id };
    const major = parseInt(version, 10);
    if (!Number.isNaN(major)) d.major = major;
    // Debian testing/sid have no VERSION_ID; debian_version says more
    if (d.id === 'debian' && !version) {
      const dv = (await view.readText('/etc/debian_version', 4096))?.trim();
      if (dv) d.version = dv;
    }
    return d;
  }
  for (const file of ['/etc/centos-release', '/etc/redhat-release', '/etc/fedora-release']) {
    const t = (await view.readText(file, 4096))?.trim();
    if (t) {
      const m = /release\s+([\d.]+)/.exec(t);
      const version = m?.[1] ?? '';
      const id = /centos/i.test(t) ? 'centos' : /fedora/i.test(t) ? 'fedora' : 'rhel';
      const d: Distro = { family: 'redhat', id, version, name: t.split('\n')[0]! };
      if (version) d.major = parseInt(version, 10);
      return d;
    }
  }
  const dv = (await view.readText('/etc/debian_version', 4096))?.trim();
  if (dv) {
    const d: Distro = { family: 'debian', id: 'debian', version: dv, name: `Debian ${dv}` };
    if (/^\d/.test(dv)) d.major = parseInt(dv, 10);
    return d;
  }
  if (await view.exists('/etc/SuSE-release')) return { family: 'suse', id: 'suse', version: '', name: 'SUSE' };
  return { family: 'unknown', id: 'linux', version: '', name: 'unknown Linux' };
}

export async function detectInit(view: GuestView): Promise<InitSystem> {
  // /sbin/init as the guest resolves it: a link to systemd is systemd
  const init = await view.canonical('/sbin/init').catch(() => undefined);
  if (init?.guestPath.endsWith('/systemd')) return 'systemd';
  const inittab = await view.readText('/etc/inittab', 1 << 20).catch(() => undefined);
  // upstart: initctl and jobs in /etc/init; an inittab may remain, but only with the default runlevel
  // (CentOS 6), never with respawn lines
  const jobs = (await view.list('/etc/init')).some((n) => n.endsWith('.conf'));
  const upstartDoc = (await view.list('/usr/share/doc')).some((n) => /^upstart\b/.test(n)) || (await view.exists('/var/lib/dpkg/info/upstart.list'));
  const inittabActive = inittab !== undefined && /^[^#:\s][^:]*:[^:]*:respawn:/m.test(inittab);
  if (init?.stat && (await view.exists('/sbin/initctl')) && jobs && (upstartDoc || !inittabActive)) return 'upstart';
  if (init?.stat && inittab !== undefined) return 'sysvinit';
  if ((await view.exists('/lib/systemd/systemd')) || (await view.exists('/usr/lib/systemd/systemd'))) return 'systemd';
  if (inittab !== undefined) return 'sysvinit';
  return 'unknown';
}

export async function detectUdev(view: GuestView): Promise<boolean> {
  for (const p of ['/sbin/udevd', '/lib/udev/udevd', '/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd', '/sbin/start_udev', '/bin/udevadm', '/sbin/udevadm', '/sbin/mdev']) {
    if (await view.exists(p)) return true;
  }
  return false;
}

/** Compare kernel versions naturally (numbers as numbers), for "newest first". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/(\d+)/).filter(Boolean);
  const pb = b.split(/(\d+)/).filter(Boolean);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** What a set of file names and a kernel config says about the kernel's kind. */
export function classifyKernel(version: string, evidence: { moduleFiles: string[]; config?: string }): { flavour: KernelFlavour; evidence: string } {
  const has = (re: RegExp) => evidence.moduleFiles.some((f) => re.test(f));
  if (/el5xen$|\.el5\.?xen/.test(version)) return { flavour: 'redhat-xen', evidence: `Red Hat XenLinux kernel ${version}` };
  if (has(/drivers\/xen\/blkfront\/xenblk\.ko/)) {
    return /el\d/.test(version)
      ? { flavour: 'redhat-xen', evidence: `${version} has the legacy xenblk driver (Red Hat)` }
      : { flavour: 'xensource', evidence: `${version} has the legacy xenblk driver (XenSource)` };
  }
  if (has(/drivers\/block\/xen-blkfront\.ko/)) return { flavour: 'mainline', evidence: `${version} has mainline xen-blkfront` };
  const cfg = evidence.config ?? '';
  if (/^CONFIG_X86_XEN=y|^CONFIG_XEN_COMPAT_\w+=y/m.test(cfg)) return { flavour: /el\d/.test(version) ? 'redhat-xen' : 'xensource', evidence: `${version}'s config is XenLinux (CONFIG_X86_XEN)` };
  if (/^CONFIG_XEN_BLKDEV_FRONTEND=[ym]/m.test(cfg)) return { flavour: 'mainline', evidence: `${version}'s config has mainline xen-blkfront` };
  if (/^2\.6\.(1[0-9])(\.\d+)*-xen[0U]?$/.test(version)) return { flavour: 'xensource', evidence: `${version} is named as a XenSource kernel` };
  return { flavour: 'mainline', evidence: `${version}: no legacy Xen marks, assuming mainline` };
}

const MODULE_PROBES = ['kernel/drivers/xen/blkfront/xenblk.ko', 'kernel/drivers/block/xen-blkfront.ko', 'kernel/drivers/block/xen-blkfront.ko.xz', 'kernel/drivers/block/xen-blkfront.ko.zst'];

/** Kernels in the guest: vmlinuz-* in /boot and directories in /lib/modules, newest first. */
export async function detectKernels(view: GuestView): Promise<KernelInfo[]> {
  const versions = new Map<string, { image?: string; initrd?: string }>();
  const boot = await view.list('/boot');
  for (const n of boot) {
    const m = /^(?:vmlinuz|vmlinux|bzImage|kernel)-(.+)$/.exec(n);
    if (m && (await view.kind(`/boot/${n}`)) === 'file') versions.set(m[1]!, { image: `/boot/${n}` });
  }
  for (const [v, info] of versions) {
    for (const cand of [`initrd.img-${v}`, `initrd-${v}.img`, `initramfs-${v}.img`, `initrd-${v}`, `initramfs-${v}`]) {
      if (boot.includes(cand)) {
        info.initrd = `/boot/${cand}`;
        break;
      }
    }
  }
  for (const v of await view.list('/lib/modules')) if (!versions.has(v) && (await view.kind(`/lib/modules/${v}`)) === 'dir') versions.set(v, {});
  const out: KernelInfo[] = [];
  for (const [version, info] of versions) {
    const moduleFiles: string[] = [];
    for (const p of MODULE_PROBES) if (await view.exists(`/lib/modules/${version}/${p}`)) moduleFiles.push(p);
    const builtin = await view.readText(`/lib/modules/${version}/modules.builtin`, 1 << 20).catch(() => undefined);
    if (builtin && /xen-blkfront\.ko/.test(builtin)) moduleFiles.push('kernel/drivers/block/xen-blkfront.ko');
    const config = await view.readText(`/boot/config-${version}`, 1 << 20).catch(() => undefined);
    const k = classifyKernel(version, config === undefined ? { moduleFiles } : { moduleFiles, config });
    out.push({ version, ...info, ...k });
  }
  return out.sort((a, b) => compareVersions(b.version, a.version));
}

/** The same inspection for a kernel version in a host modules directory (a Dom0 kernel the domain boots). */
export function classifyHostKernel(version: string, modulesDir = '/lib/modules', bootDir = '/boot'): { flavour: KernelFlavour; evidence: string } | undefined {
  const dir = join(modulesDir, version);
  const moduleFiles = MODULE_PROBES.filter((p) => existsSync(join(dir, p)));
  let config: string | undefined;
  try {
    config = readFileSync(join(bootDir, `config-${version}`), 'latin1');
  } catch {
    config = undefined;
  }
  if (moduleFiles.length === 0 && config === undefined && !existsSync(dir)) return undefined;
  try {
    if (readFileSync(join(dir, 'modules.builtin'), 'latin1').includes('xen-blkfront.ko')) moduleFiles.push('kernel/drivers/block/xen-blkfront.ko');
  } catch {
    /* none */
  }
  return classifyKernel(version, config === undefined ? { moduleFiles } : { moduleFiles, config });
}

/** The kernel version named by a kernel image path: /boot/vmlinuz-6.1.0-18-amd64 -> 6.1.0-18-amd64. */
export function kernelVersionOfImage(path: string): string | undefined {
  const m = /(?:vmlinuz|vmlinux|bzImage|kernel)-([^/]+?)(?:\.gz)?$/.exec(path);
  return m?.[1];
}

export async function detectGuest(view: GuestView): Promise<GuestInfo> {
  const [distro, init, udev, kernels] = await Promise.all([detectDistro(view), detectInit(view), detectUdev(view), detectKernels(view)]);
  return { distro, init, udev, kernels };
}
