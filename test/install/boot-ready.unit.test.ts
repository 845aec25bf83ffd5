// What an install adds so that the guest boots and can be reached: packages, the security source line.

import { describe, expect, it } from 'vitest';
import { bootPackages, securitySourceLine } from '../../src/install/boot-ready.js';
import { localeGenLine } from '../../src/install/boot-ready.js';

const deb = { distro: 'debian' as const, suite: 'bookworm', root: '/x', hostSettings: {} };

describe('bootPackages', () => {
  it('PyGRUB and pvgrub bring the kernel and initramfs-tools unless noKernel; sshd unless noSsh', () => {
    expect(bootPackages({ ...deb, pygrub: true }, 'amd64')).toEqual(['linux-image-amd64', 'initramfs-tools', 'openssh-server']);
    expect(bootPackages({ ...deb, pvgrub: true }, 'i386')).toEqual(['linux-image-686-pae', 'initramfs-tools', 'openssh-server']);
    expect(bootPackages({ ...deb, pygrub: true, noKernel: true, noSsh: true }, 'amd64')).toEqual([]);
    expect(bootPackages(deb, 'amd64')).toEqual(['openssh-server']);
    expect(bootPackages({ ...deb, distro: 'ubuntu', suite: 'jammy', pygrub: true }, 'amd64')).toEqual(['linux-image-virtual', 'initramfs-tools', 'openssh-server']);
    expect(bootPackages({ distro: 'rocky', root: '/x', pygrub: true, hostSettings: {} }, 'x86_64')).toEqual(['kernel', 'openssh-server']);
  });
  it('a Dom0 locale other than C brings the locales package', () => {
    expect(bootPackages({ ...deb, hostSettings: { lang: 'en_GB.UTF-8' } }, 'amd64')).toEqual(['openssh-server', 'locales']);
    expect(bootPackages({ ...deb, hostSettings: { lang: 'C.UTF-8' } }, 'amd64')).toEqual(['openssh-server']);
  });
});

describe('securitySourceLine', () => {
  it('bookworm-security on security.debian.org; none for sid or buster; Ubuntu\'s -security', () => {
    expect(securitySourceLine('debian', 'bookworm', ['main'])).toBe('deb http://security.debian.org/debian-security bookworm-security main');
    expect(securitySourceLine('debian', 'trixie', ['main', 'contrib'])).toBe('deb http://security.debian.org/debian-security trixie-security main contrib');
    expect(securitySourceLine('debian', 'sid', ['main'])).toBeUndefined();
    expect(securitySourceLine('debian', 'buster', ['main'])).toBeUndefined();
    expect(securitySourceLine('ubuntu', 'jammy', [])).toBe('deb http://security.ubuntu.com/ubuntu jammy-security main');
  });
  it('locale.gen lines', () => {
    expect(localeGenLine('en_GB.UTF-8')).toBe('en_GB.UTF-8 UTF-8');
    expect(localeGenLine('de_DE.utf8')).toBe('de_DE.UTF-8 UTF-8');
  });
});
