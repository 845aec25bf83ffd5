// fixup/host-leftovers: what a clone of a running Dom0 (or of a container host) carries that a DomU
// must not have: the Dom0-only Xen services, container markers (/.dockerenv makes the guest's systemd
// think it runs in Docker: it then starts a console getty beside hvc0's and skips units), policy-rc.d
// blockers left by image builders. Enabled services whose state lived in a directory the copy left
// out are reported, for the user to decide.

import { defineStage, type FixupContext, type StagePlanner } from './context.js';

/** Dom0-only units and init scripts. */
export const DOM0_SERVICES = ['xen', 'xend', 'xendomains', 'xencommons', 'xenstored', 'xenconsoled', 'xen-watchdog', 'xen-init-dom0', 'xen-qemu-dom0-disk-backend', 'xendriverdomain'];
const DOM0_UNITS = [...DOM0_SERVICES.map((s) => `${s}.service`), 'proc-xen.mount', 'var-lib-xenstored.mount', 'xenstored.socket', 'xenstored_ro.socket'];
const UNIT_DIRS = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];
const CONTAINER_MARKERS = ['/.dockerenv', '/run/.containerenv'];

/** Where well-known services keep their state (besides what their units declare). */
const KNOWN_STATE: Record<string, string[]> = {
  mysql: ['/var/lib/mysql'], mariadb: ['/var/lib/mysql'], mysqld: ['/var/lib/mysql'],
  postgresql: ['/var/lib/postgresql', '/var/lib/pgsql'], docker: ['/var/lib/docker'], containerd: ['/var/lib/containerd'],
  'redis-server': ['/var/lib/redis'], redis: ['/var/lib/redis'], mongod: ['/var/lib/mongodb'], slapd: ['/var/lib/ldap'],
  bind9: ['/var/cache/bind'], named: ['/var/named', '/var/cache/bind'], apache2: ['/var/www'], httpd: ['/var/www'], nginx: ['/var/www'],
  postfix: ['/var/spool/postfix'], exim4: ['/var/spool/exim4'], cups: ['/var/spool/cups'], libvirtd: ['/var/lib/libvirt'],
  dovecot: ['/var/lib/dovecot'], squid: ['/var/spool/squid'], 'influxdb': ['/var/lib/influxdb'], elasticsearch: ['/var/lib/elasticsearch'],
};

const unitName = (s: string) => s.replace(/\.(service|socket|mount|timer)$/, '').replace(/@.*$/, '');

async function unitPath(ctx: FixupContext, unit: string): Promise<string | undefined> {
  for (const d of UNIT_DIRS) if ((await ctx.view.kind(`${d}/${unit}`)) === 'file') return `${d}/${unit}`;
  return undefined;
}

async function wantsDirs(ctx: FixupContext): Promise<string[]> {
  return (await ctx.view.list('/etc/systemd/system')).filter((n) => /\.(wants|requires)$/.test(n)).map((n) => `/etc/systemd/system/${n}`);
}

/** rc directories, each once even where /etc/rcN.d links to /etc/rc.d/rcN.d. */
async function rcDirs(ctx: FixupContext): Promise<string[]> {
  const seen = new Set<string>();
  for (const l of ['0', '1', '2', '3', '4', '5', '6', 'S']) {
    for (const d of [`/etc/rc${l}.d`, `/etc/rc.d/rc${l}.d`]) {
      if ((await ctx.view.kind(d)) === 'dir') seen.add((await ctx.view.canonical(d)).guestPath);
    }
  }
  return [...seen].sort();
}

async function disableDom0Services(ctx: FixupContext, p: StagePlanner): Promise<void> {
  const init = ctx.guest.init;
  if (init === 'systemd') {
    for (const dir of await wantsDirs(ctx)) {
      for (const n of await ctx.view.list(dir)) if (DOM0_UNITS.includes(n)) await p.remove(`${dir}/${n}`, 'Dom0-only unit enabled');
    }
    for (const unit of DOM0_UNITS) {
      const script = unit.endsWith('.service') ? `/etc/init.d/${unitName(unit)}` : undefined;
      const local = await ctx.view.kind(`/etc/systemd/system/${unit}`, false);
      if (local === 'file') {
        p.note(`/etc/systemd/system/${unit} is a local unit file: not masked; disable it by hand`);
        continue;
      }
      if ((await unitPath(ctx, unit)) || (script && (await ctx.view.exists(script)))) {
        await p.symlink(`/etc/systemd/system/${unit}`, '/dev/null', { replace: true }); // systemctl mask
      }
    }
  }
  if (init === 'sysvinit' || init === 'systemd') {
    // update-rc.d disable: S links become K links, so that upgrades keep them off
    for (const dir of await rcDirs(ctx)) {
      const names = await ctx.view.list(dir);
      for (const n of names) {
        const m = /^S(\d\d)(.+)$/.exec(n);
        if (!m || !DOM0_SERVICES.includes(m[2]!)) continue;
        const k = `K${String(Math.max(1, 100 - Number(m[1]))).padStart(2, '0')}${m[2]}`;
        if (names.includes(k)) await p.remove(`${dir}/${n}`, 'Dom0-only service start link');
        else await p.rename(`${dir}/${n}`, `${dir}/${k}`);
      }
    }
  }
  if (init === 'upstart') {
    for (const s of DOM0_SERVICES) {
      if (await ctx.view.exists(`/etc/init/${s}.conf`)) await p.writeFile(`/etc/init/${s}.override`, 'manual\n');
    }
  }
}

