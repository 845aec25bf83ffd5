// validateDomain: every problem in one pass, each named by its field, with the exact message.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XenDomain } from '../../src/xen/domain.js';
import { domainFromOptions, parseMiB } from '../../src/xen/options.js';
import { renderXlConfig } from '../../src/xen/render.js';
import { assertValidDomain, validateDomain } from '../../src/xen/validate.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('xen-validate');
afterAll(() => scratch.cleanup());
let kernel: string;
let image: string;
let blockdev: string;

beforeAll(() => {
  kernel = join(scratch.dir, 'vmlinuz-6.1.0-18-amd64');
  image = join(scratch.dir, 'disk.img');
  writeFileSync(kernel, 'k');
  writeFileSync(image, '');
  blockdev = join(scratch.dir, 'blk');
  execFileSync('mknod', [blockdev, 'b', '7', '201']);
});

const base = (): XenDomain => ({
  name: 'lennox', type: 'pv', memory: 512, vcpus: 1, kernel,
  disks: [{ target: image, vdev: 'xvda1', backend: 'file', mounts: [{ mountpoint: '/', fs: 'ext4' }] }],
  vifs: [{}],
});

const problems = (d: XenDomain, opts = {}) => validateDomain(d, opts).map((p) => `${p.field}: ${p.message}`);

describe('validateDomain (root)', () => {
  it('accepts a good domain', () => {
    expect(problems(base())).toEqual([]);
    expect(problems({ ...base(), kernel: undefined, bootloader: 'pygrub', disks: [{ target: blockdev, vdev: 'xvda1', backend: 'phy' }] })).toEqual([]);
  });

  it('pygrub together with an explicit kernel', () => {
    expect(problems({ ...base(), bootloader: 'pygrub' })).toEqual([
      'kernel: conflicts with bootloader "pygrub": the bootloader takes the kernel from the guest\'s /boot; give one or the other',
    ]);
  });

  it('a kernel, ramdisk or disk that does not exist; a phy: target that is a file', () => {
    const d = { ...base(), kernel: '/nonexistent/vmlinuz', ramdisk: '/nonexistent/initrd.img' };
    d.disks = [{ target: '/srv/none/disk.img', vdev: 'xvda1', backend: 'file', mounts: [{ mountpoint: '/', fs: 'ext4' }] }, { target: image, vdev: 'xvda2', backend: 'phy' }];
    expect(problems(d)).toEqual([
      'kernel: /nonexistent/vmlinuz does not exist',
      'ramdisk: /nonexistent/initrd.img does not exist',
      'disks[0].target: /srv/none/disk.img does not exist',
      `disks[1].target: ${image} is not a block device (use backend file for an image)`,
    ]);
    expect(problems(d, { checkPaths: false })).toEqual([]);
  });

  it('duplicate and overlapping vdevs', () => {
    const d = base();
    d.disks.push({ target: image, vdev: 'xvda1', backend: 'file' }, { target: image, vdev: 'xvda', backend: 'file' });
    expect(problems(d)).toEqual(['disks[1].vdev: duplicate vdev xvda1 (also disks[0])', 'disks[2].vdev: xvda overlaps xvda1 (disks[0])']);
  });

  it('bad names, sizes, addresses, MACs, actions and quotes, all at once', () => {
    const d: XenDomain = {
      ...base(), name: '12345', memory: 8, maxmem: 4, vcpus: 0, extra: 'quiet "x"',
      vifs: [{ mac: '01:16:3e:00:00:01', ip: '192.0.2.300', netmask: '255.0.255.0', dhcp: true }, { mac: 'zz', gateway: '192.0.2.1' }],
      onCrash: 'explode' as never,
    };
    d.disks[0]!.vdev = 'vda';
    d.disks[0]!.mounts = [{ mountpoint: '/', fs: 'ntfs' }, { mountpoint: 'swap', fs: 'swap' }];
    expect(problems(d)).toEqual([
      'name: must be 1 to 64 letters, digits, ".", "_" or "-", start with a letter or digit, and not be all digits',
      'memory: must be a whole number of MiB, at least 16',
      'maxmem: (4) must be at least memory (8)',
      'vcpus: must be a whole number from 1 to 512',
      'extra: must not hold quotes, backslashes or control characters',
      'disks[0].vdev: "vda" is not a Xen virtual disk name (xvda, xvda1, xvdb, ...)',
      'disks[0].mounts[0].fs: must be one of ext2, ext3, ext4, xfs, btrfs, reiserfs, jfs, vfat, swap',
      'disks[0].mounts[1].partition: two mounts on vda',
      'vifs[0].mac: 01:16:3e:00:00:01 is a multicast address',
      'vifs[0].ip: "192.0.2.300" is not an IPv4 address',
      'vifs[0].netmask: "255.0.255.0" is not a netmask',
      'vifs[0].dhcp: conflicts with a static ip; give one or the other',
      'vifs[1].mac: "zz" is not a MAC address (xx:xx:xx:xx:xx:xx)',
      'vifs[1].ip: netmask and gateway need a static ip',
      'onCrash: must be one of destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset',
    ]);
  });

  it('a pv domain without a way to boot; maxmem below memory', () => {
    expect(problems({ ...base(), kernel: undefined, maxmem: 256 })).toEqual([
      'maxmem: (256) must be at least memory (512)',
      'kernel: a pv domain needs a kernel or bootloader = "pygrub"',
    ]);
  });

  it('the renderer refuses an invalid model with one line naming every problem', () => {
    const d = { ...base(), bootloader: 'pygrub', kernel: '/nonexistent/vmlinuz' };
    expect(() => renderXlConfig(d)).toThrow(
      'invalid domain "lennox": kernel: conflicts with bootloader "pygrub": the bootloader takes the kernel from the guest\'s /boot; give one or the other; kernel: /nonexistent/vmlinuz does not exist',
    );
    try {
      assertValidDomain(d);
    } catch (e) {
      expect((e as { code: string }).code).toBe('BAD_INPUT');
    }
  });

  it('parses sizes as xen-create-image does, and refuses --pygrub with --kernel at the flags', () => {
    expect([parseMiB('512', 'm'), parseMiB('512M', 'm'), parseMiB('1G', 'm'), parseMiB('2Gb', 'm'), parseMiB(128, 'm')]).toEqual([512, 512, 1024, 2048, 128]);
    expect(() => parseMiB('lots', 'memory')).toThrow('memory: "lots" is not a size (512M, 1G, or MiB)');
    expect(() => domainFromOptions({ hostname: 'x', pygrub: true, kernel })).toThrow(/--pygrub conflicts with --kernel/);
    expect(() => domainFromOptions({ hostname: 'x', lvm: 'vg', dir: '/srv' })).toThrow('--lvm, --dir and --image-dev are alternatives: give one');
  });
});
