// fixup/identity: the guest's own name, and nothing that must differ between clones: the hostname
// (was the Dom0's) and /etc/hosts, an empty machine-id, no ssh host keys (regenerated at first
// boot), and where asked a root password hash and authorized_keys.

import { DomuError } from '../errors.js';
import { defineStage, type FixupContext, type StagePlanner } from './context.js';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const KEYGEN_UNIT = 'domu-forge-ssh-hostkeys.service';

async function currentHostname(ctx: FixupContext): Promise<string | undefined> {
  const h = (await ctx.view.readText('/etc/hostname', 4096))?.trim().split('\n')[0]?.trim();
  if (h) return h;
  const net = await ctx.view.readText('/etc/sysconfig/network', 1 << 16);
  return net ? /^HOSTNAME=["']?([^"'\s]+)/m.exec(net)?.[1] : undefined;
}

/** /etc/hosts with the old name replaced and a line for the new one. */
export function updateHosts(text: string, oldName: string | undefined, fqdn: string, ip?: string): string {
  const short = fqdn.split('.')[0]!;
  const names = fqdn === short ? [fqdn] : [fqdn, short];
  const oldNames = new Set<string>();
  if (oldName && oldName !== 'localhost') {
    oldNames.add(oldName);
    oldNames.add(oldName.split('.')[0]!);
  }
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  for (const l of lines) {
    const m = /^(\s*)(\S+)(\s+)([^#]*?)(\s*#.*)?$/.exec(l);
    const hosts = m ? m[4]!.split(/\s+/).filter(Boolean) : [];
    if (!m || l.trim().startsWith('#') || !hosts.some((h) => oldNames.has(h))) {
      out.push(l);
      continue;
    }
    const kept = hosts.filter((h) => !oldNames.has(h));
    // a loopback line names this machine: it takes the new name; another address was the old
    // host's own and only loses the old name
    const loopback = /^127\./.test(m[2]!) && ip === undefined;
    const merged = loopback ? [...names.filter((n) => !kept.includes(n)), ...kept] : kept;
    if (merged.length > 0) out.push(`${m[1]}${m[2]}${m[3]}${merged.join(' ')}${m[5] ?? ''}`);
  }
  const target = ip ?? '127.0.1.1';
  const has = out.some((l) => {
    const w = l.replace(/#.*/, '').trim().split(/\s+/);
    return w[0] === target && w.slice(1).includes(fqdn);
  });
  if (!has) {
    const i = out.findIndex((l) => l.replace(/#.*/, '').trim().split(/\s+/)[0] === target);
    if (i >= 0) {
      const w = out[i]!.replace(/#.*/, '').trim().split(/\s+/);
      out[i] = `${target}\t${[...names, ...w.slice(1).filter((n) => !names.includes(n))].join(' ')}`;
    } else {
      const after = out.findIndex((l) => /^\s*127\.0\.0\.1\s/.test(l));
      out.splice(after >= 0 ? after + 1 : out.length, 0, `${target}\t${names.join(' ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

async function setHostname(ctx: FixupContext, p: StagePlanner, fqdn: string): Promise<void> {
  const old = await currentHostname(ctx);
  const oldRedHat = ctx.guest.distro.family === 'redhat' && ctx.guest.init !== 'systemd';
  if (oldRedHat) {
    const net = (await ctx.view.readText('/etc/sysconfig/network', 1 << 16)) ?? 'NETWORKING=yes\n';
    const next = /^HOSTNAME=/m.test(net) ? net.replace(/^HOSTNAME=.*$/m, `HOSTNAME=${fqdn}`) : `${net}${net.endsWith('\n') ? '' : '\n'}HOSTNAME=${fqdn}\n`;
    await p.writeFile('/etc/sysconfig/network', next);
  }
  if (!oldRedHat || (await ctx.view.exists('/etc/hostname'))) await p.writeFile('/etc/hostname', `${fqdn}\n`);
  const hosts = (await ctx.view.readText('/etc/hosts', 1 << 20)) ?? '127.0.0.1\tlocalhost\n';
  await p.writeFile('/etc/hosts', updateHosts(hosts, old, fqdn, ctx.domain.vifs[0]?.ip));
}

async function forgetMachine(ctx: FixupContext, p: StagePlanner): Promise<void> {
  // an empty (not missing) machine-id makes systemd make a new one at boot, as virt-sysprep leaves it
  const id = await ctx.view.readText('/etc/machine-id', 4096);
  if (id !== undefined && id !== '') await p.writeFile('/etc/machine-id', '');
  if ((await ctx.view.kind('/var/lib/dbus/machine-id', false)) === 'file') await p.remove('/var/lib/dbus/machine-id', 'D-Bus machine id of the source');
  let removed = false;
  for (const n of await ctx.view.list('/etc/ssh')) {
    if (/^ssh_host_.*key(\.pub)?$/.test(n)) removed = (await p.remove(`/etc/ssh/${n}`, 'ssh host key')) || removed;
  }
  const hasSshd = (await ctx.view.exists('/usr/sbin/sshd')) || (await ctx.view.exists('/sbin/sshd'));
  if (!hasSshd) return;
  if (ctx.guest.init === 'systemd') {
    // Red Hat regenerates keys itself (sshd-keygen); Debian's ssh.service does not
    for (const u of ['sshd-keygen.service', 'sshd-keygen@.service', 'sshd-keygen.target']) {
      for (const dir of ['/lib/systemd/system', '/usr/lib/systemd/system']) if (await ctx.view.exists(`${dir}/${u}`)) return;
    }
    const keygen = (await ctx.view.exists('/usr/bin/ssh-keygen')) ? '/usr/bin/ssh-keygen' : '/bin/ssh-keygen';
    const unit = [
      '# Make ssh host keys at first boot: domu-forge removed the source\'s, so that clones differ.',
      '[Unit]',
      'Description=Generate ssh host keys',
      'ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key',
      'Before=ssh.service sshd.service',
      '',
      '[Service]',
      'Type=oneshot',
      `ExecStart=${keygen} -A`,
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n');
    await p.writeFile(`/etc/systemd/system/${KEYGEN_UNIT}`, unit);
    await p.symlink(`/etc/systemd/system/multi-user.target.wants/${KEYGEN_UNIT}`, `/etc/systemd/system/${KEYGEN_UNIT}`);
  } else if (removed && ctx.guest.distro.family === 'debian') {
    p.note('ssh host keys removed: run `dpkg-reconfigure openssh-server` in the guest, or sshd will not start');
  }
}

async function rootPassword(ctx: FixupContext, p: StagePlanner, hash: string): Promise<void> {
  if (!/^(\$[0-9a-z]+\$[^:\s]+|[!*][^:\s]*)$/.test(hash)) {
    throw new DomuError('BAD_INPUT', 'the root password hash must be a crypt(3) hash ($6$..., $y$...) or a lock (!, *), without ":" or spaces');
  }
  const shadow = await ctx.view.readText('/etc/shadow', 1 << 22);
  if (shadow === undefined) throw new DomuError('BAD_INPUT', 'the guest has no /etc/shadow: cannot set the root password');
  const lines = shadow.split('\n');
  const i = lines.findIndex((l) => l.startsWith('root:'));
  if (i < 0) throw new DomuError('BAD_INPUT', 'the guest\'s /etc/shadow has no root line');
  const f = lines[i]!.split(':');
  if (f.length < 3) throw new DomuError('BAD_INPUT', 'the guest\'s /etc/shadow root line is malformed');
  if (f[1] === hash) return;
  f[1] = hash;
  lines[i] = f.join(':');
  await p.writeFile('/etc/shadow', lines.join('\n'));
}

/**
 * Append keys missing from root's authorized_keys (root's home from the guest's passwd). A new file
 * is 0600 root's; an existing one keeps its mode and owner unless `forceMode` (the access stage's).
 */
export async function appendRootAuthorizedKeys(ctx: FixupContext, p: StagePlanner, keys: readonly string[], forceMode = false): Promise<void> {
  for (const k of keys) {
    if (/[\n\r\0]/.test(k) || k.trim() === '' || !/(^|\s)(ssh-|ecdsa-|sk-)/.test(k)) throw new DomuError('BAD_INPUT', `not an ssh public key: ${k.slice(0, 40)}`);
  }
  const passwd = (await ctx.view.readText('/etc/passwd', 1 << 22)) ?? '';
  const home = passwd.split('\n').find((l) => l.startsWith('root:'))?.split(':')[5] || '/root';
  await p.ensureDir(home, 0o700);
  await p.ensureDir(`${home}/.ssh`, 0o700);
  const path = `${home}/.ssh/authorized_keys`;
  const cur = (await ctx.view.readText(path, 1 << 20)) ?? '';
  const have = new Set(cur.split('\n').map((l) => l.trim()));
  const add = keys.map((k) => k.trim()).filter((k) => !have.has(k));
  if (add.length === 0) return;
  await p.writeFile(path, `${cur}${cur === '' || cur.endsWith('\n') ? '' : '\n'}${add.join('\n')}\n`, cur === '' || forceMode ? { mode: 0o600, uid: 0, gid: 0 } : {});
}

export const identityStage = defineStage('identity', 'hostname and /etc/hosts; empty machine-id; no ssh host keys; root password and keys', async (ctx, p) => {
  const fqdn = ctx.options.hostname ?? (ctx.domainGiven ? ctx.domain.name : undefined);
  if (fqdn !== undefined) {
    if (!HOSTNAME.test(fqdn)) throw new DomuError('BAD_INPUT', `"${fqdn}" is not a valid host name`);
    await setHostname(ctx, p, fqdn);
  } else p.note('no hostname given: the hostname is left as it is');
  await forgetMachine(ctx, p);
  if (ctx.options.rootPasswordHash !== undefined) await rootPassword(ctx, p, ctx.options.rootPasswordHash);
  if (ctx.options.authorizedKeys?.length) await appendRootAuthorizedKeys(ctx, p, ctx.options.authorizedKeys);
});
