// The config writer on reference domains: the exact text, and every field as Python reads it (an
// xl config is Python-compatible assignments, and the xm form is Python).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveMac, type XenDomain } from '../../src/xen/domain.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { renderXlConfig, renderXmConfig } from '../../src/xen/render.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('xen-render');
afterAll(() => scratch.cleanup());

let kernel: string;
let initrd: string;
let image: string;
let swapImage: string;
let lv: string;

beforeAll(() => {
  mkdirSync(join(scratch.dir, 'boot'));
  kernel = join(scratch.dir, 'boot', 'vmlinuz-6.1.0-18-amd64');
  initrd = join(scratch.dir, 'boot', 'initrd.img-6.1.0-18-amd64');
  writeFileSync(kernel, 'k');
  writeFileSync(initrd, 'i');
  mkdirSync(join(scratch.dir, 'domains', 'duncan'), { recursive: true });
  image = join(scratch.dir, 'domains', 'duncan', 'disk.img');
  swapImage = join(scratch.dir, 'domains', 'duncan', 'swap.img');
  writeFileSync(image, '');
  writeFileSync(swapImage, '');
  // a real block device node stands in for an LVM volume
  lv = join(scratch.dir, 'scotland-malcom-disk');
  execFileSync('mknod', [lv, 'b', '7', '200']);
});

/** Read a config file the way Python does: every assignment, as JSON. */
function pythonFields(text: string): Record<string, unknown> {
  const out = execFileSync('python3', ['-c', 'import json,sys\nd={}\nexec(sys.stdin.read(), {}, d)\nprint(json.dumps(d))'], { input: text, encoding: 'utf8' });
  return JSON.parse(out) as Record<string, unknown>;
}

describe('xl config of reference domains (root)', () => {
  it('duncan: a Dom0 kernel, image files, static address, maxmem', () => {
    const d = domainFromOptions({
      hostname: 'duncan', kernel, initrd, dir: scratch.dir, swap: '512M', memory: '1G', maxmem: '2G', vcpus: 2,
      ip: '192.0.2.10', gateway: '192.0.2.1', bridge: 'xenbr0',
    });
    const text = renderXlConfig(d);
    const mac = deriveMac('duncan', 0);
    expect(text).toBe(`# Xen domain "duncan" (xl config), written by domu-forge.

name        = "duncan"
type        = "pv"
memory      = 1024
maxmem      = 2048
vcpus       = 2

kernel      = "${kernel}"
ramdisk     = "${initrd}"
root        = "/dev/xvda2 ro"
extra       = "console=hvc0"

disk        = [
    'format=raw, vdev=xvda2, access=rw, target=${image}',
    'format=raw, vdev=xvda1, access=rw, target=${swapImage}',
]
vif         = [ 'mac=${mac}, bridge=xenbr0, ip=192.0.2.10' ]

on_poweroff = "destroy"
on_reboot   = "restart"
on_crash    = "restart"
`);
    expect(pythonFields(text)).toEqual({
      name: 'duncan', type: 'pv', memory: 1024, maxmem: 2048, vcpus: 2, kernel, ramdisk: initrd, root: '/dev/xvda2 ro', extra: 'console=hvc0',
      disk: [`format=raw, vdev=xvda2, access=rw, target=${image}`, `format=raw, vdev=xvda1, access=rw, target=${swapImage}`],
      vif: [`mac=${mac}, bridge=xenbr0, ip=192.0.2.10`], on_poweroff: 'destroy', on_reboot: 'restart', on_crash: 'restart',
    });
    expect(mac).toMatch(/^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
    expect(deriveMac('duncan', 0)).toBe(mac); // stable
    expect(deriveMac('duncan', 1)).not.toBe(mac);
    expect(deriveMac('banquo', 0)).not.toBe(mac);
  });

  it('malcom: PyGRUB on an LVM volume (phy:), legacy console, given MAC, lifecycle actions; and its xm form', () => {
    const d: XenDomain = {
      name: 'malcom', type: 'pv', memory: 256, vcpus: 1, bootloader: 'pygrub', console: 'xvc0',
      disks: [{ target: lv, vdev: 'xvda1', backend: 'phy', mounts: [{ mountpoint: '/', fs: 'ext3' }] }],
      vifs: [{ mac: '00:16:3E:AA:BB:CC', bridge: 'xenbr1' }],
      onPoweroff: 'destroy', onReboot: 'restart', onCrash: 'preserve',
    };
    expect(pythonFields(renderXlConfig(d))).toEqual({
      name: 'malcom', type: 'pv', memory: 256, vcpus: 1, bootloader: 'pygrub',
      disk: [`phy:${lv},xvda1,w`], vif: ['mac=00:16:3e:aa:bb:cc, bridge=xenbr1'],
      on_poweroff: 'destroy', on_reboot: 'restart', on_crash: 'preserve',
    });
    expect(pythonFields(renderXmConfig(d))).toEqual({
      name: 'malcom', memory: 256, vcpus: 1, bootloader: '/usr/bin/pygrub',
      disk: [`phy:${lv},xvda1,w`], vif: ['mac=00:16:3e:aa:bb:cc, bridge=xenbr1'],
      on_poweroff: 'destroy', on_reboot: 'restart', on_crash: 'preserve',
    });
  });

  it('banquo: the seed\'s sda-style disk in the file: form, extra kept after console=', () => {
    const d: XenDomain = {
      name: 'banquo', type: 'pv', memory: 512, vcpus: 1, kernel, extra: 'elevator=noop',
      disks: [{ target: image, vdev: 'xvda1', backend: 'file', keyValue: false, access: 'ro', mounts: [{ mountpoint: '/', fs: 'ext4' }] }],
      vifs: [{}],
    };
    const f = pythonFields(renderXlConfig(d));
    expect(f.disk).toEqual([`file:${image},xvda1,r`]);
    expect(f.extra).toBe('console=hvc0 elevator=noop');
    expect(f.vif).toEqual([`mac=${deriveMac('banquo', 0)}`]);
    expect(pythonFields(renderXmConfig(d)).disk).toEqual([`file:${image},xvda1,r`]);
  });

  it('an HVM domain with a qcow2 image: builder hvm and tap:qcow2: in xm; pvh has no xm form', () => {
    const d: XenDomain = { name: 'hvm1', type: 'hvm', memory: 1024, vcpus: 2, disks: [{ target: image, vdev: 'xvda', backend: 'file', format: 'qcow2' }], vifs: [] };
    const xl = pythonFields(renderXlConfig(d));
    expect(xl).toMatchObject({ type: 'hvm', disk: [`format=qcow2, vdev=xvda, access=rw, target=${image}`], vif: [] });
    expect(xl.kernel).toBeUndefined();
    const xm = pythonFields(renderXmConfig(d));
    expect(xm).toMatchObject({ builder: 'hvm', kernel: '/usr/lib/xen/boot/hvmloader', disk: [`tap:qcow2:${image},xvda,w`] });
    expect(() => renderXmConfig({ ...d, type: 'pvh', kernel, root: '/dev/xvda' })).toThrow('type pvh has no xm form: write an xl config instead');
  });
});
