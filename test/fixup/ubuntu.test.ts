// Every fixup on a tree shaped like an Ubuntu 22.04 with netplan, merged /usr and systemd 249,
// cloned from a Dom0 on a container host: /.dockerenv, policy-rc.d, persistent-net rules,
// xendomains enabled, MariaDB enabled with /var left out. The domain boots a Dom0 kernel, so its
// modules are copied in.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vifMac } from '../../src/xen/domain.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';
import { itemize, makeUbuntu, overlay, type Overlay } from './guests.js';
import { checkPlanAndRun, stage, type Checked } from './plan-check.js';

const scratch = scratchDir('fixup-ubuntu');
const mounts: Overlay[] = [];
let o: Overlay;
let checked: Checked;
const DOM0_KERNEL = '6.1.0-99-amd64';
const modulesSource = join(scratch.dir, 'dom0-lib-modules');
const kernelImage = join(scratch.dir, `vmlinuz-${DOM0_KERNEL}`);

const domain = domainFromOptions({
  hostname: 'fleance', kernel: kernelImage, dir: '/srv/xen', ip: '198.51.100.5', netmask: '24', gateway: '198.51.100.1', nameservers: ['198.51.100.53'],
});

/** A Dom0 modules tree for the kernel the domain boots: files, a subdirectory, a symlink, odd modes. */
function makeDom0Modules(): void {
  const d = join(modulesSource, DOM0_KERNEL);
  mkdirSync(join(d, 'kernel', 'drivers', 'block'), { recursive: true });
  writeFileSync(join(d, 'kernel', 'drivers', 'block', 'xen-blkfront.ko'), Buffer.alloc(70_000, 7));
  writeFileSync(join(d, 'modules.dep'), 'kernel/drivers/block/xen-blkfront.ko:\n');
  chmodSync(join(d, 'modules.dep'), 0o600);
  symlinkSync('/usr/src/linux-headers-6.1.0-99-amd64', join(d, 'build'));
  writeFileSync(kernelImage, 'kernel image\n');
}

beforeAll(async () => {
  makeDom0Modules();
  o = overlay(makeUbuntu(join(scratch.dir, 'tree')), join(scratch.dir, 'ov'));
  mounts.push(o);
  checked = await checkPlanAndRun(o, { domain, modulesSource, excluded: ['/var'], removeNetGenerator: true });
});

afterAll(() => {
  for (const m of mounts) m.unmount();
  scratch.cleanup();
});

const at = (p: string) => join(o.merged, p);
const text = (p: string) => readFileSync(at(p), 'utf8');

describe('fixups on an Ubuntu 22.04 shaped tree with netplan (root)', () => {
  it('detects Ubuntu 22.04 (os-release behind a symlink), systemd through /sbin -> usr/sbin', () => {
    expect(checked.real.guest.distro).toMatchObject({ family: 'debian', id: 'ubuntu', version: '22.04' });
    expect(checked.real.guest.init).toBe('systemd');
    expect(checked.real.console).toBe('hvc0');
  });

  it('writes a netplan file matching the domain\'s MAC, static, 0600, and flags the other one', () => {
    const y = parse(text('etc/netplan/60-domu-forge.yaml'));
    expect(y).toEqual({
      network: {
        version: 2,
        ethernets: {
          'xen-vif0': {
            match: { macaddress: vifMac(domain, 0) },
            dhcp4: false,
            addresses: ['198.51.100.5/24'],
            routes: [{ to: '0.0.0.0/0', via: '198.51.100.1' }],
            nameservers: { addresses: ['198.51.100.53'] },
          },
        },
      },
    });
    expect(lstatSync(at('etc/netplan/60-domu-forge.yaml')).mode & 0o777).toBe(0o600);
    expect(stage(checked.real, 'network').notes).toEqual(['/etc/netplan/50-cloud-init.yaml also configures ethernets; netplan merges it with ours: check it, or remove it']);
    expect(existsSync(at('etc/udev/rules.d/70-persistent-net.rules'))).toBe(false);
  });

  it('netplan itself (netplan.io) accepts the file and renders it for networkd', () => {
    execFileSync('netplan', ['generate', '--root-dir', o.merged], { stdio: 'pipe' });
    const unit = readFileSync(at('run/systemd/network/10-netplan-xen-vif0.network'), 'utf8');
    expect(unit).toContain(`[Match]\nPermanentMACAddress=${vifMac(domain, 0)}\n`);
    expect(unit).toContain('Address=198.51.100.5/24\nDNS=198.51.100.53\n');
    expect(unit).toContain('[Route]\nDestination=0.0.0.0/0\nGateway=198.51.100.1\n');
  });

  it('removes the container markers and the policy-rc.d blocker', () => {
    for (const p of ['.dockerenv', 'run/.containerenv', 'usr/sbin/policy-rc.d']) expect(existsSync(at(p)), p).toBe(false);
  });

  it('disables xendomains (wants link gone, masked as systemctl mask does)', () => {
    expect(existsSync(at('etc/systemd/system/multi-user.target.wants/xendomains.service'))).toBe(false);
    expect(readlinkSync(at('etc/systemd/system/xendomains.service'))).toBe('/dev/null');
    // systemctl's own mask on the pristine tree makes the same link
    const other = overlay(o.lower, join(scratch.dir, 'ov-systemctl'));
    mounts.push(other);
    execFileSync('systemctl', [`--root=${other.merged}`, 'mask', 'xendomains.service'], { stdio: 'pipe' });
    expect(readlinkSync(join(other.merged, 'etc/systemd/system/xendomains.service'))).toBe('/dev/null');
  });

  it('reports MariaDB, whose /var/lib/mysql was under the excluded /var', () => {
    expect(stage(checked.real, 'host-leftovers').notes).toEqual([
      'service mariadb is enabled but its state /var/lib/mysql was under the excluded /var and is missing: copy that data, or disable the service',
    ]);
  });

  it('copies the Dom0 kernel\'s modules exactly (rsync -aHAXc finds no difference)', () => {
    expect(stage(checked.real, 'kernel-modules').actions).toEqual([
      { kind: 'copy-tree', path: `/usr/lib/modules/${DOM0_KERNEL}`, from: join(modulesSource, DOM0_KERNEL) },
    ]);
    expect(itemize(join(modulesSource, DOM0_KERNEL), at(`usr/lib/modules/${DOM0_KERNEL}`))).toEqual([]);
  });

  it('fstab: the UUID root becomes /dev/xvda1; the swap file line stays (no swap disk in the domain)', () => {
    expect(text('etc/fstab')).toBe('/dev/xvda1\t/\text4\terrors=remount-ro\t0\t1\n/swap.img none swap sw 0 0\n');
  });

  it('hostname, hosts (127.0.1.1 dom0 line gives way to the static address), machine-id kept 0444', () => {
    expect(text('etc/hostname')).toBe('fleance\n');
    expect(text('etc/hosts')).toBe('127.0.0.1 localhost\n198.51.100.5\tfleance\n\n# The following lines are desirable for IPv6 capable hosts\n::1     ip6-localhost ip6-loopback\n');
    expect(text('etc/machine-id')).toBe('');
    expect(lstatSync(at('etc/machine-id')).mode & 0o777).toBe(0o444);
  });

  it('modules-load.d gets xenblk and xennet (the /etc/modules link is read, not written through)', () => {
    expect(text('etc/modules-load.d/xen-domu.conf')).toContain('xenblk\nxennet\n');
    expect(text('etc/modules')).toBe('# /etc/modules: kernel modules to load at boot time.\n');
    expect(readlinkSync(at('etc/modules-load.d/modules.conf'))).toBe('../modules');
  });
});
