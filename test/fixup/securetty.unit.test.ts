// fixup/securetty, planned on small trees (dry run): the Xen console added once, nothing else touched.
import { afterAll, describe, expect, it } from 'vitest';
import { securettyStage } from '../../src/fixup/securetty.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { planStage, tempGuests } from './stage-tree.js';

const g = tempGuests('securetty');
afterAll(() => g.cleanup());
const domain = domainFromOptions({ hostname: 'st', pygrub: true });

describe('fixup/securetty', () => {
  it('is skipped when the guest has no /etc/securetty', async () => {
    const r = await planStage(securettyStage, g.tree({ 'etc/hostname': 'x\n' }), { domain });
    expect(r).toMatchObject({ id: 'fixup/securetty', status: 'skipped', reason: 'the guest has no /etc/securetty', actions: [] });
  });

  it('appends the console, keeping the file as it was', async () => {
    const r = await planStage(securettyStage, g.tree({ 'etc/securetty': 'console\ntty1\ntty2\n' }), { domain });
    expect(r.status).toBe('changed');
    expect(r.actions).toEqual([{ kind: 'write', path: '/etc/securetty', before: 'console\ntty1\ntty2\n', after: 'console\ntty1\ntty2\nhvc0\n', mode: expect.any(Number), uid: expect.any(Number), gid: expect.any(Number) }]);
  });

  it('adds the missing newline first, and writes into an empty file', async () => {
    const r = await planStage(securettyStage, g.tree({ 'etc/securetty': 'tty1' }), { domain });
    expect(r.actions[0]).toMatchObject({ after: 'tty1\nhvc0\n' });
    const e = await planStage(securettyStage, g.tree({ 'etc/securetty': '' }), { domain });
    expect(e.actions[0]).toMatchObject({ before: '', after: 'hvc0\n' });
  });

  it('leaves a file that already lists the console, bare or as /dev/...', async () => {
    for (const text of ['tty1\nhvc0\n', 'tty1\n  /dev/hvc0  \n']) {
      const r = await planStage(securettyStage, g.tree({ 'etc/securetty': text }), { domain });
      expect(r.status).toBe('unchanged');
    }
  });

  it('uses the console the domain is given (xvc0)', async () => {
    const r = await planStage(securettyStage, g.tree({ 'etc/securetty': 'tty1\nhvc0\n' }), { domain, console: 'xvc0' });
    expect(r.actions[0]).toMatchObject({ after: 'tty1\nhvc0\nxvc0\n' });
  });
});
