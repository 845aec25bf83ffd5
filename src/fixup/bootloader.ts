// fixup/bootloader: /boot/grub/menu.lst for PyGRUB, one entry per kernel in the guest's /boot
// (newest first, with its initrd), booting the root device and console of the domain model.

import { guestDevices, kernelCommandLine, PVGRUB } from '../xen/domain.js';
import { defineStage, type FixupContext, type StagePlanner } from './context.js';

const MARK = '# menu.lst for PyGRUB, written by domu-forge';
const GRUB_MARK = '# grub.cfg for pvgrub (GRUB for Xen PV), written by domu-forge';

/** pvgrub: /boot/grub/grub.cfg, one menu entry per kernel (newest first); GRUB finds it by searching the disks. */
async function writeGrubCfg(ctx: FixupContext, p: StagePlanner): Promise<string | void> {
  const kernels = ctx.guest.kernels.filter((k) => k.image !== undefined);
  if (kernels.length === 0) {
    p.note('the guest has no kernel in /boot: pvgrub will find nothing to boot');
    return 'no kernel in the guest\'s /boot';
  }
  const bootMounted = guestDevices(ctx.domain).some((d) => d.mount.mountpoint === '/boot');
  const rel = (path: string) => (bootMounted ? path.replace(/^\/boot/, '') : path);
  const cmdline = kernelCommandLine(ctx.domain, ctx.kernel.flavour !== 'mainline');
  const cfg = bootMounted ? '/grub/grub.cfg' : '/boot/grub/grub.cfg';
  const lines = [GRUB_MARK, 'set default=0', 'set timeout=3', ''];
  for (const k of kernels) {
    lines.push(`menuentry '${ctx.guest.distro.name.replace(/'/g, '')}, kernel ${k.version}' {`, `  search --no-floppy --set=root --file ${cfg}`, `  linux ${rel(k.image!)} ${cmdline}`);
    if (k.initrd) lines.push(`  initrd ${rel(k.initrd)}`);
    lines.push('}', '');
  }
  const text = lines.join('\n');
  const cur = await ctx.view.readText('/boot/grub/grub.cfg', 1 << 20);
  if (cur !== undefined && cur !== text && !cur.startsWith(GRUB_MARK)) p.note('replaced a /boot/grub/grub.cfg that domu-forge did not write');
  await p.writeFile('/boot/grub/grub.cfg', text);
}

export const bootloaderStage = defineStage('bootloader', 'write /boot/grub/menu.lst for PyGRUB from the kernels in /boot', async (ctx, p) => {
  if (ctx.domain.bootloader === PVGRUB) return writeGrubCfg(ctx, p);
  if (!ctx.domain.bootloader || !/pygrub/.test(ctx.domain.bootloader)) return 'the domain does not boot through PyGRUB';
  const kernels = ctx.guest.kernels.filter((k) => k.image !== undefined);
  if (kernels.length === 0) {
    p.note('the guest has no kernel in /boot: PyGRUB will find nothing to boot');
    return 'no kernel in the guest\'s /boot';
  }
  // with /boot on its own filesystem, GRUB paths are relative to it
  const bootMounted = guestDevices(ctx.domain).some((d) => d.mount.mountpoint === '/boot');
  const rel = (path: string) => (bootMounted ? path.replace(/^\/boot/, '') : path);
  const cmdline = kernelCommandLine(ctx.domain, ctx.kernel.flavour !== 'mainline');
  const lines = [MARK, 'default 0', 'timeout 3', ''];
  for (const k of kernels) {
    lines.push(`title ${ctx.guest.distro.name}, kernel ${k.version}`, '  root (hd0,0)', `  kernel ${rel(k.image!)} ${cmdline}`);
    if (k.initrd) lines.push(`  initrd ${rel(k.initrd)}`);
    lines.push('');
  }
  const text = lines.join('\n');
  const cur = await ctx.view.readText('/boot/grub/menu.lst', 1 << 20);
  if (cur !== undefined && cur !== text && !cur.startsWith(MARK)) p.note('replaced a /boot/grub/menu.lst that domu-forge did not write');
  await p.writeFile('/boot/grub/menu.lst', text);
});
