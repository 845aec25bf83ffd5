// fixup/mountpoints, planned on small trees (dry run): the mount points made with their modes.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MOUNTPOINTS, mountpointsStage } from '../../src/fixup/mountpoints.js';
import { planStage, tempGuests } from './stage-tree.js';

const g = tempGuests('mountpoints');
afterAll(() => g.cleanup());

describe('fixup/mountpoints', () => {
  it('creates every missing mount point with its mode, /tmp sticky', async () => {
    const r = await planStage(mountpointsStage, g.tree({ 'etc/hostname': 'x\n' }));
    expect(r.actions).toEqual([
      { kind: 'mkdir', path: '/proc', mode: 0o555 },
      { kind: 'mkdir', path: '/sys', mode: 0o555 },
      { kind: 'mkdir', path: '/dev', mode: 0o755 },
      { kind: 'mkdir', path: '/run', mode: 0o755 },
      { kind: 'mkdir', path: '/tmp', mode: 0o1777 },
    ]);
    expect(MOUNTPOINTS.map((m) => m.path)).toEqual(['/proc', '/sys', '/dev', '/run', '/tmp']);
  });

  it('accepts the modes distributions use and fixes the others', async () => {
    const root = g.tree({ 'etc/hostname': 'x\n' });
    for (const [p, m] of [['proc', 0o755], ['sys', 0o555], ['dev', 0o755], ['run', 0o700], ['tmp', 0o777]] as const) {
      mkdirSync(join(root, p));
      chmodSync(join(root, p), m);
    }
    const r = await planStage(mountpointsStage, root);
    expect(r.actions).toEqual([
      { kind: 'chmod', path: '/run', mode: 0o755, from: 0o700 },
      { kind: 'chmod', path: '/tmp', mode: 0o1777, from: 0o777 },
    ]);
  });

  it('leaves what is not a directory and says so', async () => {
    const r = await planStage(mountpointsStage, g.tree({ proc: 'a file\n', run: { link: '/var/run' }, 'var/run/.keep': '' }));
    expect(r.actions.map((a) => a.path)).toEqual(['/sys', '/dev', '/tmp']);
    expect(r.notes).toEqual(['/proc is not a directory in the guest (file); left alone', '/run is not a directory in the guest (symlink); left alone']);
  });
});
