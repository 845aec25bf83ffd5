// Every fixup on a tree shaped like a CentOS 5 Dom0 clone: sysvinit, inittab, securetty,
// modprobe.conf, ifcfg, a Red Hat XenLinux kernel (xvc0, xenblk), xend enabled, SELinux enforcing.

import { readFileSync, readlinkSync, statSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainFromOptions } from '../../src/xen/options.js';
import { vifMac } from '../../src/xen/domain.js';
import { scratchDir } from '../helpers/run.js';
import { CENTOS5_KERNEL, makeCentos5, overlay, type Overlay } from './guests.js';
import { checkPlanAndRun, stage, type Checked } from './plan-check.js';

const scratch = scratchDir('fixup-centos5');
const mounts: Overlay[] = [];
let o: Overlay;
let checked: Checked;

const domain = domainFromOptions({
  hostname: 'malcom.example.com', pygrub: true, lvm: 'scotland', swap: '1G', fs: 'ext3',
  ip: '192.0.2.20', netmask: '255.255.255.0', gateway: '192.0.2.1', bridge: 'xenbr0',
});

beforeAll(async () => {
  o = overlay(makeCentos5(join(scratch.dir, 'tree')), join(scratch.dir, 'ov'));
  mounts.push(o);
  checked = await checkPlanAndRun(o, { domain, hostname: 'malcom.example.com', excluded: ['/var', '/home'] });
});

afterAll(() => {
  for (const m of mounts) m.unmount();
  scratch.cleanup();
});

const text = (p: string) => readFileSync(join(o.merged, p), 'utf8');

describe('fixups on a CentOS 5 shaped tree (root)', () => {
  it('detects CentOS 5.11, sysvinit and the Red Hat XenLinux kernel from the guest', () => {
    const r = checked.real;
    expect(r.guest.distro).toMatchObject({ family: 'redhat', id: 'centos', version: '5.11', major: 5 });
    expect(r.guest.init).toBe('sysvinit');
    expect(r.kernel).toMatchObject({ flavour: 'redhat-xen', version: CENTOS5_KERNEL });
    expect(r.console).toBe('xvc0');
  });

  it('adds the seed\'s xvc0 getty to inittab after the other gettys', () => {
    const lines = text('etc/inittab').split('\n');
    const i = lines.indexOf('xvc:2345:respawn:/sbin/agetty -L xvc0 9600 vt100');
    expect(i).toBeGreaterThan(0);
    expect(lines[i - 1]).toBe('2:2345:respawn:/sbin/mingetty tty2');
    expect(lines.filter((l) => l.includes('xvc0'))).toHaveLength(1);
  });

  it('allows root on xvc0 in securetty', () => {
    expect(text('etc/securetty')).toBe('console\nvc/1\nvc/2\ntty1\ntty2\nxvc0\n');
  });

  it('points modprobe.conf at xennet and xenblk', () => {
    expect(text('etc/modprobe.conf')).toBe('alias eth0 xennet\nalias scsi_hostadapter ata_piix\nalias scsi_hostadapter1 xenblk\n');
  });

  it('replaces the LABEL= root and swap lines with the domain\'s devices and keeps the rest', () => {
    expect(text('etc/fstab')).toBe([
      '/dev/xvda2\t/\text3\terrors=remount-ro\t0\t1',
      'tmpfs                   /dev/shm                tmpfs   defaults        0 0',
      'devpts                  /dev/pts                devpts  gid=5,mode=620  0 0',
      'sysfs                   /sys                    sysfs   defaults        0 0',
      'proc                    /proc                   proc    defaults        0 0',
      '/dev/xvda1\tnone\tswap\tsw\t0\t0',
      '',
    ].join('\n'));
  });

  it('makes xvda nodes with major 202 (Red Hat\'s blkfront); udev runs, so no console nodes', () => {
    expect(statSync(join(o.merged, 'dev/xvda1')).rdev).toBe(202 * 256 + 1);
    expect(existsSync(join(o.merged, 'dev/console'))).toBe(false);
  });

  it('replaces the Dom0\'s menu.lst (xen.gz entries) by one for PyGRUB with the XenLinux kernel', () => {
    const menu = text('boot/grub/menu.lst');
    expect(menu).toContain(`  kernel /boot/vmlinuz-${CENTOS5_KERNEL} root=/dev/xvda2 ro console=xvc0\n  initrd /boot/initrd-${CENTOS5_KERNEL}.img\n`);
    expect(menu).not.toContain('xen.gz');
    expect(stage(checked.real, 'bootloader').notes).toEqual(['replaced a /boot/grub/menu.lst that domu-forge did not write']);
  });

  it('writes ifcfg-eth0 with the domain\'s static address and MAC, and the hostname into sysconfig/network', () => {
    expect(text('etc/sysconfig/network-scripts/ifcfg-eth0')).toBe([
      '# written by domu-forge', 'DEVICE=eth0', `HWADDR=${vifMac(domain, 0)}`, 'TYPE=Ethernet', 'ONBOOT=yes',
      'BOOTPROTO=none', 'IPADDR=192.0.2.20', 'NETMASK=255.255.255.0', 'GATEWAY=192.0.2.1', '',
    ].join('\n'));
    expect(text('etc/sysconfig/network')).toBe('NETWORKING=yes\nNETWORKING_IPV6=no\nHOSTNAME=malcom.example.com\n');
    expect(existsSync(join(o.merged, 'etc/hostname'))).toBe(false);
    // the Dom0's own address line loses the Dom0's name (and, empty, goes); the domain's address gets the new one
    expect(text('etc/hosts')).toBe('127.0.0.1\tlocalhost.localdomain localhost\n192.0.2.20\tmalcom.example.com malcom\n');
  });

  it('turns xend and xendomains start links into kill links, as update-rc.d/chkconfig off do', () => {
    expect(readdirSync(join(o.merged, 'etc/rc.d/rc3.d')).sort()).toEqual(['K02xend', 'K02xendomains', 'S55sshd']);
    expect(readlinkSync(join(o.merged, 'etc/rc.d/rc3.d/K02xend'))).toBe('../init.d/xend');
    expect(readdirSync(join(o.merged, 'etc/rc.d/rc5.d'))).toEqual(['K02xend']);
  });

  it('schedules an SELinux relabel; removes ssh host keys; keeps shadow 0400', () => {
    expect(existsSync(join(o.merged, '.autorelabel'))).toBe(true);
    expect(readdirSync(join(o.merged, 'etc/ssh'))).toEqual([]);
    expect(stage(checked.real, 'identity').notes).toEqual([]);
    expect(statSync(join(o.merged, 'etc/shadow')).mode & 0o7777).toBe(0o400);
  });
});
