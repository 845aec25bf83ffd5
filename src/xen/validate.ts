// Checking a domain model before anything is written: every problem is found in one pass and
// named by its field, so that the user can fix them all at once.

import { statSync } from 'node:fs';
import { DomuError } from '../errors.js';
import { isIpv4, prefixLength, type XenDomain } from './domain.js';

export interface DomainProblem {
  /** The field, as a path into the model: "disks[1].vdev". */
  field: string;
  message: string;
}

export interface ValidateOptions {
  /** Check that kernel, ramdisk and disk targets exist in the Dom0 (default true). */
  checkPaths?: boolean;
  /** Require a way to boot (kernel or bootloader) for pv and pvh domains (default true). */
  requireBoot?: boolean;
}

const TYPES = ['pv', 'pvh', 'hvm'];
const ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'soft-reset'];
const FORMATS = ['raw', 'qcow2', 'qcow', 'vhd'];
const FILESYSTEMS = ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'reiserfs', 'jfs', 'vfat', 'swap'];
/** Xen virtual disk names: xvda..xvdzz, sda.., hda.., with an optional partition number. */
const VDEV = /^(xvd|sd|hd)([a-z]{1,2})(\d{1,2})?$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
/** Characters that cannot sit inside a quoted xl config string. */
const UNSAFE = /["'\\\n\r\t\x00-\x1f]/;

function isPosInt(n: unknown, max = Number.MAX_SAFE_INTEGER): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max;
}

function pathKind(p: string): 'file' | 'block' | 'dir' | 'other' | 'missing' {
  try {
    const st = statSync(p);
    if (st.isFile()) return 'file';
    if (st.isBlockDevice()) return 'block';
    if (st.isDirectory()) return 'dir';
    return 'other';
  } catch {
    return 'missing';
  }
}