async function removeBlockers(ctx: FixupContext, p: StagePlanner): Promise<void> {
  for (const m of CONTAINER_MARKERS) await p.remove(m, 'container marker');
  for (const path of ['/usr/sbin/policy-rc.d']) {
    if ((await ctx.view.kind(path, false)) === undefined) continue;
    const text = await ctx.view.readText(path, 1 << 16).catch(() => undefined);
    if (text !== undefined && /exit\s+101/.test(text)) await p.remove(path, 'policy-rc.d blocks service starts');
    else p.note(`${path} exists and is not a plain blocker; left alone`);
  }
  if (await ctx.view.exists('/sbin/initctl.distrib')) p.note('/sbin/initctl is diverted (/sbin/initctl.distrib exists): an image builder left it; undo with dpkg-divert --rename --remove /sbin/initctl');
}

/** Enabled services in the guest: systemd wants links and rc start links. */
async function enabledServices(ctx: FixupContext): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const dir of await wantsDirs(ctx)) {
    for (const n of await ctx.view.list(dir)) if (/\.service$/.test(n)) out.set(unitName(n), await unitPath(ctx, n.replace(/@[^.]+\./, '@.')));
  }
  for (const dir of await rcDirs(ctx)) {
    if (!/rc[2345]\.d$/.test(dir)) continue;
    for (const n of await ctx.view.list(dir)) {
      const m = /^S\d\d(.+)$/.exec(n);
      if (m && !out.has(m[1]!)) out.set(m[1]!, undefined);
    }
  }
  return out;
}

async function reportLostState(ctx: FixupContext, p: StagePlanner, excluded: string[]): Promise<void> {
  const ex = excluded.map((e) => `/${e.replace(/^\/+|\/+$/g, '')}`);
  const under = (d: string) => ex.find((e) => e === '/' || d === e || d.startsWith(`${e}/`));
  for (const [service, unit] of await enabledServices(ctx)) {
    const known = KNOWN_STATE[service] ?? [];
    const dirs = new Set(known);
    // systemd recreates a unit's StateDirectory= at start; what is lost is data, which matters for
    // services that are not systemd's own
    if (unit && !service.startsWith('systemd-')) {
      const text = (await ctx.view.readText(unit, 1 << 20).catch(() => undefined)) ?? '';
      const base: Record<string, string> = { StateDirectory: '/var/lib', CacheDirectory: '/var/cache', LogsDirectory: '/var/log' };
      for (const [key, prefix] of Object.entries(base)) {
        for (const m of text.matchAll(new RegExp(`^${key}=(.+)$`, 'gm'))) for (const d of m[1]!.trim().split(/\s+/)) dirs.add(`${prefix}/${d.split(':')[0]}`);
      }
      for (const m of text.matchAll(/^(?:WorkingDirectory|ReadWritePaths)=-?(\/\S*)/gm)) dirs.add(m[1]!);
    }
    for (const d of dirs) {
      const e = under(d);
      if (!e) continue;
      const exists = (await ctx.view.kind(d)) === 'dir';
      const present = exists && (known.includes(d) ? (await ctx.view.list(d)).length > 0 : true);
      if (!present) p.note(`service ${service} is enabled but its state ${d} was under the excluded ${e} and is ${exists ? 'empty' : 'missing'}: copy that data, or disable the service`);
    }
  }
}

export const hostLeftoversStage = defineStage('host-leftovers', 'disable Dom0-only Xen services; remove container markers and policy-rc.d; report lost service state', async (ctx, p) => {
  await disableDom0Services(ctx, p);
  await removeBlockers(ctx, p);
  if (ctx.options.excluded?.length) await reportLostState(ctx, p, ctx.options.excluded);
});
