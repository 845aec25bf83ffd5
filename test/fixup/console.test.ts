// fixup/console on the three init systems: an upstart job (Ubuntu 14.04 shape), an inittab line
// (Debian with sysvinit: /sbin/getty), and the option that forces xvc0.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFixups } from '../../src/fixup/index.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('fixup-console');
afterAll(() => scratch.cleanup());

function tree(name: string, files: Record<string, string>): string {
  const root = join(scratch.dir, name);
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), t);
  }
  return root;
}

const domain = domainFromOptions({ hostname: 'ross', pygrub: true });

describe('console getty per init system (root)', () => {
  it('upstart (Ubuntu 14.04): a job in /etc/init/hvc0.conf; idempotent', async () => {
    const root = tree('upstart', {
      'etc/os-release': 'NAME="Ubuntu"\nVERSION_ID="14.04"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 14.04.6 LTS"\n',
      'sbin/init': '\x7fELF upstart\n',
      'sbin/initctl': '\x7fELF\n',
      'sbin/getty': '\x7fELF\n',
      'etc/init/tty1.conf': 'start on stopped rc RUNLEVEL=[2345]\nrespawn\nexec /sbin/getty -8 38400 tty1\n',
      'usr/share/doc/upstart/README': 'upstart\n',
    });
    const r = await runFixups(root, { domain, only: ['console'] });
    expect(r.guest.init).toBe('upstart');
    expect(readFileSync(join(root, 'etc/init/hvc0.conf'), 'utf8')).toBe(
      '# hvc0 - getty on the Xen console (written by domu-forge)\n\nstart on stopped rc RUNLEVEL=[2345]\nstop on runlevel [!2345]\n\nrespawn\nexec /sbin/getty -L 9600 hvc0 vt100\n',
    );
    expect((await runFixups(root, { domain, only: ['console'] })).changes).toBe(0);
  });

  it('CentOS 6: upstart despite a leftover inittab (default runlevel only); agetty', async () => {
    const root = tree('centos6', {
      'etc/redhat-release': 'CentOS release 6.10 (Final)\n',
      'etc/inittab': '# inittab is only used by upstart for the default runlevel.\nid:3:initdefault:\n',
      'sbin/init': '\x7fELF upstart\n',
      'sbin/initctl': '\x7fELF\n',
      'sbin/agetty': '\x7fELF\n',
      'etc/init/tty.conf': 'stop on runlevel [S016]\nrespawn\nexec /sbin/mingetty $TTY\n',
    });
    const r = await runFixups(root, { domain, only: ['console'] });
    expect(r.guest).toMatchObject({ init: 'upstart', distro: { id: 'centos', major: 6 } });
    expect(readFileSync(join(root, 'etc/init/hvc0.conf'), 'utf8')).toContain('exec /sbin/agetty -L 9600 hvc0 vt100\n');
    expect(readFileSync(join(root, 'etc/inittab'), 'utf8')).not.toContain('hvc0');
  });

  it('sysvinit Debian: an inittab line with /sbin/getty; an existing getty on the device is left alone', async () => {
    const inittab = 'id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n1:2345:respawn:/sbin/getty 38400 tty1\n#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n';
    const root = tree('sysv', { 'etc/debian_version': '7.11\n', 'etc/inittab': inittab, 'sbin/init': '\x7fELF sysvinit\n', 'sbin/getty': '\x7fELF\n' });
    const r = await runFixups(root, { domain, only: ['console'] });
    expect(r.guest).toMatchObject({ init: 'sysvinit', distro: { id: 'debian', version: '7.11', major: 7 } });
    expect(readFileSync(join(root, 'etc/inittab'), 'utf8')).toBe(`${inittab.split('\n').slice(0, 3).join('\n')}\nhvc:2345:respawn:/sbin/getty -L hvc0 9600 vt100\n#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n`);
    const cloned = tree('sysv-has', { 'etc/debian_version': '7.11\n', 'etc/inittab': 'id:2:initdefault:\nco:2345:respawn:/sbin/getty hvc0 9600 vt100\n', 'sbin/init': '\x7fELF\n' });
    expect((await runFixups(cloned, { domain, only: ['console'] })).changes).toBe(0);
  });

  it('the console option (xvc0) wins over detection and reaches the report\'s domain', async () => {
    const root = tree('forced', { 'etc/debian_version': '7.11\n', 'etc/inittab': 'id:2:initdefault:\n', 'sbin/init': '\x7fELF\n' });
    const r = await runFixups(root, { domain, only: ['console'], console: 'xvc0' });
    expect(r.console).toBe('xvc0');
    expect(r.domain.console).toBe('xvc0');
    expect(readFileSync(join(root, 'etc/inittab'), 'utf8')).toBe('id:2:initdefault:\nxvc:2345:respawn:/sbin/agetty -L xvc0 9600 vt100\n');
  });
});
