// The domain model's derived values: devices, root=, console, the kernel line, MACs, netmasks.
import { describe, expect, it } from 'vitest';
import {
  defaultMountOptions, deriveMac, domainConsole, dottedNetmask, guestDevices, isIpv4, kernelCommandLine, kernelRoot, prefixLength, rootDevice, vifMac, type XenDomain,
} from '../../src/xen/domain.js';

const base: XenDomain = {
  name: 'web1',
  type: 'pv',
  memory: 512,
  vcpus: 1,
  disks: [
    { target: '/dev/vg0/web1-disk', vdev: 'xvda', backend: 'phy', mounts: [{ partition: 1, mountpoint: '/boot', fs: 'ext2' }, { partition: 2, mountpoint: '/', fs: 'ext4' }] },
    { target: '/dev/vg0/web1-swap', vdev: 'xvdb', backend: 'phy', mounts: [{ mountpoint: 'swap', fs: 'swap' }] },
    { target: '/srv/iso', vdev: 'xvdc', backend: 'file' },
  ],
  vifs: [{}, { mac: '00:16:3E:AA:BB:CC' }],
};

describe('devices', () => {
  it('lists every mount in disk order, a partition appended to its vdev', () => {
    expect(guestDevices(base).map((d) => [d.device, d.vdev, d.partition, d.mount.mountpoint])).toEqual([
      ['/dev/xvda1', 'xvda', 1, '/boot'],
      ['/dev/xvda2', 'xvda', 2, '/'],
      ['/dev/xvdb', 'xvdb', undefined, 'swap'],
    ]);
    expect(rootDevice(base)?.device).toBe('/dev/xvda2');
    expect(kernelRoot(base)).toBe('/dev/xvda2');
    expect(kernelRoot({ ...base, root: '/dev/xvdz' })).toBe('/dev/xvdz');
    expect(kernelRoot({ ...base, disks: [] })).toBeUndefined();
  });
});

describe('console and kernel line', () => {
  it('picks the console: given, ttyS0 for HVM, xvc0 for a legacy kernel, hvc0 otherwise', () => {
    expect(domainConsole(base)).toBe('hvc0');
    expect(domainConsole(base, true)).toBe('xvc0');
    expect(domainConsole({ ...base, type: 'hvm' }, true)).toBe('ttyS0');
    expect(domainConsole({ ...base, console: 'xvc0' })).toBe('xvc0');
  });

  it('builds root=, ro, console= and the extra arguments', () => {
    expect(kernelCommandLine(base)).toBe('root=/dev/xvda2 ro console=hvc0');
    expect(kernelCommandLine({ ...base, extra: '  quiet elevator=noop ' }, true)).toBe('root=/dev/xvda2 ro console=xvc0 quiet elevator=noop');
    expect(kernelCommandLine({ ...base, extra: 'console=tty0 quiet' })).toBe('root=/dev/xvda2 ro console=tty0 quiet');
    expect(kernelCommandLine({ ...base, disks: [] })).toBe('console=hvc0');
  });
});

describe('MACs', () => {
  it('derives a stable MAC in Xen\'s 00:16:3e range, unicast and local to the name and index', () => {
    const a = deriveMac('web1');
    expect(a).toMatch(/^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
    expect(deriveMac('web1', 0)).toBe(a);
    expect(deriveMac('web1', 1)).not.toBe(a);
    expect(deriveMac('web2')).not.toBe(a);
    expect(vifMac(base, 0)).toBe(a);
    expect(vifMac(base, 1)).toBe('00:16:3e:aa:bb:cc');
  });
});

describe('addresses', () => {
  it('prefixLength reads dotted masks and lengths, refusing holes and out-of-range values', () => {
    expect(prefixLength('255.255.255.0')).toBe(24);
    expect(prefixLength('255.255.255.255')).toBe(32);
    expect(prefixLength('0.0.0.0')).toBe(0);
    expect(prefixLength('255.255.240.0')).toBe(20);
    expect(prefixLength('16')).toBe(16);
    expect(prefixLength('32')).toBe(32);
    expect(prefixLength('33')).toBeUndefined();
    expect(prefixLength('255.0.255.0')).toBeUndefined();
    expect(prefixLength('255.255.256.0')).toBeUndefined();
    expect(prefixLength('255.255.255')).toBeUndefined();
  });

  it('dottedNetmask is its inverse', () => {
    for (let p = 0; p <= 32; p++) expect(prefixLength(dottedNetmask(p))).toBe(p);
    expect(dottedNetmask(24)).toBe('255.255.255.0');
    expect(dottedNetmask(0)).toBe('0.0.0.0');
  });

  it('isIpv4 takes dotted quads without leading zeros', () => {
    expect(isIpv4('192.168.1.10')).toBe(true);
    expect(isIpv4('0.0.0.0')).toBe(true);
    expect(isIpv4('192.168.01.1')).toBe(false);
    expect(isIpv4('256.1.1.1')).toBe(false);
    expect(isIpv4('1.2.3')).toBe(false);
    expect(isIpv4('a.b.c.d')).toBe(false);
  });

  it('defaultMountOptions per filesystem', () => {
    expect(defaultMountOptions('ext4', '/')).toBe('errors=remount-ro');
    expect(defaultMountOptions('ext4', '/srv')).toBe('defaults');
    expect(defaultMountOptions('xfs', '/')).toBe('defaults');
    expect(defaultMountOptions('swap', 'swap')).toBe('sw');
  });
});
