// An installed guest that boots and can be reached, as xen-tools makes one: the distribution's kernel
// (and initramfs) when a bootloader in the guest loads it (PyGRUB, pvgrub), an ssh server, the
// security apt source of suites that have one, and the Dom0's timezone and locale.

import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GuestFs } from '../guest/guest-fs.js';
import { runTool } from '../sys/exec.js';
import type { InstallOptions, InstallResult } from './types.js';
import { isDebianOptions } from './types.js';

/** Debian's kernel metapackage per architecture. */
const DEBIAN_KERNEL: Readonly<Record<string, string>> = { amd64: 'linux-image-amd64', i386: 'linux-image-686-pae', arm64: 'linux-image-arm64' };

/** Whether the install must put a kernel in the guest: a bootloader reads it from there. */
export function wantsKernel(o: InstallOptions): boolean {
  return Boolean((o.pygrub || o.pvgrub) && !o.noKernel);
}

/** The packages an install adds so that the guest boots and is reachable (kernel, initramfs, sshd). */
export function bootPackages(o: InstallOptions, arch: string): string[] {
  const out: string[] = [];
  if (isDebianOptions(o)) {
    if (wantsKernel(o)) {
      out.push(o.distro === 'ubuntu' ? 'linux-image-virtual' : (DEBIAN_KERNEL[arch] ?? `linux-image-${arch}`), 'initramfs-tools');
    }
    if (!o.noSsh) out.push('openssh-server');
    if (hostLocale(o) !== undefined) out.push('locales');
  } else {
    if (wantsKernel(o)) out.push('kernel');
    if (!o.noSsh) out.push('openssh-server');
  }
  return out;
}

/** A Dom0 locale worth carrying over (C and POSIX need nothing), read by prepareHostSettings. */
function hostLocale(o: InstallOptions): string | undefined {
  const l = o.hostSettings?.lang;
  return l && !/^(C|POSIX)(\.|$)/.test(l) ? l : undefined;
}

/** Suites with no security archive: the development ones. */
const NO_SECURITY = new Set(['sid', 'unstable', 'experimental', 'rc-buggy']);
/** Before bullseye, Debian's security suite was CODENAME/updates (those are on archive.debian.org now). */
const OLD_DEBIAN = new Set(['buster', 'stretch', 'jessie', 'wheezy', 'squeeze', 'lenny', 'etch']);

/** The security archive's sources.list line for a suite, or undefined when it has none. */
export function securitySourceLine(distro: 'debian' | 'ubuntu', codename: string, components: readonly string[]): string | undefined {
  const comps = (components.length ? components : ['main']).join(' ');
  if (NO_SECURITY.has(codename) || codename === '') return undefined;
  if (distro === 'ubuntu') return `deb http://security.ubuntu.com/ubuntu ${codename}-security ${comps}`;
  if (OLD_DEBIAN.has(codename)) return undefined;
  return `deb http://security.debian.org/debian-security ${codename}-security ${comps}`;
}

export interface HostSettings {
  /** An Olson zone name (Europe/Berlin), from the Dom0's /etc/timezone or its /etc/localtime link. */
  timezone?: string;
  /** LANG, from the Dom0's /etc/default/locale or /etc/locale.conf. */
  lang?: string;
}

/** The Dom0's timezone and locale (from `root`, "/" by default). */
export async function readHostSettings(root = '/'): Promise<HostSettings> {
  const out: HostSettings = {};
  const tz = (await readFile(join(root, 'etc/timezone'), 'utf8').catch(() => '')).trim();
  if (/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(tz)) out.timezone = tz;
  else {
    const link = await readlink(join(root, 'etc/localtime')).catch(() => '');
    const m = /zoneinfo\/(.+)$/.exec(link);
    if (m) out.timezone = m[1]!;
  }
  for (const f of ['etc/default/locale', 'etc/locale.conf']) {
    const t = await readFile(join(root, f), 'utf8').catch(() => '');
    const m = /^\s*LANG=["']?([A-Za-z0-9_.@-]+)/m.exec(t);
    if (m) {
      out.lang = m[1]!;
      break;
    }
  }
  return out;
}

/** "en_GB.UTF-8" -> the /etc/locale.gen line "en_GB.UTF-8 UTF-8". */
export function localeGenLine(lang: string): string {
  const charset = /\.([A-Za-z0-9-]+)/.exec(lang)?.[1];
  const cs = charset ? (charset.toLowerCase().replace('-', '') === 'utf8' ? 'UTF-8' : charset.toUpperCase()) : 'ISO-8859-1';
  return `${lang.replace(/\.utf8$/i, '.UTF-8')} ${cs}`;
}

async function codenameOf(fs: GuestFs, fallback: string): Promise<string> {
  const os = (await fs.readText('/etc/os-release', 1 << 16)) ?? '';
  return /^VERSION_CODENAME=["']?([a-z]+)/m.exec(os)?.[1] ?? fallback;
}

/** After the install: security source, timezone, locale. Every write goes through GuestFs. */
export async function finishGuest(o: InstallOptions, result: InstallResult): Promise<void> {
  const fs = new GuestFs(o.root);
  if (isDebianOptions(o) && o.securitySource !== false) {
    const codename = await codenameOf(fs, o.suite);
    const line = securitySourceLine(o.distro, codename, o.components ?? []);
    if (line) {
      const cur = (await fs.readText('/etc/apt/sources.list', 1 << 20)) ?? '';
      if (!cur.split('\n').some((l) => l.trim() === line)) {
        await fs.writeFile('/etc/apt/sources.list', `${cur}${cur === '' || cur.endsWith('\n') ? '' : '\n'}${line}\n`, { mode: 0o644 });
        result.written.push('/etc/apt/sources.list');
      }
    } else result.warnings.push(`${codename} has no security archive: no security apt source written`);
  }
  const host = o.hostSettings;
  if (host?.timezone) {
    const zone = `/usr/share/zoneinfo/${host.timezone}`;
    if (await fs.exists(zone)) {
      if (isDebianOptions(o)) {
        await fs.writeFile('/etc/timezone', `${host.timezone}\n`, { mode: 0o644 });
        result.written.push('/etc/timezone');
      }
      await fs.remove('/etc/localtime');
      await fs.symlink('/etc/localtime', zone);
      result.written.push('/etc/localtime');
    } else result.warnings.push(`the guest has no ${zone} (tzdata): the timezone stays UTC`);
  }
  const lang = hostLocale(o);
  if (lang && isDebianOptions(o)) {
    const gen = localeGenLine(lang);
    const cur = (await fs.readText('/etc/locale.gen', 1 << 20)) ?? '';
    const lines = cur.split('\n');
    const i = lines.findIndex((l) => l.replace(/^#\s*/, '').trim() === gen);
    if (i >= 0) lines[i] = gen;
    else lines.splice(lines.length - (cur.endsWith('\n') ? 1 : 0), 0, gen);
    await fs.writeFile('/etc/locale.gen', lines.join('\n'), { mode: 0o644 });
    await runTool('chroot', [fs.root, '/usr/sbin/locale-gen'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
    await fs.writeFile('/etc/default/locale', `LANG=${lang}\n`, { mode: 0o644 });
    result.written.push('/etc/locale.gen', '/etc/default/locale');
  } else if (lang) {
    await fs.writeFile('/etc/locale.conf', `LANG=${lang}\n`, { mode: 0o644 });
    result.written.push('/etc/locale.conf');
  }
}
