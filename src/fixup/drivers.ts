// fixup/drivers: load the Xen block and network front ends early. Old Red Hat reads aliases from
// /etc/modprobe.conf (mkinitrd builds the initrd from them: the seed's
// `alias scsi_hostadapter xenblk` / `alias eth0 xennet`); Debian and Ubuntu list modules in
// /etc/modules, systemd guests in /etc/modules-load.d. Mainline's xen-blkfront and xen-netfront
// carry the module aliases xenblk and xennet, so the same names work for both kernel kinds.

import { defineStage, type FixupContext, type StagePlanner } from './context.js';

const MODULES = ['xenblk', 'xennet'];

function aliasLines(text: string): Array<{ name: string; module: string }> {
  return text
    .split('\n')
    .map((l) => /^\s*alias\s+(\S+)\s+(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1]!, module: m[2]! }));
}

async function modprobeAliases(ctx: FixupContext, p: StagePlanner, path: string): Promise<void> {
  const text = (await ctx.view.readText(path, 1 << 20)) ?? '';
  let lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const aliases = aliasLines(text);
  if (!aliases.some((a) => /^scsi_hostadapter\d*$/.test(a.name) && a.module === 'xenblk')) {
    const taken = new Set(aliases.map((a) => a.name));
    let name = 'scsi_hostadapter';
    for (let i = 1; taken.has(name); i += 1) name = `scsi_hostadapter${i}`;
    lines.push(`alias ${name} xenblk`);
  }
  const eth0 = aliases.find((a) => a.name === 'eth0');
  if (!eth0) lines.push('alias eth0 xennet');
  else if (eth0.module !== 'xennet') {
    // the copied machine's NIC driver: under Xen, eth0 is the netfront
    lines = lines.map((l) => (/^\s*alias\s+eth0\s+/.test(l) ? 'alias eth0 xennet' : l));
  }
  const next = `${lines.join('\n')}\n`;
  if (next !== text) await p.writeFile(path, next);
}

async function listedModules(ctx: FixupContext): Promise<Set<string>> {
  const found = new Set<string>();
  const files = ['/etc/modules'];
  for (const dir of ['/etc/modules-load.d', '/usr/lib/modules-load.d', '/lib/modules-load.d']) {
    for (const n of await ctx.view.list(dir)) if (n.endsWith('.conf')) files.push(`${dir}/${n}`);
  }
  for (const f of files) {
    const t = await ctx.view.readText(f, 1 << 20).catch(() => undefined);
    for (const l of (t ?? '').split('\n')) {
      const w = l.replace(/#.*/, '').trim().split(/\s+/)[0];
      if (w) found.add(w.replace(/-/g, '_'));
    }
  }
  return found;
}

export const driversStage = defineStage('drivers', 'load xenblk and xennet (modprobe.conf, /etc/modules or modules-load.d)', async (ctx, p) => {
  const { distro, init } = ctx.guest;
  const oldRedHat = distro.family === 'redhat' && init !== 'systemd';
  if (oldRedHat) {
    if ((await ctx.view.exists('/etc/modprobe.conf')) || (distro.major !== undefined && distro.major <= 5)) {
      return modprobeAliases(ctx, p, '/etc/modprobe.conf');
    }
    return modprobeAliases(ctx, p, '/etc/modprobe.d/xen.conf');
  }
  const have = await listedModules(ctx);
  const missing = MODULES.filter((m) => !have.has(m) && !have.has(m === 'xenblk' ? 'xen_blkfront' : 'xen_netfront'));
  if (missing.length === 0) return;
  if (init === 'systemd' && (await ctx.view.exists('/etc/modules-load.d') || distro.family !== 'debian')) {
    const path = '/etc/modules-load.d/xen-domu.conf';
    const cur = (await ctx.view.readText(path, 1 << 20)) ?? '# Xen front ends (written by domu-forge)\n';
    await p.writeFile(path, `${cur}${cur.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`);
    return;
  }
  if (distro.family === 'debian' || (await ctx.view.exists('/etc/modules'))) {
    const cur = (await ctx.view.readText('/etc/modules', 1 << 20)) ?? '';
    await p.writeFile('/etc/modules', `${cur}${cur === '' || cur.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`);
    return;
  }
  return `no module list is known for ${distro.name} with ${init}`;
});
