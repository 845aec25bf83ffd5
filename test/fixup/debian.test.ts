// Every fixup on a real debootstrapped Debian bookworm (systemd, udev, ifupdown, openssh-server,
// the stock kernel), on an overlayfs so that the cached guest stays pristine.

import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';
import { debianGuest, overlay, type Overlay } from './guests.js';
import { checkPlanAndRun, stage, type Checked } from './plan-check.js';

const scratch = scratchDir('fixup-debian');
const mounts: Overlay[] = [];
let o: Overlay;
let checked: Checked;

const domain = domainFromOptions({ hostname: 'banquo.example.org', pygrub: true, lvm: 'scotland', swap: '512M', bridge: 'xenbr0', dhcp: true });
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq0k0+example test@domu-forge';
const HASH = '$6$rounds=5000$salt$0123456789abcdefghijklmnopqrstuvwxyzABCDEF';

beforeAll(async () => {
  const lower = debianGuest();
  o = overlay(lower, join(scratch.dir, 'a'));
  mounts.push(o);
  checked = await checkPlanAndRun(o, {
    domain,
    hostname: 'banquo.example.org',
    rootPasswordHash: HASH,
    authorizedKeys: [KEY],
    removeNetGenerator: true,
    excluded: ['/var'],
  });
});

afterAll(() => {
  for (const m of mounts) m.unmount();
  scratch.cleanup();
});

const at = (p: string) => join(o.merged, p);
const text = (p: string) => readFileSync(at(p), 'utf8');

describe('fixups on a debootstrapped Debian bookworm (root, network)', () => {
  it('detects Debian 12, systemd, udev and the mainline kernel from the guest\'s own files', () => {
    const r = checked.real;
    expect(r.guest.distro).toMatchObject({ family: 'debian', id: 'debian', version: '12', major: 12 });
    expect(r.guest.init).toBe('systemd');
    expect(r.guest.udev).toBe(true);
    expect(r.kernel.flavour).toBe('mainline');
    expect(r.kernel.version).toMatch(/^6\.1\.0-\d+-amd64$/);
    expect(r.console).toBe('hvc0');
  });

  it('enables serial-getty@hvc0 with the very symlink systemctl makes', () => {
    const link = 'etc/systemd/system/getty.target.wants/serial-getty@hvc0.service';
    expect(readlinkSync(at(link))).toBe('/lib/systemd/system/serial-getty@.service');
    // the same on a second overlay, by systemctl itself
    const other = overlay(o.lower, join(scratch.dir, 'systemctl'));
    mounts.push(other);
    execFileSync('systemctl', [`--root=${other.merged}`, 'enable', 'serial-getty@hvc0.service'], { stdio: 'pipe' });
    expect(readlinkSync(join(other.merged, link))).toBe(readlinkSync(at(link)));
    expect(other.changes()).toEqual([`/${link}`]);
    // and the getty is asked for whenever udev announces the console, however late
    expect(text('etc/udev/rules.d/90-domu-forge-console-hvc0.rules')).toMatch(/^ACTION=="add", SUBSYSTEM=="tty", KERNEL=="hvc0", TAG\+="systemd", ENV\{SYSTEMD_WANTS\}\+="serial-getty@hvc0.service"$/m);
    expect(existsSync(at('etc/systemd/system/dev-hvc0.device.d'))).toBe(false);
  });

  it('writes fstab from the domain model, keeping the other lines', () => {
    expect(text('etc/fstab')).toBe('# UNCONFIGURED FSTAB FOR BASE SYSTEM\n/dev/xvda2\t/\text4\terrors=remount-ro\t0\t1\n/dev/xvda1\tnone\tswap\tsw\t0\t0\n');
  });

  it('makes /dev/xvda1 and /dev/xvda2 with major 202 (mainline xen-blkfront)', () => {
    const st = statSync(at('dev/xvda1'));
    expect(st.isBlockDevice()).toBe(true);
    expect([Math.floor(st.rdev / 256), st.rdev % 256]).toEqual([202, 1]);
    expect(statSync(at('dev/xvda2')).rdev % 256).toBe(2);
    // udev and systemd manage /dev: only the disk nodes are made
    expect(stage(checked.real, 'devices').actions.map((a) => a.path)).toEqual(['/dev/xvda2', '/dev/xvda1']);
  });

  it('loads xenblk and xennet through modules-load.d', () => {
    expect(text('etc/modules-load.d/xen-domu.conf')).toBe('# Xen front ends (written by domu-forge)\nxenblk\nxennet\n');
  });

  it('writes menu.lst for PyGRUB from the kernel and initrd in /boot', () => {
    const v = checked.real.kernel.version!;
    const menu = text('boot/grub/menu.lst');
    expect(menu).toContain(`  kernel /boot/vmlinuz-${v} root=/dev/xvda2 ro console=hvc0\n`);
    expect(menu).toContain(`  initrd /boot/initrd.img-${v}\n`);
    expect(menu).toContain('title Debian GNU/Linux 12 (bookworm)');
  });

  it('configures enX0 (systemd 252 names Xen\'s netfront so) with DHCP in /etc/network/interfaces', () => {
    expect(text('etc/network/interfaces')).toMatch(/source \/etc\/network\/interfaces\.d\/\*\n\nallow-hotplug enX0\niface enX0 inet dhcp\n$/);
    expect(stage(checked.real, 'kernel-modules').status).toBe('skipped');
  });

  it('gives the guest its identity: hostname, hosts, empty machine-id, no host keys, root hash and key', () => {
    expect(text('etc/hostname')).toBe('banquo.example.org\n');
    expect(text('etc/hosts')).toContain('127.0.1.1\tbanquo.example.org banquo\n');
    expect(text('etc/machine-id')).toBe('');
    expect(statSync(at('etc/machine-id')).mode & 0o777).toBe(0o444);
    expect(readdirSync(at('etc/ssh')).filter((n) => n.startsWith('ssh_host_'))).toEqual([]);
    expect(text('etc/systemd/system/domu-forge-ssh-hostkeys.service')).toContain('ExecStart=/usr/bin/ssh-keygen -A');
    expect(readlinkSync(at('etc/systemd/system/multi-user.target.wants/domu-forge-ssh-hostkeys.service'))).toBe('/etc/systemd/system/domu-forge-ssh-hostkeys.service');
    const shadow = statSync(at('etc/shadow'));
    expect([shadow.mode & 0o7777, shadow.uid, shadow.gid]).toEqual([0o640, 0, 42]);
    expect(text('etc/shadow').split('\n')[0]).toBe(`root:${HASH}:${text('etc/shadow').split('\n')[0]!.split(':').slice(2).join(':')}`);
    expect(text('root/.ssh/authorized_keys')).toBe(`${KEY}\n`);
    expect(statSync(at('root/.ssh')).mode & 0o777).toBe(0o700);
    expect(lstatSync(at('root/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
  });

  it('the unit it adds passes systemd-analyze verify', () => {
    const r = execFileSync('systemd-analyze', [`--root=${o.merged}`, 'verify', '/etc/systemd/system/domu-forge-ssh-hostkeys.service'], { encoding: 'utf8', stdio: 'pipe' });
    expect(r).toBe('');
  });

  it('skips what does not apply, saying why', () => {
    expect(stage(checked.real, 'securetty').reason).toBe('the guest has no /etc/securetty');
    expect(stage(checked.real, 'selinux').reason).toBe('the guest has no /etc/selinux/config');
  });
});
