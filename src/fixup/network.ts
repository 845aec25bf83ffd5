// fixup/network: udev's persistent-net rules bind eth0 to the build host's MAC (seed 4.3), so they
// go; optionally the generator that writes them is disabled too. Then the guest's own network
// system (ifupdown, ifcfg, netplan or systemd-networkd) gets the domain's interface: DHCP or a
// static address.

import { stringify } from 'yaml';
import { dottedNetmask, prefixLength, vifMac, type DomainVif } from '../xen/domain.js';
import { defineStage, type FixupContext, type NetworkSystem, type StagePlanner } from './context.js';

const RULES = ['/etc/udev/rules.d/70-persistent-net.rules', '/etc/udev/rules.d/z25_persistent-net.rules'];
const GENERATORS = ['/etc/udev/rules.d/z45_persistent-net-generator.rules', '/etc/udev/rules.d/75-persistent-net-generator.rules'];
const PACKAGED_GENERATOR = ['/lib/udev/rules.d/75-persistent-net-generator.rules', '/usr/lib/udev/rules.d/75-persistent-net-generator.rules'];

/** systemd's version in the guest, from the name of its shared library (libsystemd-shared-252.so). */
async function systemdVersion(ctx: FixupContext): Promise<number | undefined> {
  for (const dir of ['/usr/lib/x86_64-linux-gnu/systemd', '/usr/lib/aarch64-linux-gnu/systemd', '/usr/lib/i386-linux-gnu/systemd', '/lib/systemd', '/usr/lib/systemd', '/usr/lib64/systemd']) {
    for (const n of await ctx.view.list(dir)) {
      const m = /^libsystemd-shared-(\d+)/.exec(n);
      if (m) return Number(m[1]);
    }
  }
  return undefined;
}

/**
 * The name the guest kernel and udev give vif `index`: systemd 250 and later name Xen's netfront
 * enX<N> unless net.ifnames=0 is on the command line; older guests call it eth<N>.
 */
export async function interfaceName(ctx: FixupContext, index: number): Promise<string> {
  if (/(^|\s)net\.ifnames=0(\s|$)/.test(ctx.domain.extra ?? '')) return `eth${index}`;
  if (ctx.guest.init === 'systemd' && ctx.guest.udev) {
    const v = await systemdVersion(ctx);
    if (v !== undefined && v >= 250) return `enX${index}`;
  }
  return `eth${index}`;
}

async function detectSystem(ctx: FixupContext): Promise<NetworkSystem | undefined> {
  const v = ctx.view;
  if ((await v.kind('/etc/netplan')) === 'dir' && ((await v.exists('/usr/sbin/netplan')) || (await v.exists('/usr/share/netplan')))) return 'netplan';
  if (ctx.guest.distro.family === 'redhat' && (await v.kind('/etc/sysconfig/network-scripts')) === 'dir') return 'ifcfg';
  if ((await v.exists('/etc/network/interfaces')) || (await v.exists('/sbin/ifup'))) return 'ifupdown';
  if (ctx.guest.init === 'systemd' && ((await v.exists('/lib/systemd/systemd-networkd')) || (await v.exists('/usr/lib/systemd/systemd-networkd')))) return 'networkd';
  return undefined;
}

const STANZA = /^(iface|mapping|auto|allow-[\w-]+|source|source-directory|no-auto-down|no-scripts|rename)\b/;

/** /etc/network/interfaces with the stanzas of `name` replaced by ours (appended). */
export function updateInterfaces(text: string, name: string, stanza: string[]): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let inOurs = false;
  for (const l of lines) {
    const t = l.trim();
    if (STANZA.test(t)) {
      inOurs = false;
      const w = t.split(/\s+/);
      if (w[0] === 'iface' && w[1] === name) {
        inOurs = true;
        continue;
      }
      if ((w[0] === 'auto' || w[0]!.startsWith('allow-')) && w.slice(1).includes(name)) {
        const rest = w.slice(1).filter((x) => x !== name);
        if (rest.length > 0) out.push([w[0], ...rest].join(' '));
        continue;
      }
      out.push(l);
      continue;
    }
    if (inOurs && t !== '' && !t.startsWith('#')) continue;
    if (inOurs && t === '') inOurs = false;
    out.push(l);
  }
  while (out.length > 0 && out[out.length - 1]!.trim() === '') out.pop();
  return `${[...out, '', ...stanza].join('\n')}\n`;
}

/**
 * allow-hotplug, as Debian's installer writes it: the interface is raised when it appears, so a
 * guest started without that vif (or a boot test that drops it) does not fail networking.service.
 */
function ifupdownStanza(name: string, vif: DomainVif): string[] {
  if (!vif.ip) return [`allow-hotplug ${name}`, `iface ${name} inet dhcp`];
  const s = [`allow-hotplug ${name}`, `iface ${name} inet static`, `    address ${vif.ip}`, `    netmask ${dottedNetmask(prefixLength(vif.netmask ?? '24')!)}`];
  if (vif.gateway) s.push(`    gateway ${vif.gateway}`);
  if (vif.nameservers?.length) s.push(`    dns-nameservers ${vif.nameservers.join(' ')}`);
  return s;
}

