// fixup/drivers, planned on small trees (dry run): xenblk and xennet loaded the way each guest loads modules.
import { afterAll, describe, expect, it } from 'vitest';
import { driversStage } from '../../src/fixup/drivers.js';
import { planStage, tempGuests } from './stage-tree.js';

const g = tempGuests('drivers');
afterAll(() => g.cleanup());
const debian = { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n', 'sbin/init': '\x7fELF\n', 'etc/inittab': '1:2345:respawn:/sbin/getty tty1\n' };
const systemd = { 'etc/os-release': 'ID=fedora\nVERSION_ID=39\n', 'usr/lib/systemd/systemd': '', 'sbin/init': { link: '/usr/lib/systemd/systemd' } };
const centos5 = { 'etc/redhat-release': 'CentOS release 5.11 (Final)\n', 'sbin/init': '\x7fELF\n', 'etc/inittab': 'id:3:initdefault:\n' };

describe('fixup/drivers', () => {
  it('Debian with sysvinit: appends to /etc/modules', async () => {
    const r = await planStage(driversStage, g.tree({ ...debian, 'etc/modules': '# modules\nloop' }));
    expect(r.actions).toHaveLength(1);
    expect(r.actions[0]).toMatchObject({ kind: 'write', path: '/etc/modules', after: '# modules\nloop\nxenblk\nxennet\n' });
  });

  it('counts the mainline names (xen-blkfront) as already there', async () => {
    const r = await planStage(driversStage, g.tree({ ...debian, 'etc/modules': 'xen-blkfront\n', 'etc/modules-load.d/net.conf': 'xen_netfront # nic\n' }));
    expect(r.status).toBe('unchanged');
    const half = await planStage(driversStage, g.tree({ ...debian, 'etc/modules': 'xen-blkfront\n' }));
    expect(half.actions[0]).toMatchObject({ after: 'xen-blkfront\nxennet\n' });
  });

  it('systemd outside Debian: a modules-load.d file', async () => {
    const r = await planStage(driversStage, g.tree(systemd));
    expect(r.actions.at(-1)).toMatchObject({ kind: 'write', path: '/etc/modules-load.d/xen-domu.conf', after: '# Xen front ends (written by domu-forge)\nxenblk\nxennet\n' });
  });

  it('old Red Hat: aliases in modprobe.conf; the copied NIC driver alias becomes xennet', async () => {
    const r = await planStage(driversStage, g.tree({ ...centos5, 'etc/modprobe.conf': 'alias scsi_hostadapter mptbase\nalias eth0 e1000\noptions x y\n' }));
    expect(r.actions).toEqual([expect.objectContaining({
      kind: 'write', path: '/etc/modprobe.conf',
      before: 'alias scsi_hostadapter mptbase\nalias eth0 e1000\noptions x y\n',
      after: 'alias scsi_hostadapter mptbase\nalias eth0 xennet\noptions x y\nalias scsi_hostadapter1 xenblk\n',
    })]);
    const fresh = await planStage(driversStage, g.tree(centos5));
    expect(fresh.actions.at(-1)).toMatchObject({ path: '/etc/modprobe.conf', after: 'alias scsi_hostadapter xenblk\nalias eth0 xennet\n' });
    const done = await planStage(driversStage, g.tree({ ...centos5, 'etc/modprobe.conf': 'alias scsi_hostadapter2 xenblk\nalias eth0 xennet\n' }));
    expect(done.status).toBe('unchanged');
  });

  it('a guest with no known module list is skipped with the reason', async () => {
    const r = await planStage(driversStage, g.tree({ 'etc/os-release': 'ID=gentoo\nPRETTY_NAME="Gentoo"\n', 'sbin/init': '\x7fELF\n', 'etc/inittab': 'x\n' }));
    expect(r).toMatchObject({ status: 'skipped', reason: 'no module list is known for Gentoo with sysvinit' });
  });
});
