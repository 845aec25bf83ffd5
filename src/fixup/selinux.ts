// fixup/selinux: SELinux labels do not survive a copy made without them, and the files the fixups
// create have none (edited ones keep theirs). So an enabled SELinux is disabled, set permissive, or
// made to relabel the whole guest at its first boot (/.autorelabel), as chosen; by default it
// relabels.

import { defineStage } from './context.js';

export const selinuxStage = defineStage('selinux', 'disable SELinux, make it permissive, or schedule a relabel', async (ctx, p) => {
  const config = await ctx.view.readText('/etc/selinux/config', 1 << 16);
  if (config === undefined) return 'the guest has no /etc/selinux/config';
  const mode = /^\s*SELINUX\s*=\s*(\w+)/m.exec(config)?.[1]?.toLowerCase() ?? 'disabled';
  const choice = ctx.options.selinux ?? 'relabel';
  if (choice === 'keep') return 'asked to keep SELinux as it is';
  if (choice === 'relabel') {
    if (mode === 'disabled') return 'SELinux is disabled in the guest';
    if (!(await ctx.view.exists('/.autorelabel', false))) await p.writeFile('/.autorelabel', '');
    return;
  }
  const want = choice === 'disable' ? 'disabled' : 'permissive';
  if (mode === want) return;
  const next = /^\s*SELINUX\s*=/m.test(config) ? config.replace(/^(\s*SELINUX\s*=\s*)\w+/m, `$1${want}`) : `${config}${config.endsWith('\n') ? '' : '\n'}SELINUX=${want}\n`;
  await p.writeFile('/etc/selinux/config', next);
});
