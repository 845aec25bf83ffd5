// fixup/console: a login prompt on the Xen console. hvc0 for mainline kernels, xvc0 for legacy
// XenLinux ones (from the domain model, so the config's console= and the getty agree). sysvinit
// gets an inittab line (the seed's `xvc:2345:respawn:/sbin/agetty -L xvc0`), upstart a job, and
// systemd an enabled serial-getty@ instance (the symlink `systemctl enable` would make), and a udev
// rule that starts it when the console appears after systemd stopped waiting for it.

import { consoleOf, defineStage, type FixupContext, type StagePlanner } from './context.js';

const SYSTEMD_UNIT_DIRS = ['/lib/systemd/system', '/usr/lib/systemd/system'];

async function systemdGetty(ctx: FixupContext, p: StagePlanner, dev: string): Promise<string | void> {
  let template: string | undefined;
  for (const dir of SYSTEMD_UNIT_DIRS) {
    if ((await ctx.view.kind(`${dir}/serial-getty@.service`)) === 'file') {
      template = `${dir}/serial-getty@.service`;
      break;
    }
  }
  if (!template) return 'the guest runs systemd but has no serial-getty@.service';
  await p.symlink(`/etc/systemd/system/getty.target.wants/serial-getty@${dev}.service`, template);
  // serial-getty@ is bound to the console's device unit, which systemd gives up on after 90 s
  // (DefaultDeviceTimeoutSec); on a slow or loaded host udev can announce hvc0 later than that, and
  // the guest would boot with no login prompt. A udev rule asks for the getty when the console
  // appears, however late. (Not an unlimited wait on the device: a guest booted without that
  // console, as boot-test's plain mode does, would then never finish booting.)
  await p.writeFile(`/etc/udev/rules.d/90-domu-forge-console-${dev}.rules`, `# written by domu-forge: a getty on the Xen console whenever it appears\nACTION=="add", SUBSYSTEM=="tty", KERNEL=="${dev}", TAG+="systemd", ENV{SYSTEMD_WANTS}+="serial-getty@${dev}.service"\n`);
}

async function upstartJob(ctx: FixupContext, p: StagePlanner, dev: string): Promise<void> {
  const getty = (await ctx.view.exists('/sbin/getty')) ? '/sbin/getty' : '/sbin/agetty';
  const job = [
    `# ${dev} - getty on the Xen console (written by domu-forge)`,
    '',
    'start on stopped rc RUNLEVEL=[2345]',
    'stop on runlevel [!2345]',
    '',
    'respawn',
    `exec ${getty} -L 9600 ${dev} vt100`,
    '',
  ].join('\n');
  const path = `/etc/init/${dev}.conf`;
  const cur = await ctx.view.readText(path, 1 << 20);
  if (cur !== undefined && new RegExp(`\\b${dev}\\b`).test(cur) && /^\s*exec\s+\S*getty/m.test(cur)) return;
  await p.writeFile(path, job);
}

async function inittabLine(ctx: FixupContext, p: StagePlanner, dev: string): Promise<string | void> {
  const text = await ctx.view.readText('/etc/inittab', 1 << 20);
  if (text === undefined) return 'the guest runs sysvinit but has no /etc/inittab';
  const lines = text.split('\n');
  const active = (l: string) => !/^\s*#/.test(l) && l.split(':').length >= 4;
  if (lines.some((l) => active(l) && new RegExp(`(^|[\\s/])${dev}(\\s|$)`).test(l.split(':').slice(3).join(':')))) return;
  let getty = '/sbin/agetty';
  if (!(await ctx.view.exists('/sbin/agetty')) && (await ctx.view.exists('/sbin/getty'))) getty = '/sbin/getty';
  const ids = new Set(lines.filter(active).map((l) => l.split(':')[0]));
  let id = dev.slice(0, 3);
  for (let i = 0; ids.has(id); i += 1) id = `${dev.slice(0, 2)}${i}`;
  const entry = `${id}:2345:respawn:${getty} -L ${dev} 9600 vt100`;
  // after the last getty line, where a reader looks for it; else at the end
  let at = -1;
  lines.forEach((l, i) => {
    if (active(l) && /getty/.test(l)) at = i;
  });
  const body = text.endsWith('\n') ? lines.slice(0, -1) : lines;
  if (at >= 0 && at < body.length) body.splice(at + 1, 0, entry);
  else body.push(entry);
  await p.writeFile('/etc/inittab', `${body.join('\n')}\n`);
}

export const consoleStage = defineStage('console', 'a getty on the Xen console (hvc0 or xvc0)', async (ctx, p) => {
  const dev = consoleOf(ctx);
  switch (ctx.guest.init) {
    case 'systemd':
      return systemdGetty(ctx, p, dev);
    case 'upstart':
      return upstartJob(ctx, p, dev);
    case 'sysvinit':
      return inittabLine(ctx, p, dev);
    default:
      return 'the guest\'s init system is unknown';
  }
});
