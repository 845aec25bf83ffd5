// Guest trees for the fixup tests: a real debootstrapped Debian bookworm (cached between runs),
// and small trees shaped like an old CentOS 5 and an Ubuntu 22.04 with netplan. Tests work on an
// overlayfs over a guest, so that the cached tree stays pristine and rsync can list what changed.

import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const GUEST_CACHE = process.env.DOMU_FORGE_GUEST_CACHE || '/var/cache/domu-forge/test-guests';
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const DEBIAN_ARGS = ['--variant=minbase', '--include=systemd-sysv,udev,ifupdown,openssh-server,linux-image-amd64', 'bookworm'];

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * A debootstrapped Debian bookworm with systemd, udev, ifupdown, openssh-server and the stock kernel,
 * built once (about 2 minutes, needs deb.debian.org) and kept under GUEST_CACHE. Read-only for tests.
 */
export function debianGuest(): string {
  const base = join(GUEST_CACHE, 'fixup-bookworm-systemd');
  const marker = join(base, 'complete');
  const key = JSON.stringify([...DEBIAN_ARGS, DEBIAN_MIRROR]);
  const ready = () => existsSync(marker) && readFileSync(marker, 'utf8').trim() === key;
  if (ready()) return join(base, 'root');
  // test files run in parallel workers: one builds, the others wait on the lock and find it built
  mkdirSync(GUEST_CACHE, { recursive: true });
  const script = [
    'set -e',
    '[ -f "$1/complete" ] && [ "$(cat "$1/complete")" = "$2" ] && exit 0',
    'rm -rf "$1.tmp" && mkdir -p "$1.tmp"',
    'base=$1 key=$2',
    'shift 2',
    'debootstrap "$@"',
    'printf "%s\\n" "$key" > "$base.tmp/complete"',
    'rm -rf "$base" && mv "$base.tmp" "$base"',
  ].join('\n');
  run('flock', [`${base}.lock`, 'sh', '-c', script, 'sh', base, key, ...DEBIAN_ARGS, join(`${base}.tmp`, 'root'), DEBIAN_MIRROR]);
  if (!ready()) throw new Error(`the Debian test guest was not built in ${base}`);
  return join(base, 'root');
}

export interface Overlay {
  lower: string;
  merged: string;
  /** rsync's itemized changes between the lower tree and the merged one (the guest as fixed up). */
  changes(): string[];
  unmount(): void;
}

/** Mount an overlayfs with `lower` underneath, in `dir`. The caller unmounts it (afterAll). */
export function overlay(lower: string, dir: string): Overlay {
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  const merged = join(dir, 'merged');
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
  run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  let mounted = true;
  return {
    lower,
    merged,
    changes: () => itemize(lower, merged),
    unmount: () => {
      if (mounted) run('umount', [merged]);
      mounted = false;
    },
  };
}

/**
 * What differs between two trees as "path" entries (removals as "-path"), from rsync -aHAXc
 * --itemize-changes. Directories whose only change is their mtime (an entry added or removed in
 * them) are left out: that is the effect of a change already listed.
 */
export function itemize(a: string, b: string): string[] {
  const r = spawnSync('rsync', ['-aHAXc', '--numeric-ids', '--dry-run', '--itemize-changes', '--delete', `${b}/`, `${a}/`], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`rsync failed: ${r.stderr}`);
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    if (line.startsWith('*deleting')) {
      out.push(`-/${line.slice(10).trim().replace(/\/$/, '')}`);
      continue;
    }
    const flags = line.slice(0, 11);
    const path = line.slice(12).replace(/ -> .*$/, '').replace(/\/$/, '');
    if (flags[1] === 'd' && /^\.d\.\.t\.\.\.\.\.\.$/.test(flags)) continue;
    if (path === '.') continue;
    out.push(`/${path}`);
  }
  return out.sort();
}

// ---- small fixture trees

type Entry = string | { text: string; mode?: number; uid?: number; gid?: number } | { link: string } | { dir: true; mode?: number };

function build(root: string, entries: Record<string, Entry>): void {
  mkdirSync(root, { recursive: true });
  for (const [path, e] of Object.entries(entries)) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof e === 'string') writeFileSync(p, e);
    else if ('link' in e) symlinkSync(e.link, p);
    else if ('dir' in e) {
      mkdirSync(p, { recursive: true });
      if (e.mode !== undefined) chmodSync(p, e.mode);
    } else {
      writeFileSync(p, e.text);
      if (e.uid !== undefined) chownSync(p, e.uid, e.gid ?? 0);
      if (e.mode !== undefined) chmodSync(p, e.mode);
    }
  }
}

const ELF = '\x7fELF fake binary\n';

export const CENTOS5_KERNEL = '2.6.18-398.el5xen';

