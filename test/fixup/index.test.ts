// runFixups and the stage list: ids, selection, and a dry run on a nearly empty tree, where later
// stages must plan against what earlier ones would create (/dev before its nodes, /etc before fstab).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXUP_STAGES, selectStages } from '../../src/fixup/index.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';
import { overlay, type Overlay } from './guests.js';
import { checkPlanAndRun } from './plan-check.js';

const scratch = scratchDir('fixup-index');
const mounts: Overlay[] = [];
afterAll(() => {
  for (const m of mounts) m.unmount();
  scratch.cleanup();
});

describe('the fixup stages (root)', () => {
  it('are a flat list with fixup/<name> ids, selectable by --only and --skip', () => {
    expect(FIXUP_STAGES.map((s) => s.id)).toEqual([
      'fixup/mountpoints', 'fixup/devices', 'fixup/console', 'fixup/securetty', 'fixup/fstab', 'fixup/drivers',
      'fixup/bootloader', 'fixup/kernel-modules', 'fixup/network', 'fixup/identity', 'fixup/access', 'fixup/selinux', 'fixup/host-leftovers',
    ]);
    expect(selectStages(['fstab', 'fixup/console']).map((s) => s.id)).toEqual(['fixup/console', 'fixup/fstab']);
    expect(selectStages(undefined, ['identity', 'fixup/selinux']).map((s) => s.id)).not.toContain('fixup/identity');
    expect(() => selectStages(['fstabs'])).toThrow('unknown fixup stage "fstabs"');
  });

  it('on a nearly empty tree: the dry run plans the whole chain, the run matches it, a rerun does nothing', async () => {
    const lower = join(scratch.dir, 'bare');
    mkdirSync(lower);
    writeFileSync(join(lower, 'debian_version-not-here'), '');
    const o = overlay(lower, join(scratch.dir, 'ov'));
    mounts.push(o);
    const domain = domainFromOptions({ hostname: 'bare', swap: '64M', dhcp: true });
    const { dry } = await checkPlanAndRun(o, { domain, networkSystem: 'ifupdown', init: 'sysvinit' });
    const lines = dry.stages.flatMap((s) => s.actions.map((a) => `${a.kind} ${a.path}`));
    expect(lines.slice(0, 7)).toEqual(['mkdir /proc', 'mkdir /sys', 'mkdir /dev', 'mkdir /run', 'mkdir /tmp', 'mknod /dev/xvda2', 'mknod /dev/xvda1']);
    // no udev, sysvinit: a static /dev gets console and null too
    expect(lines).toContain('mknod /dev/console');
    expect(lines).toContain('mkdir /etc');
    expect(lines).toContain('write /etc/fstab');
    expect(lines).toContain('write /etc/network/interfaces');
    expect(lines).toContain('write /etc/hosts');
  });
});
