// The domain model from xen-create-image style options: xen-tools' disk layouts and the conflicts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { domainFromOptions, parseMiB, readDomainFile } from '../../src/xen/options.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-xenopts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('domainFromOptions', () => {
  it('defaults: /srv/xen image, root alone on xvda1, 512 MiB, one DHCP-less vif', () => {
    expect(domainFromOptions({ hostname: 'web1.example.org' })).toEqual({
      name: 'web1',
      type: 'pv',
      memory: 512,
      vcpus: 1,
      disks: [{ target: '/srv/xen/domains/web1/disk.img', vdev: 'xvda1', backend: 'file', access: 'rw', mounts: [{ mountpoint: '/', fs: 'ext4' }] }],
      vifs: [{}],
    });
  });

  it('--lvm with swap: xen-tools names, root on xvda2 listed first, swap on xvda1', () => {
    const d = domainFromOptions({ hostname: 'db', lvm: 'vg0', swap: '1G', fs: 'xfs', memory: '1.5G', maxmem: 2048 });
    expect(d.disks).toEqual([
      { target: '/dev/vg0/db-disk', vdev: 'xvda2', backend: 'phy', access: 'rw', mounts: [{ mountpoint: '/', fs: 'xfs' }] },
      { target: '/dev/vg0/db-swap', vdev: 'xvda1', backend: 'phy', access: 'rw', mounts: [{ mountpoint: 'swap', fs: 'swap' }] },
    ]);
    expect(d.memory).toBe(1536);
    expect(d.maxmem).toBe(2048);
  });

  it('swap "0" means none; --dir trailing slashes are dropped; --image-dev and --swap-dev are used as given', () => {
    expect(domainFromOptions({ hostname: 'a', lvm: 'vg', swap: '0' }).disks).toHaveLength(1);
    expect(domainFromOptions({ hostname: 'a', dir: '/data//', swap: 256 }).disks.map((x) => x.target)).toEqual(['/data/domains/a/disk.img', '/data/domains/a/swap.img']);
    const d = domainFromOptions({ hostname: 'a', imageDev: '/dev/sdb1', swapDev: '/srv/a-swap.img' });
    expect(d.disks.map((x) => [x.target, x.vdev, x.backend])).toEqual([['/dev/sdb1', 'xvda2', 'phy'], ['/srv/a-swap.img', 'xvda1', 'file']]);
  });

  it('network, boot and lifecycle options reach the model', () => {
    const d = domainFromOptions({
      hostname: 'n', ip: '10.0.0.5', netmask: '24', gateway: '10.0.0.1', mac: '00:16:3e:00:00:01', bridge: 'xenbr0', nameservers: ['9.9.9.9'],
      pygrub: true, extra: 'quiet', console: 'xvc0', onCrash: 'restart', onReboot: 'restart', onPoweroff: 'destroy', vcpus: 2, type: 'pvh',
    });
    expect(d.vifs).toEqual([{ ip: '10.0.0.5', netmask: '24', gateway: '10.0.0.1', mac: '00:16:3e:00:00:01', bridge: 'xenbr0', nameservers: ['9.9.9.9'] }]);
    expect(d).toMatchObject({ bootloader: 'pygrub', extra: 'quiet', console: 'xvc0', onCrash: 'restart', onReboot: 'restart', onPoweroff: 'destroy', vcpus: 2, type: 'pvh' });
    expect(domainFromOptions({ hostname: 'n', pvgrub: true }).bootloader).toBe('pvgrub');
    expect(domainFromOptions({ hostname: 'n', kernel: '/boot/k', initrd: '/boot/i', root: '/dev/xvda1', dhcp: true })).toMatchObject({ kernel: '/boot/k', ramdisk: '/boot/i', root: '/dev/xvda1', vifs: [{ dhcp: true }] });
  });

  it('refuses what conflicts, with the code the CLI maps', () => {
    expect(() => domainFromOptions({ hostname: '' })).toThrow(expect.objectContaining({ code: 'USAGE', message: 'a hostname is required (--hostname)' }));
    expect(() => domainFromOptions({ hostname: 'a', lvm: 'vg', dir: '/d' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => domainFromOptions({ hostname: 'a', pygrub: true, pvgrub: true })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => domainFromOptions({ hostname: 'a', pygrub: true, kernel: '/boot/k' })).toThrow(/PyGRUB takes the kernel/);
    expect(() => domainFromOptions({ hostname: 'a', memory: 'lots' })).toThrow('memory: "lots" is not a size (512M, 1G, or MiB)');
  });
});

describe('parseMiB', () => {
  it('reads MiB numbers and sizes; refuses the rest naming the field', () => {
    expect(parseMiB(512, 'memory')).toBe(512);
    expect(parseMiB('2G', 'memory')).toBe(2048);
    expect(parseMiB('1Gb', 'maxmem')).toBe(1024);
    expect(() => parseMiB(-1, 'maxmem')).toThrow('maxmem: -1 is not a number of MiB');
  });
});

describe('readDomainFile', () => {
  const put = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  it('reads YAML and JSON, filling type, vcpus, vifs and disks', async () => {
    expect(await readDomainFile(put('a.yaml', 'name: a\nmemory: 256\n'))).toEqual({ name: 'a', memory: 256, type: 'pv', vcpus: 1, vifs: [], disks: [] });
    expect(await readDomainFile(put('b.json', '{"name":"b","memory":128,"type":"hvm","disks":[{"target":"/x","vdev":"xvda","backend":"file"}]}'))).toMatchObject({ name: 'b', type: 'hvm', disks: [{ target: '/x' }] });
  });
  it('refuses files of the wrong shape with one line naming the file', async () => {
    await expect(readDomainFile(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/^cannot read domain file .*missing\.yaml: /) });
    await expect(readDomainFile(put('bad.yaml', 'name: [\n'))).rejects.toThrow(/is not valid YAML or JSON/);
    await expect(readDomainFile(put('list.yaml', '- a\n'))).rejects.toThrow(/expected a mapping of domain fields/);
    await expect(readDomainFile(put('disks.yaml', 'name: a\ndisks: x\n'))).rejects.toThrow(/disks must be a list/);
    await expect(readDomainFile(put('vifs.yaml', 'name: a\nvifs: {}\n'))).rejects.toThrow(/vifs must be a list/);
    await expect(readDomainFile(put('disk0.yaml', 'name: a\ndisks: [3]\n'))).rejects.toThrow(/disks\[0\] must be a mapping/);
    await expect(readDomainFile(put('mounts.yaml', 'name: a\ndisks: [{mounts: 1}]\n'))).rejects.toThrow(/disks\[0\]\.mounts must be a list/);
  });
});