/** All problems of a domain model; [] when it is valid. */
export function validateDomain(domain: XenDomain, options: ValidateOptions = {}): DomainProblem[] {
  const checkPaths = options.checkPaths ?? true;
  const problems: DomainProblem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  const str = (field: string, v: unknown) => {
    if (v === undefined) return;
    if (typeof v !== 'string' || v === '') add(field, 'must be a non-empty string');
    else if (UNSAFE.test(v)) add(field, 'must not hold quotes, backslashes or control characters');
  };

  if (typeof domain.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(domain.name) || /^\d+$/.test(domain.name)) {
    add('name', 'must be 1 to 64 letters, digits, ".", "_" or "-", start with a letter or digit, and not be all digits');
  }
  if (!TYPES.includes(domain.type)) add('type', `must be one of ${TYPES.join(', ')}`);
  if (!isPosInt(domain.memory) || domain.memory < 16) add('memory', 'must be a whole number of MiB, at least 16');
  if (domain.maxmem !== undefined) {
    if (!isPosInt(domain.maxmem)) add('maxmem', 'must be a whole number of MiB');
    else if (isPosInt(domain.memory) && domain.maxmem < domain.memory) add('maxmem', `(${domain.maxmem}) must be at least memory (${domain.memory})`);
  }
  if (!isPosInt(domain.vcpus, 512)) add('vcpus', 'must be a whole number from 1 to 512');
  if (domain.maxvcpus !== undefined) {
    if (!isPosInt(domain.maxvcpus, 512)) add('maxvcpus', 'must be a whole number from 1 to 512');
    else if (isPosInt(domain.vcpus) && domain.maxvcpus < domain.vcpus) add('maxvcpus', `(${domain.maxvcpus}) must be at least vcpus (${domain.vcpus})`);
  }
  for (const f of ['kernel', 'ramdisk', 'bootloader', 'root', 'extra'] as const) str(f, domain[f]);
  if (domain.console !== undefined && !['hvc0', 'xvc0', 'ttyS0'].includes(domain.console)) add('console', 'must be hvc0, xvc0 or ttyS0');

  // boot: PyGRUB reads the kernel from the guest's own /boot, so an explicit kernel contradicts it
  if (domain.bootloader !== undefined && domain.kernel !== undefined) {
    add('kernel', `conflicts with bootloader "${domain.bootloader}": the bootloader takes the kernel from the guest's /boot; give one or the other`);
  }
  if (domain.bootloader !== undefined && domain.ramdisk !== undefined) add('ramdisk', `conflicts with bootloader "${domain.bootloader}"`);
  if (domain.ramdisk !== undefined && domain.kernel === undefined && domain.bootloader === undefined) add('ramdisk', 'is given without a kernel');
  if ((options.requireBoot ?? true) && (domain.type === 'pv' || domain.type === 'pvh') && domain.kernel === undefined && domain.bootloader === undefined) {
    add('kernel', `a ${domain.type} domain needs a kernel or bootloader = "pygrub"`);
  }
  if (checkPaths) {
    for (const f of ['kernel', 'ramdisk'] as const) {
      const p = domain[f];
      if (typeof p === 'string' && p !== '' && !UNSAFE.test(p)) {
        const kind = pathKind(p);
        if (kind === 'missing') add(f, `${p} does not exist`);
        else if (kind !== 'file') add(f, `${p} is not a regular file`);
      }
    }
  }

  // disks
  if (!Array.isArray(domain.disks) || domain.disks.length === 0) add('disks', 'the domain needs at least one disk');
  const seenVdev = new Map<string, number>();
  const seenMount = new Map<string, string>();
  let roots = 0;
  (domain.disks ?? []).forEach((disk, i) => {
    const at = `disks[${i}]`;
    str(`${at}.target`, disk.target);
    if (disk.backend !== 'phy' && disk.backend !== 'file') add(`${at}.backend`, 'must be phy or file');
    if (disk.format !== undefined && !FORMATS.includes(disk.format)) add(`${at}.format`, `must be one of ${FORMATS.join(', ')}`);
    if (disk.backend === 'phy' && disk.format !== undefined && disk.format !== 'raw') add(`${at}.format`, 'a phy: disk is raw');
    if (disk.access !== undefined && disk.access !== 'rw' && disk.access !== 'ro') add(`${at}.access`, 'must be rw or ro');
    const m = typeof disk.vdev === 'string' ? VDEV.exec(disk.vdev) : null;
    if (!m) add(`${at}.vdev`, `"${String(disk.vdev)}" is not a Xen virtual disk name (xvda, xvda1, xvdb, ...)`);
    else {
      const prev = seenVdev.get(disk.vdev);
      if (prev !== undefined) add(`${at}.vdev`, `duplicate vdev ${disk.vdev} (also disks[${prev}])`);
      else {
        // xvda and xvda1 share the same device numbers; both in one domain clash
        const whole = `${m[1]}${m[2]}`;
        for (const [other, j] of seenVdev) {
          const o = VDEV.exec(other)!;
          if (`${o[1]}${o[2]}` === whole && (o[3] === undefined || m[3] === undefined)) {
            add(`${at}.vdev`, `${disk.vdev} overlaps ${other} (disks[${j}])`);
          }
        }
        seenVdev.set(disk.vdev, i);
      }
      if (m[3] !== undefined && (disk.mounts ?? []).some((mt) => mt.partition !== undefined)) {
        add(`${at}.mounts`, `${disk.vdev} is already a partition; its mounts take no partition number`);
      }
    }
    if (checkPaths && typeof disk.target === 'string' && disk.target !== '' && !UNSAFE.test(disk.target)) {
      const kind = pathKind(disk.target);
      if (kind === 'missing') add(`${at}.target`, `${disk.target} does not exist`);
      else if (disk.backend === 'phy' && kind !== 'block') add(`${at}.target`, `${disk.target} is not a block device (use backend file for an image)`);
      else if (disk.backend === 'file' && kind !== 'file') add(`${at}.target`, `${disk.target} is not a regular file`);
    }
    const parts = new Set<string>();
    (disk.mounts ?? []).forEach((mt, k) => {
      const mat = `${at}.mounts[${k}]`;
      if (mt.partition !== undefined && !isPosInt(mt.partition, 15)) add(`${mat}.partition`, 'must be a whole number from 1 to 15');
      const key = String(mt.partition ?? '');
      if (parts.has(key)) add(`${mat}.partition`, `two mounts on ${disk.vdev}${key}`);
      parts.add(key);
      if (!FILESYSTEMS.includes(mt.fs)) add(`${mat}.fs`, `must be one of ${FILESYSTEMS.join(', ')}`);
      if (mt.fs === 'swap' ? mt.mountpoint !== 'swap' : !/^\/[^\s]*$/.test(mt.mountpoint ?? '')) {
        add(`${mat}.mountpoint`, mt.fs === 'swap' ? 'a swap area has mountpoint "swap"' : 'must be an absolute path without spaces');
      } else if (mt.fs !== 'swap') {
        const prev = seenMount.get(mt.mountpoint);
        if (prev) add(`${mat}.mountpoint`, `${mt.mountpoint} is also mounted by ${prev}`);
        seenMount.set(mt.mountpoint, mat);
        if (mt.mountpoint === '/') roots += 1;
      }
      if (mt.options !== undefined && !/^[^\s"'\\]+$/.test(mt.options)) add(`${mat}.options`, 'must be a comma-separated list without spaces');
    });
  });
  if (roots === 0 && domain.root === undefined && domain.kernel !== undefined) {
    add('root', 'no disk is mounted on / and no root device is given');
  }

  // vifs
  const macs = new Map<string, number>();
  (domain.vifs ?? []).forEach((vif, i) => {
    const at = `vifs[${i}]`;
    if (vif.mac !== undefined) {
      if (!MAC.test(vif.mac)) add(`${at}.mac`, `"${vif.mac}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
      else if (parseInt(vif.mac.slice(0, 2), 16) & 1) add(`${at}.mac`, `${vif.mac} is a multicast address`);
      else {
        const low = vif.mac.toLowerCase();
        if (macs.has(low)) add(`${at}.mac`, `duplicate MAC ${vif.mac} (also vifs[${macs.get(low)}])`);
        macs.set(low, i);
      }
    }
    str(`${at}.bridge`, vif.bridge);
    if (vif.ip !== undefined && !isIpv4(vif.ip)) add(`${at}.ip`, `"${vif.ip}" is not an IPv4 address`);
    if (vif.netmask !== undefined && prefixLength(vif.netmask) === undefined) add(`${at}.netmask`, `"${vif.netmask}" is not a netmask`);
    if (vif.gateway !== undefined && !isIpv4(vif.gateway)) add(`${at}.gateway`, `"${vif.gateway}" is not an IPv4 address`);
    if (vif.dhcp === true && vif.ip !== undefined) add(`${at}.dhcp`, 'conflicts with a static ip; give one or the other');
    if (vif.ip === undefined && (vif.netmask !== undefined || vif.gateway !== undefined)) add(`${at}.ip`, 'netmask and gateway need a static ip');
    for (const [k, ns] of (vif.nameservers ?? []).entries()) if (!isIpv4(ns)) add(`${at}.nameservers[${k}]`, `"${ns}" is not an IPv4 address`);
  });

  for (const f of ['onPoweroff', 'onReboot', 'onCrash'] as const) {
    const v = domain[f];
    if (v !== undefined && !ACTIONS.includes(v)) add(f, `must be one of ${ACTIONS.join(', ')}`);
  }
  return problems;
}

/** Throw a BAD_INPUT DomuError listing every problem on one line. */
export function assertValidDomain(domain: XenDomain, options: ValidateOptions = {}): void {
  const problems = validateDomain(domain, options);
  if (problems.length === 0) return;
  const list = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  throw new DomuError('BAD_INPUT', `invalid domain ${typeof domain.name === 'string' ? `"${domain.name}"` : ''}: ${list}`.replace(/\s+:/, ':'));
}
