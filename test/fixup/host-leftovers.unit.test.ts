// fixup/host-leftovers, planned on small trees (dry run): Dom0 services off, container markers out,
// lost service state reported.
import { afterAll, describe, expect, it } from 'vitest';
import { DOM0_SERVICES, hostLeftoversStage } from '../../src/fixup/host-leftovers.js';
import { planStage, tempGuests } from './stage-tree.js';

const g = tempGuests('leftovers');
afterAll(() => g.cleanup());
const systemd = { 'etc/os-release': 'ID=debian\nVERSION_ID=12\n', 'lib/systemd/systemd': '', 'sbin/init': { link: '/lib/systemd/systemd' } };

describe('fixup/host-leftovers', () => {
  it('systemd: drops the wants links of Dom0 units and masks them', async () => {
    const r = await planStage(hostLeftoversStage, g.tree({
      ...systemd,
      'lib/systemd/system/xendomains.service': '[Unit]\n',
      'lib/systemd/system/ssh.service': '[Unit]\n',
      'etc/systemd/system/multi-user.target.wants/xendomains.service': { link: '/lib/systemd/system/xendomains.service' },
      'etc/systemd/system/multi-user.target.wants/ssh.service': { link: '/lib/systemd/system/ssh.service' },
    }));
    expect(r.actions).toEqual([
      { kind: 'remove', path: '/etc/systemd/system/multi-user.target.wants/xendomains.service', what: 'Dom0-only unit enabled' },
      { kind: 'symlink', path: '/etc/systemd/system/xendomains.service', target: '/dev/null' },
    ]);
    expect(DOM0_SERVICES).toContain('xendomains');
  });

  it('sysvinit: S links of Dom0 services become K links (update-rc.d disable)', async () => {
    const r = await planStage(hostLeftoversStage, g.tree({
      'etc/debian_version': '7.11\n', 'sbin/init': '\x7fELF\n', 'etc/inittab': '1:2345:respawn:/sbin/getty tty1\n',
      'etc/init.d/xend': '#!/bin/sh\n', 'etc/rc2.d/S20xend': { link: '../init.d/xend' }, 'etc/rc2.d/S20ssh': { link: '../init.d/ssh' },
      'etc/rc3.d/S20xend': { link: '../init.d/xend' }, 'etc/rc3.d/K80xend': { link: '../init.d/xend' },
    }));
    expect(r.actions).toEqual([
      { kind: 'rename', path: '/etc/rc2.d/S20xend', to: '/etc/rc2.d/K80xend' },
      { kind: 'remove', path: '/etc/rc3.d/S20xend', what: 'Dom0-only service start link' },
    ]);
  });

  it('removes container markers and a policy-rc.d that blocks starts, notes one that does more', async () => {
    const r = await planStage(hostLeftoversStage, g.tree({ ...systemd, '.dockerenv': '', 'usr/sbin/policy-rc.d': '#!/bin/sh\nexit 101\n' }));
    expect(r.actions).toEqual([
      { kind: 'remove', path: '/.dockerenv', what: 'container marker' },
      { kind: 'remove', path: '/usr/sbin/policy-rc.d', what: 'policy-rc.d blocks service starts' },
    ]);
    const other = await planStage(hostLeftoversStage, g.tree({ ...systemd, 'usr/sbin/policy-rc.d': '#!/bin/sh\ncase "$1" in x) exit 0;; esac\n' }));
    expect(other.actions).toEqual([]);
    expect(other.notes).toEqual(['/usr/sbin/policy-rc.d exists and is not a plain blocker; left alone']);
  });

  it('reports enabled services whose state was under an excluded directory', async () => {
    const r = await planStage(hostLeftoversStage, g.tree({
      ...systemd,
      'lib/systemd/system/mariadb.service': '[Service]\n',
      'lib/systemd/system/myapp.service': '[Service]\nStateDirectory=myapp\nWorkingDirectory=/srv/myapp\n',
      'etc/systemd/system/multi-user.target.wants/mariadb.service': { link: '/lib/systemd/system/mariadb.service' },
      'etc/systemd/system/multi-user.target.wants/myapp.service': { link: '/lib/systemd/system/myapp.service' },
      'var/lib/mysql/.keep-not': '',
    }), { excluded: ['/var/lib/mysql/', 'var/lib/myapp', '/srv'] });
    expect(r.actions).toEqual([]);
    expect(r.notes.sort()).toEqual([
      'service myapp is enabled but its state /srv/myapp was under the excluded /srv and is missing: copy that data, or disable the service',
      'service myapp is enabled but its state /var/lib/myapp was under the excluded /var/lib/myapp and is missing: copy that data, or disable the service',
    ]);
  });
});
