// What the fixups detect about a guest, from small trees: distribution, init, udev, kernels.
import { afterAll, describe, expect, it } from 'vitest';
import { classifyHostKernel, classifyKernel, compareVersions, detectGuest, kernelVersionOfImage } from '../../src/fixup/detect.js';
import { GuestFs } from '../../src/guest/guest-fs.js';
import { GuestView } from '../../src/fixup/plan.js';
import { tempGuests } from './stage-tree.js';

const g = tempGuests('detect');
afterAll(() => g.cleanup());
const detect = (files: Parameters<typeof g.tree>[0]) => detectGuest(new GuestView(new GuestFs(g.tree(files))));

describe('distribution', () => {
  it('reads os-release: quotes, escapes, ID_LIKE, the major version', async () => {
    const d = (await detect({ 'etc/os-release': 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky \\"Blue\\" Onyx"\n' })).distro;
    expect(d).toEqual({ family: 'redhat', id: 'rocky', version: '9.3', major: 9, name: 'Rocky "Blue" Onyx' });
  });

  it('falls back to /usr/lib/os-release, and Debian testing to debian_version', async () => {
    const d = (await detect({ 'usr/lib/os-release': 'ID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n', 'etc/debian_version': 'trixie/sid\n' })).distro;
    expect(d).toEqual({ family: 'debian', id: 'debian', version: 'trixie/sid', name: 'Debian GNU/Linux trixie/sid' });
  });

  it('reads old release files when there is no os-release', async () => {
    expect((await detect({ 'etc/redhat-release': 'CentOS release 5.11 (Final)\n' })).distro).toEqual({ family: 'redhat', id: 'centos', version: '5.11', major: 5, name: 'CentOS release 5.11 (Final)' });
    expect((await detect({ 'etc/debian_version': '5.0.10\n' })).distro).toEqual({ family: 'debian', id: 'debian', version: '5.0.10', major: 5, name: 'Debian 5.0.10' });
    expect((await detect({ 'etc/SuSE-release': 'SUSE Linux Enterprise Server 11\n' })).distro.family).toBe('suse');
    expect((await detect({ 'etc/hostname': 'x\n' })).distro).toEqual({ family: 'unknown', id: 'linux', version: '', name: 'unknown Linux' });
  });

  it('families from ID and ID_LIKE', async () => {
    const fam = async (osr: string) => (await detect({ 'etc/os-release': osr })).distro.family;
    expect(await fam('ID=ubuntu\nID_LIKE=debian\n')).toBe('debian');
    expect(await fam('ID=linuxmint\nID_LIKE="ubuntu debian"\n')).toBe('debian');
    expect(await fam('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n')).toBe('suse');
    expect(await fam('ID=arch\n')).toBe('arch');
    expect(await fam('ID=alpine\n')).toBe('alpine');
    expect(await fam('ID=gentoo\n')).toBe('unknown');
  });
});

describe('init and udev', () => {
  it('systemd: /sbin/init a link to systemd, or systemd installed', async () => {
    expect((await detect({ 'lib/systemd/systemd': '\x7fELF\n', 'sbin/init': { link: '/lib/systemd/systemd' } })).init).toBe('systemd');
    expect((await detect({ 'usr/lib/systemd/systemd': '\x7fELF\n' })).init).toBe('systemd');
  });

  it('sysvinit: an init binary and an inittab with respawn lines', async () => {
    const r = await detect({ 'sbin/init': '\x7fELF\n', 'etc/inittab': 'id:2:initdefault:\n1:2345:respawn:/sbin/getty 38400 tty1\n' });
    expect(r.init).toBe('sysvinit');
  });

  it('upstart: initctl and jobs, even with a leftover default-runlevel inittab', async () => {
    const r = await detect({ 'sbin/init': '\x7fELF\n', 'sbin/initctl': '\x7fELF\n', 'etc/init/tty1.conf': 'respawn\n', 'etc/inittab': 'id:3:initdefault:\n' });
    expect(r.init).toBe('upstart');
    const active = await detect({ 'sbin/init': '\x7fELF\n', 'sbin/initctl': '\x7fELF\n', 'etc/init/x.conf': '', 'etc/inittab': '1:2345:respawn:/sbin/getty tty1\n' });
    expect(active.init).toBe('sysvinit');
  });

  it('unknown without any sign; udev from its binaries', async () => {
    const r = await detect({ 'etc/hostname': 'x\n' });
    expect(r.init).toBe('unknown');
    expect(r.udev).toBe(false);
    expect((await detect({ 'sbin/udevadm': '' })).udev).toBe(true);
    expect((await detect({ 'usr/lib/systemd/systemd-udevd': '' })).udev).toBe(true);
  });
});

describe('kernels', () => {
  it('finds images, initrds and module-only kernels, newest first, with their kind', async () => {
    const r = await detect({
      'boot/vmlinuz-5.10.0-9-amd64': 'k',
      'boot/initrd.img-5.10.0-9-amd64': 'i',
      'boot/vmlinuz-6.1.0-18-amd64': 'k',
      'boot/config-6.1.0-18-amd64': 'CONFIG_XEN_BLKDEV_FRONTEND=m\n',
      'boot/vmlinuz-2.6.18-419.el5xen': 'k',
      'boot/initrd-2.6.18-419.el5xen.img': 'i',
      'lib/modules/6.1.0-18-amd64/modules.dep': '',
      'lib/modules/5.10.0-9-amd64/kernel/drivers/block/xen-blkfront.ko': '',
      'lib/modules/6.10.0-1-amd64/modules.builtin': 'kernel/drivers/block/xen-blkfront.ko\n',
    });
    expect(r.kernels.map((k) => [k.version, k.image, k.initrd, k.flavour])).toEqual([
      ['6.10.0-1-amd64', undefined, undefined, 'mainline'],
      ['6.1.0-18-amd64', '/boot/vmlinuz-6.1.0-18-amd64', undefined, 'mainline'],
      ['5.10.0-9-amd64', '/boot/vmlinuz-5.10.0-9-amd64', '/boot/initrd.img-5.10.0-9-amd64', 'mainline'],
      ['2.6.18-419.el5xen', '/boot/vmlinuz-2.6.18-419.el5xen', '/boot/initrd-2.6.18-419.el5xen.img', 'redhat-xen'],
    ]);
    expect(r.kernels[1]!.evidence).toBe("6.1.0-18-amd64's config has mainline xen-blkfront");
    expect(r.kernels[2]!.evidence).toBe('5.10.0-9-amd64 has mainline xen-blkfront');
  });

  it('classifyKernel tells XenLinux kernels from mainline ones', () => {
    expect(classifyKernel('2.6.18-8.el5', { moduleFiles: ['kernel/drivers/xen/blkfront/xenblk.ko'] }).flavour).toBe('redhat-xen');
    expect(classifyKernel('2.6.18-xen', { moduleFiles: ['kernel/drivers/xen/blkfront/xenblk.ko'] }).flavour).toBe('xensource');
    expect(classifyKernel('2.6.16.33-xen0', { moduleFiles: [] })).toEqual({ flavour: 'xensource', evidence: '2.6.16.33-xen0 is named as a XenSource kernel' });
    expect(classifyKernel('2.6.32-5-xen-amd64', { moduleFiles: [], config: 'CONFIG_X86_XEN=y\n' }).flavour).toBe('xensource');
    expect(classifyKernel('4.19.0', { moduleFiles: [] })).toEqual({ flavour: 'mainline', evidence: '4.19.0: no legacy Xen marks, assuming mainline' });
  });

  it('classifyHostKernel reads a host modules directory, undefined when it knows nothing', () => {
    const mods = g.tree({ '6.1.0-x/kernel/drivers/block/xen-blkfront.ko': '', '2.6.18-y/kernel/drivers/xen/blkfront/xenblk.ko': '' });
    const boot = g.tree({ 'config-3.0-z': 'CONFIG_XEN_COMPAT_030002=y\n' });
    expect(classifyHostKernel('6.1.0-x', mods, boot)?.flavour).toBe('mainline');
    expect(classifyHostKernel('2.6.18-y', mods, boot)?.flavour).toBe('xensource');
    expect(classifyHostKernel('3.0-z', mods, boot)?.flavour).toBe('xensource');
    expect(classifyHostKernel('9.9-none', mods, boot)).toBeUndefined();
  });

  it('compareVersions compares numbers as numbers', () => {
    const sorted = ['5.10.0-9', '6.1.0-18', '6.1.0-2', '2.6.18', '6.10.0'].sort(compareVersions);
    expect(sorted).toEqual(['2.6.18', '5.10.0-9', '6.1.0-2', '6.1.0-18', '6.10.0']);
    expect(compareVersions('1.0', '1.0')).toBe(0);
    expect(compareVersions('1.0', '1.0-rc1')).toBeLessThan(0);
  });

  it('kernelVersionOfImage reads the version from an image path', () => {
    expect(kernelVersionOfImage('/boot/vmlinuz-6.1.0-18-amd64')).toBe('6.1.0-18-amd64');
    expect(kernelVersionOfImage('/boot/vmlinux-2.6.18-xen.gz')).toBe('2.6.18-xen');
    expect(kernelVersionOfImage('/srv/kernel-5.4')).toBe('5.4');
    expect(kernelVersionOfImage('/srv/mykernel')).toBeUndefined();
  });
});
