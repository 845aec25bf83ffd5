// fixup/kernel-modules, planned on small trees (dry run): a Dom0 kernel's modules are copied in once.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelModulesStage } from '../../src/fixup/kernel-modules.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { planStage, tempGuests } from './stage-tree.js';

const g = tempGuests('kmod');
afterAll(() => g.cleanup());
const host = g.tree({ '6.1.0-99-amd64/modules.dep': '', '6.1.0-99-amd64/kernel/fs/ext4.ko': '' });

describe('fixup/kernel-modules', () => {
  it('is skipped when the domain boots through a bootloader', async () => {
    const r = await planStage(kernelModulesStage, g.tree({ 'etc/hostname': 'x\n' }), { domain: domainFromOptions({ hostname: 'k', pygrub: true }) });
    expect(r).toMatchObject({ status: 'skipped', reason: 'the domain does not boot a Dom0 kernel' });
  });

  it('copies the modules of the kernel the domain names, from the modules source', async () => {
    const domain = domainFromOptions({ hostname: 'k', kernel: '/boot/vmlinuz-6.1.0-99-amd64', initrd: '/boot/initrd.img-6.1.0-99-amd64' });
    const r = await planStage(kernelModulesStage, g.tree({ 'etc/hostname': 'x\n' }), { domain, modulesSource: host });
    expect(r.actions.at(-1)).toEqual({ kind: 'copy-tree', path: '/lib/modules/6.1.0-99-amd64', from: join(host, '6.1.0-99-amd64') });
    expect(r.actions.slice(0, -1)).toEqual([
      { kind: 'mkdir', path: '/lib', mode: 0o755 },
      { kind: 'mkdir', path: '/lib/modules', mode: 0o755 },
    ]);
  });

  it('leaves modules already in the guest', async () => {
    const domain = domainFromOptions({ hostname: 'k', kernel: '/boot/vmlinuz-6.1.0-99-amd64' });
    const root = g.tree({ 'lib/modules/6.1.0-99-amd64/modules.dep': '' });
    expect((await planStage(kernelModulesStage, root, { domain, modulesSource: host })).status).toBe('unchanged');
  });

  it('refuses, with a hint, when the host has no such modules; asks for the version when the name hides it', async () => {
    const domain = domainFromOptions({ hostname: 'k', kernel: '/boot/vmlinuz-6.1.0-98-amd64' });
    await expect(planStage(kernelModulesStage, g.tree({ 'etc/hostname': 'x\n' }), { domain, modulesSource: host })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: `fixup/kernel-modules: the modules of kernel 6.1.0-98-amd64 are not at ${join(host, '6.1.0-98-amd64')}`,
    });
    const odd = domainFromOptions({ hostname: 'k', kernel: '/srv/kernels/mykernel' });
    const r = await planStage(kernelModulesStage, g.tree({ 'etc/hostname': 'x\n' }), { domain: odd, modulesSource: host });
    expect(r.status).toBe('skipped');
    expect(r.reason).toMatch(/^cannot tell the kernel version from \/srv\/kernels\/mykernel/);
    mkdirSync(join(host, 'custom'));
    writeFileSync(join(host, 'custom', 'modules.dep'), '');
    const given = await planStage(kernelModulesStage, g.tree({ 'etc/hostname': 'x\n' }), { domain: odd, modulesSource: host, kernelVersion: 'custom' });
    expect(given.actions.at(-1)).toMatchObject({ kind: 'copy-tree', path: '/lib/modules/custom' });
  });
});