function ifcfg(name: string, mac: string, vif: DomainVif): string {
  const l = ['# written by domu-forge', `DEVICE=${name}`, `HWADDR=${mac}`, 'TYPE=Ethernet', 'ONBOOT=yes'];
  if (!vif.ip) l.push('BOOTPROTO=dhcp');
  else {
    l.push('BOOTPROTO=none', `IPADDR=${vif.ip}`, `NETMASK=${dottedNetmask(prefixLength(vif.netmask ?? '24')!)}`);
    if (vif.gateway) l.push(`GATEWAY=${vif.gateway}`);
    vif.nameservers?.forEach((ns, i) => l.push(`DNS${i + 1}=${ns}`));
  }
  return `${l.join('\n')}\n`;
}

function netplan(ctx: FixupContext): string {
  const ethernets: Record<string, unknown> = {};
  ctx.domain.vifs.forEach((vif, i) => {
    const e: Record<string, unknown> = { match: { macaddress: vifMac(ctx.domain, i) } };
    if (!vif.ip) e.dhcp4 = true;
    else {
      e.dhcp4 = false;
      e.addresses = [`${vif.ip}/${prefixLength(vif.netmask ?? '24')}`];
      if (vif.gateway) e.routes = [{ to: '0.0.0.0/0', via: vif.gateway }];
      if (vif.nameservers?.length) e.nameservers = { addresses: vif.nameservers };
    }
    ethernets[`xen-vif${i}`] = e;
  });
  return `# Xen domain network (written by domu-forge)\n${stringify({ network: { version: 2, ethernets } })}`;
}

function networkdUnit(mac: string, vif: DomainVif): string {
  const l = ['# written by domu-forge', '[Match]', `MACAddress=${mac}`, '', '[Network]'];
  if (!vif.ip) l.push('DHCP=ipv4');
  else {
    l.push(`Address=${vif.ip}/${prefixLength(vif.netmask ?? '24')}`);
    if (vif.gateway) l.push(`Gateway=${vif.gateway}`);
    vif.nameservers?.forEach((ns) => l.push(`DNS=${ns}`));
  }
  return `${l.join('\n')}\n`;
}

async function writeConfig(ctx: FixupContext, p: StagePlanner, system: NetworkSystem): Promise<void> {
  const vifs = ctx.domain.vifs;
  switch (system) {
    case 'ifupdown': {
      let text = (await ctx.view.readText('/etc/network/interfaces', 1 << 20)) ?? 'auto lo\niface lo inet loopback\n';
      for (let i = 0; i < vifs.length; i += 1) text = updateInterfaces(text, await interfaceName(ctx, i), ifupdownStanza(await interfaceName(ctx, i), vifs[i]!));
      await p.writeFile('/etc/network/interfaces', text);
      return;
    }
    case 'ifcfg':
      for (let i = 0; i < vifs.length; i += 1) {
        const name = await interfaceName(ctx, i);
        await p.writeFile(`/etc/sysconfig/network-scripts/ifcfg-${name}`, ifcfg(name, vifMac(ctx.domain, i), vifs[i]!));
      }
      return;
    case 'netplan': {
      const path = '/etc/netplan/60-domu-forge.yaml';
      for (const n of await ctx.view.list('/etc/netplan')) {
        if (`/etc/netplan/${n}` === path || !/\.ya?ml$/.test(n)) continue;
        const t = (await ctx.view.readText(`/etc/netplan/${n}`, 1 << 20)) ?? '';
        if (/ethernets\s*:/.test(t)) p.note(`/etc/netplan/${n} also configures ethernets; netplan merges it with ours: check it, or remove it`);
      }
      await p.writeFile(path, netplan(ctx), { mode: 0o600 });
      return;
    }
    case 'networkd': {
      for (let i = 0; i < vifs.length; i += 1) {
        await p.writeFile(`/etc/systemd/network/50-domu-forge-vif${i}.network`, networkdUnit(vifMac(ctx.domain, i), vifs[i]!));
      }
      for (const dir of ['/lib/systemd/system', '/usr/lib/systemd/system']) {
        if (await ctx.view.exists(`${dir}/systemd-networkd.service`)) {
          await p.symlink('/etc/systemd/system/multi-user.target.wants/systemd-networkd.service', `${dir}/systemd-networkd.service`);
          break;
        }
      }
    }
  }
}

export const networkStage = defineStage('network', 'remove persistent-net rules; write the interface config (DHCP or static)', async (ctx, p) => {
  for (const r of RULES) await p.remove(r, 'persistent-net rules bound to the build host\'s MAC');
  if (ctx.options.removeNetGenerator) {
    for (const g of GENERATORS) {
      const kind = await ctx.view.kind(g, false);
      if (kind === 'file') await p.remove(g, 'persistent-net generator');
    }
    for (const g of PACKAGED_GENERATOR) {
      if (await ctx.view.exists(g)) {
        // packaged: mask it the udev way, so that an upgrade does not bring it back
        await p.symlink('/etc/udev/rules.d/75-persistent-net-generator.rules', '/dev/null');
        break;
      }
    }
  }
  if (!ctx.domainGiven) {
    p.note('no domain given: interface config left alone');
    return;
  }
  if (ctx.domain.vifs.length === 0) return;
  const system = ctx.options.networkSystem ?? (await detectSystem(ctx));
  if (!system) {
    p.note(`no known network system in ${ctx.guest.distro.name} (ifupdown, ifcfg, netplan, networkd): interface config not written`);
    return;
  }
  await writeConfig(ctx, p, system);
});
