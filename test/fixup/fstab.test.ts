// updateFstab: the domain's entries replace those for the same mount points; the rest stays.

import { describe, expect, it } from 'vitest';
import { updateFstab } from '../../src/fixup/fstab.js';
import { guestDevices, type XenDomain } from '../../src/xen/domain.js';

const domain: XenDomain = {
  name: 'd', type: 'pv', memory: 512, vcpus: 1, bootloader: 'pygrub', vifs: [],
  disks: [
    { target: '/x', vdev: 'xvda', backend: 'file', mounts: [{ partition: 1, mountpoint: '/', fs: 'xfs' }, { partition: 2, mountpoint: 'swap', fs: 'swap' }] },
    { target: '/y', vdev: 'xvdb', backend: 'file', mounts: [{ mountpoint: '/srv/my data', fs: 'ext4', options: 'noatime' }] },
  ],
};
const devices = guestDevices(domain);

describe('updateFstab', () => {
  it('replaces root and device swap, keeps swap files, NFS, tmpfs and comments in place', () => {
    const before = [
      '# /etc/fstab: static file system information.',
      'UUID=1234 / ext4 errors=remount-ro 0 1',
      'nas:/export /mnt/nas nfs defaults 0 0',
      '/dev/sda5 none swap sw 0 0',
      '/swapfile none swap sw 0 0',
      'tmpfs /tmp tmpfs defaults 0 0',
      '/dev/sdb1 /srv/my\\040data ext4 defaults 0 2',
      '',
    ].join('\n');
    expect(updateFstab(before, devices)).toBe([
      '# /etc/fstab: static file system information.',
      '/dev/xvda1\t/\txfs\tdefaults\t0\t1',
      'nas:/export /mnt/nas nfs defaults 0 0',
      '/dev/xvda2\tnone\tswap\tsw\t0\t0',
      '/swapfile none swap sw 0 0',
      'tmpfs /tmp tmpfs defaults 0 0',
      '/dev/xvdb\t/srv/my\\040data\text4\tnoatime\t0\t2',
      '',
    ].join('\n'));
  });

  it('keeps a user\'s options on an entry that already names the right device, and is idempotent', () => {
    const mine = '/dev/xvda1 / xfs noatime,nodiratime 0 1\n/dev/xvda2 none swap sw,pri=5 0 0\n';
    const once = updateFstab(mine, devices.slice(0, 2));
    expect(once).toBe(mine);
    const fresh = updateFstab('', devices);
    expect(updateFstab(fresh, devices)).toBe(fresh);
  });

  it('drops duplicate entries for a managed mount point', () => {
    expect(updateFstab('LABEL=a / ext4 defaults 0 1\nLABEL=b / ext4 defaults 0 1\n', devices.slice(0, 1))).toBe('/dev/xvda1\t/\txfs\tdefaults\t0\t1\n');
  });
});
