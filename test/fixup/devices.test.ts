// fixup/devices: real mknod in a guest tree; the major number follows the guest's kernel kind, and
// a static /dev (no udev, no systemd) also gets console, null and the Xen console node.

import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFixups } from '../../src/fixup/index.js';
import { xvdMinor } from '../../src/fixup/devices.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';
import { makeCentos5 } from './guests.js';

const scratch = scratchDir('fixup-devices');
afterAll(() => scratch.cleanup());

const domain = domainFromOptions({ hostname: 'donalbain', pygrub: true, swap: '256M' });
const node = (root: string, p: string) => {
  const st = statSync(join(root, p));
  return { type: st.isBlockDevice() ? 'b' : st.isCharacterDevice() ? 'c' : '?', major: Math.floor(st.rdev / 256), minor: st.rdev % 256, mode: st.mode & 0o7777 };
};

describe('device nodes (root)', () => {
  it('numbers xvd minors 16 per disk', () => {
    expect([xvdMinor('xvda'), xvdMinor('xvda1'), xvdMinor('xvdb'), xvdMinor('xvdb', 3), xvdMinor('xvdp15'), xvdMinor('xvdq'), xvdMinor('sda')]).toEqual([0, 1, 16, 19, 255, undefined, undefined]);
  });

  it('a static /dev (CentOS 5 without udev) gets console, null and xvc0 besides the disks', async () => {
    const root = makeCentos5(join(scratch.dir, 'static'), { udev: false });
    const r = await runFixups(root, { domain, only: ['devices'] });
    expect(r.stages[0]!.actions.map((a) => a.path)).toEqual(['/dev/xvda2', '/dev/xvda1', '/dev/console', '/dev/null', '/dev/xvc0']);
    expect(node(root, 'dev/xvda1')).toEqual({ type: 'b', major: 202, minor: 1, mode: 0o660 });
    expect(node(root, 'dev/console')).toEqual({ type: 'c', major: 5, minor: 1, mode: 0o600 });
    expect(node(root, 'dev/null')).toEqual({ type: 'c', major: 1, minor: 3, mode: 0o666 });
    expect(node(root, 'dev/xvc0')).toEqual({ type: 'c', major: 204, minor: 191, mode: 0o620 });
    expect((await runFixups(root, { domain, only: ['devices'] })).changes).toBe(0);
  });

  it('a XenSource kernel (2.6.16.33-xen, legacy xenblk) gets the seed\'s major 220; --block-major overrides', async () => {
    const root = makeCentos5(join(scratch.dir, 'xensource'), { udev: false });
    rmSync(join(root, 'boot'), { recursive: true });
    rmSync(join(root, 'lib', 'modules'), { recursive: true });
    const mods = join(root, 'lib', 'modules', '2.6.16.33-xen', 'kernel', 'drivers', 'xen', 'blkfront');
    mkdirSync(mods, { recursive: true });
    writeFileSync(join(mods, 'xenblk.ko'), '\x7fELF\n');
    const r = await runFixups(root, { domain, only: ['devices'] });
    expect(r.kernel).toMatchObject({ flavour: 'xensource', version: '2.6.16.33-xen' });
    expect(node(root, 'dev/xvda1')).toMatchObject({ type: 'b', major: 220, minor: 1 });
    const other = makeCentos5(join(scratch.dir, 'override'), { udev: false });
    await runFixups(other, { domain, only: ['devices'], blockMajor: 220 });
    expect(node(other, 'dev/xvda2')).toMatchObject({ major: 220, minor: 2 });
  });

  it('keeps an existing node with other numbers, and says so', async () => {
    const root = makeCentos5(join(scratch.dir, 'existing'));
    await runFixups(root, { domain, only: ['devices'], blockMajor: 220 });
    const r = await runFixups(root, { domain, only: ['devices'] });
    expect(r.changes).toBe(0);
    expect(r.stages[0]!.notes).toEqual(['/dev/xvda2 is b 220 2, not 202 2; left alone', '/dev/xvda1 is b 220 1, not 202 1; left alone']);
  });
});
