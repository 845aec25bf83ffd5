// Building a domain model from xen-create-image style options (--hostname --memory --lvm --dir
// --ip ...), for the xen-config and fixup commands and for specs that prefer flat options.

import { DomuError } from '../errors.js';
import { sizeBytes, sizeMiB } from '../sys/size.js';
import type { DomainDisk, DomainType, DomainVif, LifecycleAction, XenConsole, XenDomain } from './domain.js';

export interface DomainOptions {
  hostname: string;
  type?: DomainType;
  /** MiB as a number, or "512M", "1G", "1Gb". */
  memory?: number | string;
  maxmem?: number | string;
  vcpus?: number;
  /** Boot through PyGRUB from the guest's own /boot. */
  pygrub?: boolean;
  /** Boot through pvgrub: GRUB for Xen PV as the domain's kernel, reading the guest's /boot/grub/grub.cfg. */
  pvgrub?: boolean;
  kernel?: string;
  initrd?: string;
  extra?: string;
  root?: string;
  console?: XenConsole;
  /** Guest filesystem of the root disk (ext4). */
  fs?: string;
  /** Volume group: disks are /dev/VG/HOST-disk and /dev/VG/HOST-swap (xen-tools' names). */
  lvm?: string;
  /** Image directory: disks are DIR/domains/HOST/disk.img and swap.img (xen-tools' layout). */
  dir?: string;
  /** An explicit root device or image file, and swap device or file. */
  imageDev?: string;
  swapDev?: string;
  /** Swap size: when given (and not "0"), the domain gets a swap disk. */
  swap?: string | number;
  /** Root disk size: not part of the config, accepted so that one option set serves every command. */
  size?: string | number;
  ip?: string;
  netmask?: string;
  gateway?: string;
  dhcp?: boolean;
  mac?: string;
  bridge?: string;
  nameservers?: string[];
  onPoweroff?: LifecycleAction;
  onReboot?: LifecycleAction;
  onCrash?: LifecycleAction;
}

/** The default image directory when neither --lvm, --dir nor --image-dev is given. */
export const DEFAULT_IMAGE_DIR = '/srv/xen';
/** xen-tools' layout (its xm.tmpl): swap on xvda1 and root on xvda2; root alone is xvda1. */
export const SWAP_VDEV = 'xvda1';
export const ROOT_VDEV = 'xvda2';
export const ROOT_ALONE_VDEV = 'xvda1';

/** A memory size as xl's memory= takes it, in MiB: "512", 512, "512M", "1.5G", "1Gb" (src/sys/size.ts). */
export function parseMiB(value: number | string, field: string): number {
  const mib = sizeMiB(value);
  if (mib === undefined) {
    throw new DomuError('BAD_INPUT', typeof value === 'number' ? `${field}: ${value} is not a number of MiB` : `${field}: "${value}" is not a size (512M, 1G, or MiB)`);
  }
  return mib;
}

function hasSwap(swap: DomainOptions['swap']): boolean {
  return swap !== undefined && sizeBytes(swap) !== undefined;
}

function backendOf(target: string): DomainDisk['backend'] {
  return target.startsWith('/dev/') ? 'phy' : 'file';
}

