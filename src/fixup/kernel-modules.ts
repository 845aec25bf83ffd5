// fixup/kernel-modules: when the domain boots a Dom0 kernel (kernel = ... in its config), the guest
// needs that kernel's modules: the seed's `cp -a /lib/modules/$(uname -r) /mnt/lib/modules`.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DomuError } from '../errors.js';
import { defineStage } from './context.js';
import { kernelVersionOfImage } from './detect.js';

export const kernelModulesStage = defineStage('kernel-modules', 'copy the Dom0 kernel\'s modules into the guest', async (ctx, p) => {
  if (!ctx.domain.kernel || ctx.domain.bootloader) return 'the domain does not boot a Dom0 kernel';
  const version = ctx.options.kernelVersion ?? kernelVersionOfImage(ctx.domain.kernel);
  if (!version) return `cannot tell the kernel version from ${ctx.domain.kernel}; give it as kernelVersion (--kernel-version)`;
  if (await ctx.view.exists(`/lib/modules/${version}`)) return;
  const source = join(ctx.options.modulesSource ?? '/lib/modules', version);
  if (!existsSync(source) || !statSync(source).isDirectory()) {
    throw new DomuError('BAD_INPUT', `the modules of kernel ${version} are not at ${source}`, {
      hint: 'give their directory with --modules-source, or skip this stage with --skip kernel-modules',
    });
  }
  await p.copyTree(source, `/lib/modules/${version}`);
});