/**
 * A tree shaped like a CentOS 5 Dom0 clone: sysvinit with inittab and mingetty, securetty,
 * modprobe.conf with the host's drivers, ifcfg files, xend and xendomains enabled, a Red Hat
 * XenLinux kernel, SELinux enforcing. `udev: false` makes /dev static.
 */
export function makeCentos5(root: string, options: { udev?: boolean } = {}): string {
  const k = CENTOS5_KERNEL;
  const entries: Record<string, Entry> = {
    'etc/redhat-release': 'CentOS release 5.11 (Final)\n',
    'etc/inittab': [
      '#',
      '# inittab       This file describes how the INIT process should set up',
      '#               the system in a certain run-level.',
      '#',
      'id:3:initdefault:',
      '',
      '# System initialization.',
      'si::sysinit:/etc/rc.d/rc.sysinit',
      '',
      'l0:0:wait:/etc/rc.d/rc 0',
      'l3:3:wait:/etc/rc.d/rc 3',
      'l6:6:wait:/etc/rc.d/rc 6',
      '',
      '# Trap CTRL-ALT-DELETE',
      'ca::ctrlaltdel:/sbin/shutdown -t3 -r now',
      '',
      '# Run gettys in standard runlevels',
      '1:2345:respawn:/sbin/mingetty tty1',
      '2:2345:respawn:/sbin/mingetty tty2',
      '',
      '# Run xdm in runlevel 5',
      'x:5:respawn:/etc/X11/prefdm -nodaemon',
      '',
    ].join('\n'),
    'etc/securetty': 'console\nvc/1\nvc/2\ntty1\ntty2\n',
    'etc/modprobe.conf': 'alias eth0 e1000\nalias scsi_hostadapter ata_piix\n',
    'etc/fstab': [
      'LABEL=/                 /                       ext3    defaults        1 1',
      'tmpfs                   /dev/shm                tmpfs   defaults        0 0',
      'devpts                  /dev/pts                devpts  gid=5,mode=620  0 0',
      'sysfs                   /sys                    sysfs   defaults        0 0',
      'proc                    /proc                   proc    defaults        0 0',
      'LABEL=SWAP-sda2         swap                    swap    defaults        0 0',
      '',
    ].join('\n'),
    'etc/sysconfig/network': 'NETWORKING=yes\nNETWORKING_IPV6=no\nHOSTNAME=dom0.example.com\n',
    'etc/sysconfig/network-scripts/ifcfg-eth0': 'DEVICE=eth0\nBOOTPROTO=static\nHWADDR=52:54:00:12:34:56\nIPADDR=10.1.1.1\nONBOOT=yes\n',
    'etc/sysconfig/network-scripts/ifcfg-lo': 'DEVICE=lo\nIPADDR=127.0.0.1\nONBOOT=yes\n',
    'etc/hosts': '127.0.0.1\tlocalhost.localdomain localhost\n10.1.1.1\tdom0.example.com dom0\n',
    'etc/shadow': { text: 'root:$1$old$hash:14000:0:99999:7:::\nbin:*:14000:0:99999:7:::\n', mode: 0o400 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\n',
    'etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=targeted\n',
    'etc/ssh/ssh_host_rsa_key': { text: 'PRIVATE\n', mode: 0o600 },
    'etc/ssh/ssh_host_rsa_key.pub': 'ssh-rsa AAAA host\n',
    'etc/ssh/ssh_host_dsa_key': { text: 'PRIVATE\n', mode: 0o600 },
    'etc/rc.d/init.d/xend': '#!/bin/bash\n',
    'etc/rc.d/init.d/xendomains': '#!/bin/bash\n',
    'etc/rc.d/init.d/sshd': '#!/bin/bash\n',
    'etc/rc.d/rc3.d/S98xend': { link: '../init.d/xend' },
    'etc/rc.d/rc3.d/S98xendomains': { link: '../init.d/xendomains' },
    'etc/rc.d/rc3.d/S55sshd': { link: '../init.d/sshd' },
    'etc/rc.d/rc5.d/S98xend': { link: '../init.d/xend' },
    'etc/rc3.d': { link: 'rc.d/rc3.d' },
    'etc/rc5.d': { link: 'rc.d/rc5.d' },
    'etc/init.d': { link: 'rc.d/init.d' },
    'sbin/init': ELF,
    'sbin/agetty': ELF,
    'sbin/mingetty': ELF,
    'usr/sbin/sshd': ELF,
    [`boot/vmlinuz-${k}`]: 'kernel\n',
    [`boot/initrd-${k}.img`]: 'initrd\n',
    [`boot/config-${k}`]: 'CONFIG_XEN=y\nCONFIG_X86_XEN=y\nCONFIG_XEN_BLKDEV_FRONTEND=y\n',
    'boot/grub/menu.lst': 'default=0\ntimeout=5\ntitle CentOS (2.6.18-398.el5xen)\n\troot (hd0,0)\n\tkernel /xen.gz-2.6.18-398.el5\n\tmodule /vmlinuz-2.6.18-398.el5xen ro root=LABEL=/\n',
    [`lib/modules/${k}/kernel/drivers/xen/blkfront/xenblk.ko`]: ELF,
    [`lib/modules/${k}/kernel/drivers/xen/netfront/xennet.ko`]: ELF,
    proc: { dir: true, mode: 0o555 },
    sys: { dir: true, mode: 0o755 },
    dev: { dir: true, mode: 0o755 },
    tmp: { dir: true, mode: 0o1777 },
  };
  if (options.udev !== false) {
    entries['sbin/udevd'] = ELF;
    entries['sbin/start_udev'] = '#!/bin/sh\n';
  }
  build(root, entries);
  return root;
}

export const UBUNTU_KERNEL = '5.15.0-91-generic';

/**
 * A tree shaped like an Ubuntu 22.04 with netplan, merged /usr, systemd 249, carried over from a
 * container host and a Dom0: /.dockerenv, policy-rc.d, a persistent-net rule, xendomains enabled,
 * and MariaDB enabled with /var/lib/mysql left out.
 */
export function makeUbuntu(root: string): string {
  const k = UBUNTU_KERNEL;
  build(root, {
    'usr/lib/os-release': 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n',
    'etc/os-release': { link: '../usr/lib/os-release' },
    lib: { link: 'usr/lib' },
    bin: { link: 'usr/bin' },
    sbin: { link: 'usr/sbin' },
    'usr/sbin/init': { link: '/lib/systemd/systemd' },
    'usr/lib/systemd/systemd': ELF,
    'usr/lib/systemd/systemd-udevd': ELF,
    'usr/lib/systemd/systemd-networkd': ELF,
    'usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-249.so': ELF,
    'usr/lib/systemd/system/serial-getty@.service': '[Unit]\nDescription=Serial Getty on %I\n',
    'usr/lib/systemd/system/xendomains.service': '[Unit]\nDescription=Xendomains\n[Install]\nWantedBy=multi-user.target\n',
    'usr/lib/systemd/system/mariadb.service': '[Service]\nExecStart=/usr/sbin/mariadbd\n[Install]\nWantedBy=multi-user.target\n',
    'usr/lib/systemd/system/ssh.service': '[Service]\nExecStart=/usr/sbin/sshd -D\n',
    'etc/systemd/system/multi-user.target.wants/xendomains.service': { link: '/lib/systemd/system/xendomains.service' },
    'etc/systemd/system/multi-user.target.wants/mariadb.service': { link: '/lib/systemd/system/mariadb.service' },
    'etc/netplan/50-cloud-init.yaml': 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n',
    'usr/sbin/netplan': ELF,
    'usr/sbin/sshd': ELF,
    'usr/bin/ssh-keygen': ELF,
    'etc/hostname': 'dom0\n',
    'etc/hosts': '127.0.0.1 localhost\n127.0.1.1 dom0\n\n# The following lines are desirable for IPv6 capable hosts\n::1     ip6-localhost ip6-loopback\n',
    'etc/machine-id': { text: '0123456789abcdef0123456789abcdef\n', mode: 0o444 },
    'etc/shadow': { text: 'root:*:19000:0:99999:7:::\n', mode: 0o640, gid: 42 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\n',
    'etc/ssh/ssh_host_ed25519_key': { text: 'PRIVATE\n', mode: 0o600 },
    'etc/ssh/ssh_host_ed25519_key.pub': 'ssh-ed25519 AAAA host\n',
    'etc/ssh/sshd_config': 'PermitRootLogin prohibit-password\n',
    'etc/udev/rules.d/70-persistent-net.rules': 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n',
    'etc/modules': '# /etc/modules: kernel modules to load at boot time.\n',
    'etc/modules-load.d/modules.conf': { link: '../modules' },
    'etc/fstab': 'UUID=1c0ffee0-0000-4000-8000-000000000001 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n',
    '.dockerenv': '',
    'run/.containerenv': '',
    'usr/sbin/policy-rc.d': { text: '#!/bin/sh\nexit 101\n', mode: 0o755 },
    [`boot/vmlinuz-${k}`]: 'kernel\n',
    [`boot/initrd.img-${k}`]: 'initrd\n',
    [`usr/lib/modules/${k}/kernel/drivers/block/xen-blkfront.ko`]: ELF,
    proc: { dir: true, mode: 0o555 },
    sys: { dir: true, mode: 0o555 },
    dev: { dir: true, mode: 0o755 },
    run: { dir: true, mode: 0o755 },
    tmp: { dir: true, mode: 0o1777 },
    var: { dir: true, mode: 0o755 },
  });
  return root;
}