/** The domain model for xen-create-image style options. Not validated: call validateDomain. */
export function domainFromOptions(o: DomainOptions): XenDomain {
  if (!o.hostname) throw new DomuError('USAGE', 'a hostname is required (--hostname)');
  if ([o.lvm, o.dir, o.imageDev].filter((x) => x !== undefined).length > 1) {
    throw new DomuError('USAGE', '--lvm, --dir and --image-dev are alternatives: give one');
  }
  if (o.pygrub && o.pvgrub) throw new DomuError('BAD_INPUT', '--pygrub conflicts with --bootloader pvgrub: give one');
  if ((o.pygrub || o.pvgrub) && o.kernel) {
    throw new DomuError('BAD_INPUT', '--pygrub conflicts with --kernel: PyGRUB takes the kernel from the guest\'s /boot; give one or the other');
  }
  const name = o.hostname.split('.')[0]!;
  let rootTarget: string;
  let swapTarget: string | undefined;
  if (o.lvm) {
    rootTarget = `/dev/${o.lvm}/${name}-disk`;
    swapTarget = `/dev/${o.lvm}/${name}-swap`;
  } else if (o.imageDev) {
    rootTarget = o.imageDev;
    swapTarget = o.swapDev;
  } else {
    const dir = (o.dir ?? DEFAULT_IMAGE_DIR).replace(/\/+$/, '');
    rootTarget = `${dir}/domains/${name}/disk.img`;
    swapTarget = `${dir}/domains/${name}/swap.img`;
  }
  if (o.swapDev) swapTarget = o.swapDev;
  const withSwap = swapTarget !== undefined && (hasSwap(o.swap) || o.swapDev !== undefined);
  // the root disk is listed first whatever its name: PyGRUB (and pvgrub's root) read the first disk
  const disks: DomainDisk[] = [
    { target: rootTarget, vdev: withSwap ? ROOT_VDEV : ROOT_ALONE_VDEV, backend: backendOf(rootTarget), access: 'rw', mounts: [{ mountpoint: '/', fs: o.fs ?? 'ext4' }] },
  ];
  if (withSwap) disks.push({ target: swapTarget!, vdev: SWAP_VDEV, backend: backendOf(swapTarget!), access: 'rw', mounts: [{ mountpoint: 'swap', fs: 'swap' }] });
  const vif: DomainVif = {};
  if (o.mac) vif.mac = o.mac;
  if (o.bridge) vif.bridge = o.bridge;
  if (o.ip) vif.ip = o.ip;
  if (o.netmask) vif.netmask = o.netmask;
  if (o.gateway) vif.gateway = o.gateway;
  if (o.dhcp) vif.dhcp = true;
  if (o.nameservers?.length) vif.nameservers = o.nameservers;
  const domain: XenDomain = {
    name,
    type: o.type ?? 'pv',
    memory: parseMiB(o.memory ?? 512, 'memory'),
    vcpus: o.vcpus ?? 1,
    disks,
    vifs: [vif],
  };
  if (o.maxmem !== undefined) domain.maxmem = parseMiB(o.maxmem, 'maxmem');
  if (o.pygrub) domain.bootloader = 'pygrub';
  if (o.pvgrub) domain.bootloader = 'pvgrub';
  if (o.kernel) domain.kernel = o.kernel;
  if (o.initrd) domain.ramdisk = o.initrd;
  if (o.extra) domain.extra = o.extra;
  if (o.root) domain.root = o.root;
  if (o.console) domain.console = o.console;
  if (o.onPoweroff) domain.onPoweroff = o.onPoweroff;
  if (o.onReboot) domain.onReboot = o.onReboot;
  if (o.onCrash) domain.onCrash = o.onCrash;
  return domain;
}

/**
 * Read a domain model from a YAML or JSON file (the XenDomain fields). Shape errors come back as
 * BAD_INPUT; field values are checked by validateDomain.
 */
export async function readDomainFile(path: string): Promise<XenDomain> {
  const { readFile } = await import('node:fs/promises');
  const { parse } = await import('yaml');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read domain file ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (e) {
    throw new DomuError('BAD_INPUT', `domain file ${path} is not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DomuError('BAD_INPUT', `domain file ${path}: expected a mapping of domain fields`);
  const d = value as Record<string, unknown>;
  if (d.disks !== undefined && !Array.isArray(d.disks)) throw new DomuError('BAD_INPUT', `domain file ${path}: disks must be a list`);
  if (d.vifs !== undefined && !Array.isArray(d.vifs)) throw new DomuError('BAD_INPUT', `domain file ${path}: vifs must be a list`);
  for (const [i, disk] of ((d.disks as unknown[]) ?? []).entries()) {
    if (typeof disk !== 'object' || disk === null) throw new DomuError('BAD_INPUT', `domain file ${path}: disks[${i}] must be a mapping`);
    const mounts = (disk as Record<string, unknown>).mounts;
    if (mounts !== undefined && !Array.isArray(mounts)) throw new DomuError('BAD_INPUT', `domain file ${path}: disks[${i}].mounts must be a list`);
  }
  return { type: 'pv', vcpus: 1, vifs: [], disks: [], ...d } as unknown as XenDomain;
}
