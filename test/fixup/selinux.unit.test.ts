// fixup/selinux, planned on small trees (dry run): relabel by default, disable or permissive when asked.
import { afterAll, describe, expect, it } from 'vitest';
import { selinuxStage } from '../../src/fixup/selinux.js';
import { planStage, tempGuests } from './stage-tree.js';

const g = tempGuests('selinux');
afterAll(() => g.cleanup());
const config = (mode: string) => `# This file controls the state of SELinux\nSELINUX=${mode}\nSELINUXTYPE=targeted\n`;

describe('fixup/selinux', () => {
  it('is skipped without /etc/selinux/config, or when asked to keep it', async () => {
    expect((await planStage(selinuxStage, g.tree({ 'etc/hostname': 'x\n' }))).reason).toBe('the guest has no /etc/selinux/config');
    const r = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('enforcing') }), { selinux: 'keep' });
    expect(r).toMatchObject({ status: 'skipped', reason: 'asked to keep SELinux as it is' });
  });

  it('relabel (the default): an empty /.autorelabel when SELinux is on, once', async () => {
    const r = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('enforcing') }));
    expect(r.actions).toEqual([{ kind: 'write', path: '/.autorelabel', after: '', mode: 0o644, uid: 0, gid: 0 }]);
    const again = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('permissive'), '.autorelabel': '' }));
    expect(again.status).toBe('unchanged');
    const off = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('disabled') }));
    expect(off).toMatchObject({ status: 'skipped', reason: 'SELinux is disabled in the guest' });
  });

  it('disable and permissive edit the SELINUX= line only', async () => {
    const d = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('enforcing') }), { selinux: 'disable' });
    expect(d.actions).toHaveLength(1);
    expect(d.actions[0]).toMatchObject({ kind: 'write', path: '/etc/selinux/config', after: config('disabled') });
    const p = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('Enforcing') }), { selinux: 'permissive' });
    expect(p.actions[0]).toMatchObject({ after: config('permissive') });
    const same = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': config('permissive') }), { selinux: 'permissive' });
    expect(same.status).toBe('unchanged');
  });

  it('a config without a SELINUX= line gets one', async () => {
    const r = await planStage(selinuxStage, g.tree({ 'etc/selinux/config': 'SELINUXTYPE=targeted' }), { selinux: 'permissive' });
    expect(r.actions[0]).toMatchObject({ after: 'SELINUXTYPE=targeted\nSELINUX=permissive\n' });
  });
});
