// bootloader pvgrub: the xl config names Debian's grub-x86_64-xen.bin as the kernel, and the guest
// gets a /boot/grub/grub.cfg naming its own kernel and initrd, which GRUB's own checker accepts (root).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFixups } from '../../src/fixup/index.js';
import { PVGRUB_IMAGE } from '../../src/xen/domain.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { renderXlConfig } from '../../src/xen/render.js';
import { scratchDir } from '../helpers/run.js';
import { debianGuest, overlay, type Overlay } from './guests.js';

const scratch = scratchDir('fixup-pvgrub');
const mounts: Overlay[] = [];
afterAll(() => {
  for (const m of mounts) m.unmount();
  scratch.cleanup();
});

const domain = domainFromOptions({ hostname: 'macduff', pvgrub: true, lvm: 'scotland', swap: '256M', dhcp: true });

describe('pvgrub (root)', () => {
  it('the xl config boots Debian grub-xen-host\'s image, with no bootloader, root or extra line', () => {
    expect(existsSync(PVGRUB_IMAGE)).toBe(true);
    const cfg = renderXlConfig(domain, { checkPaths: false });
    expect(cfg).toContain(`kernel      = "${PVGRUB_IMAGE}"\n`);
    expect(cfg).not.toMatch(/^(bootloader|root|extra|ramdisk)\s/m);
    expect(cfg).toContain("'phy:/dev/scotland/macduff-disk,xvda2,w'");
    expect(() => domainFromOptions({ hostname: 'x', pvgrub: true, pygrub: true })).toThrow('--pygrub conflicts with --bootloader pvgrub: give one');
  });

  it('writes /boot/grub/grub.cfg for the guest\'s kernel and initrd; grub-script-check accepts it', async () => {
    const o = overlay(debianGuest(), join(scratch.dir, 'a'));
    mounts.push(o);
    const r = await runFixups(o.merged, { domain, only: ['bootloader'] });
    expect(r.stages[0]!.status).toBe('changed');
    const cfg = readFileSync(join(o.merged, 'boot/grub/grub.cfg'), 'utf8');
    const boot = readdirSync(join(o.merged, 'boot'));
    const vmlinuz = boot.find((f) => f.startsWith('vmlinuz-'))!;
    const initrd = boot.find((f) => f.startsWith('initrd.img-'))!;
    expect(cfg).toContain(`  search --no-floppy --set=root --file /boot/grub/grub.cfg\n  linux /boot/${vmlinuz} root=/dev/xvda2 ro console=hvc0\n  initrd /boot/${initrd}\n}\n`);
    execFileSync('grub-script-check', [join(o.merged, 'boot/grub/grub.cfg')]);
    expect(existsSync(join(o.merged, 'boot/grub/menu.lst'))).toBe(false);
  });
});
