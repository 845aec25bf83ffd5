// The Red Hat family into an alternate root, as the seed does it: rpm --initdb, the release package
// with rpm -ivh --nodeps, then dnf (or yum) --installroot: the package manager first, then the
// comps group, then extra packages. Works from a Debian host: the rpm database goes where the guest's
// rpm looks for it (/var/lib/rpm), not where Debian's rpm keeps its own (~/.rpmdb).

import { existsSync, mkdtempSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';
import type { InstallContext } from './context.js';
import { readGuestFile, unmountUnder, writeGuestFile } from './guest-files.js';
import { MirrorUnreachable } from './package-cache.js';
import { hasToolIn, parseRpmLine, requireTool, runLogged } from './progress.js';
import { checkSpace, spaceError } from './target-root.js';
import type { RpmInstallOptions, SelinuxMode } from './types.js';

/** Where the guest's rpm keeps its database (RHEL/CentOS/Rocky/Alma 8-9; Fedora links it). */
export const GUEST_RPM_DBPATH = '/var/lib/rpm';
const SELINUX_MODES: readonly SelinuxMode[] = ['disabled', 'permissive', 'enforcing'];
const MIN_BYTES = 16 << 20;
/** Room a typical group install takes (a RHEL-like Base is about 1.2 GiB). */
export const RPM_INSTALL_BYTES = 1536 << 20;

/** Whether the host's SELinux is enforcing (which breaks installs into an alternate root). */
export function hostSelinuxEnforcing(enforceFile = '/sys/fs/selinux/enforce'): boolean {
  try {
    return readFileSync(enforceFile, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** The guest's /etc/selinux/config for `mode`, keeping its other settings (SELINUXTYPE ...). */
export function selinuxConfig(mode: SelinuxMode, old: string | undefined): string {
  const lines = (old ?? '# written by domu-forge install\nSELINUXTYPE=targeted\n').split('\n');
  let seen = false;
  const out = lines.map((l) => {
    if (/^\s*SELINUX\s*=/.test(l)) {
      seen = true;
      return `SELINUX=${mode}`;
    }
    return l;
  });
  if (!seen) out.splice(out[out.length - 1] === '' ? out.length - 1 : out.length, 0, `SELINUX=${mode}`);
  let text = out.join('\n');
  if (!text.endsWith('\n')) text += '\n';
  return text;
}

export function validateRpmOptions(o: RpmInstallOptions): void {
  if (!o.releaseRpm && !(o.repos?.length)) {
    throw new DomuError('USAGE', 'an RPM install needs --release-rpm or at least one --repo', {
      hint: 'e.g. --release-rpm https://.../rocky-release-9.4-1.el9.noarch.rpm',
    });
  }
  if (!o.releaseRpm && !o.releasever) {
    throw new DomuError('USAGE', 'without --release-rpm, --releasever is needed', { hint: 'e.g. --releasever 9' });
  }
  if (o.selinux !== undefined && !SELINUX_MODES.includes(o.selinux)) {
    throw new DomuError('USAGE', `unknown SELinux mode ${o.selinux}; expected one of ${SELINUX_MODES.join(', ')}`);
  }
  for (const p of [...(o.packages ?? []), ...(o.packageManager ? [o.packageManager] : [])]) {
    if (!/^[A-Za-z0-9_.+@:/()-][A-Za-z0-9_.+@:/()*-]*$/.test(p)) throw new DomuError('USAGE', `not a package name: ${JSON.stringify(p)}`);
  }
  for (const r of o.repos ?? []) {
    if (!/^(https?|file|ftp):\/\//.test(r)) throw new DomuError('USAGE', `--repo must be a URL (http://, https://, file://): ${r}`);
  }
}

/** Everything that can be checked before the root is touched: options and tools. Returns the host's package manager. */
export function preflightRpm(o: RpmInstallOptions): 'dnf' | 'yum' {
  validateRpmOptions(o);
  requireTool('rpm', o.env);
  const pm = hasToolIn('dnf', o.env) ? 'dnf' : hasToolIn('yum', o.env) ? 'yum' : undefined;
  if (!pm) throw new DomuError('MISSING_TOOL', 'dnf is not installed (nor yum)', { hint: 'install it with: apt-get install dnf' });
  return pm;
}

export async function installRpm(o: RpmInstallOptions, ctx: InstallContext): Promise<void> {
  const pm = preflightRpm(o);
  const selinux = o.selinux ?? 'permissive';
  if (hostSelinuxEnforcing()) {
    ctx.warn('SELinux is enforcing on this host; installing into an alternate root may be denied (setenforce 0 for the install)');
  }
  await checkSpace(o.root, MIN_BYTES, 'an RPM install');

  // a private HOME whose .rpmmacros puts the database where the guest's rpm expects it; dnf reads it too
  const home = mkdtempSync(path.join(os.tmpdir(), 'domu-forge-rpm-'));
  ctx.cleanupPush(`remove ${home}`, () => fsp.rm(home, { recursive: true, force: true }));
  await fsp.writeFile(path.join(home, '.rpmmacros'), `%_dbpath ${GUEST_RPM_DBPATH}\n`);
  const env: NodeJS.ProcessEnv = { ...(o.env ?? process.env), HOME: home, LC_ALL: 'C.UTF-8' };
  const run = async (tool: string, args: string[], phase: string) => {
    ctx.phase(phase);
    const r = await runLogged(tool, args, { log: ctx.log, progress: ctx.progress, parse: parseRpmLine, onProgress: o.onProgress, env, signal: o.signal });
    await unmountUnder(o.root);
    if (r.interrupted) throw ctx.interrupted();
    if (r.status !== 0) throw await rpmFailure(tool, phase, r.tail, o);
  };

  try {
    for (const repo of o.repos ?? []) await checkRepo(repo, ctx);
    const releaseFile = o.releaseRpm ? await obtainReleaseRpm(o.releaseRpm, ctx, home) : undefined;

    ctx.rootTouched = true;
    // the seed's modprobe aliases, before any package: the kernel's initramfs is built from them
    await writeGuestFile(o.root, '/etc/modprobe.d/xen.conf', 'alias scsi_hostadapter xenblk\nalias eth0 xennet\n');
    ctx.result.written.push('/etc/modprobe.d/xen.conf');
    if (o.pygrub || o.pvgrub) {
      await writeGuestFile(o.root, '/etc/dracut.conf.d/xen.conf', 'add_drivers+=" xen-blkfront xen-netfront "\n');
      await writeGuestFile(o.root, '/etc/modules-load.d/xen.conf', 'xen-netfront\nxen-blkfront\n');
      ctx.result.written.push('/etc/dracut.conf.d/xen.conf', '/etc/modules-load.d/xen.conf');
    }

    await run('rpm', ['--root', o.root, '--initdb'], 'rpm --initdb');
    let releasever = o.releasever;
    if (releaseFile) {
      await run('rpm', ['-ivh', '--nodeps', '--root', o.root, releaseFile], 'rpm -ivh release');
      releasever ??= await releaseVersion(releaseFile, env);
    }
    ctx.result.release = releasever!;
    ctx.result.tool = pm;

    const conf = await writeDnfConfig(o, ctx, home);
    const base = [`--installroot=${o.root}`, `--config=${conf}`, `--releasever=${releasever}`, '-y', '--noplugins'];
    if (o.gpgCheck === false) base.push('--nogpgcheck');
    if (o.arch && pm === 'dnf') base.push(`--forcearch=${o.arch}`);
    ctx.result.arch = o.arch ?? (await runTool('rpm', ['--eval', '%{_arch}'], { env })).stdout.toString().trim();

    await run(pm, [...base, 'install', o.packageManager ?? 'dnf'], `${pm} install ${o.packageManager ?? 'dnf'}`);
    const group = o.group ?? 'Base';
    if (group !== '') await run(pm, [...base, 'groupinstall', group], `${pm} groupinstall ${group}`);
    if (o.packages?.length) await run(pm, [...base, 'install', ...o.packages], `${pm} install packages`);

    const old = await readGuestFile(o.root, '/etc/selinux/config');
    await writeGuestFile(o.root, '/etc/selinux/config', selinuxConfig(selinux, old));
    ctx.result.written.push('/etc/selinux/config');
    if (selinux === 'enforcing') {
      // files went in without labels: have the guest relabel on its first boot
      await writeGuestFile(o.root, '/.autorelabel', '');
      ctx.result.written.push('/.autorelabel');
    }
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
}

async function writeDnfConfig(o: RpmInstallOptions, ctx: InstallContext, home: string): Promise<string> {
  const reposd = path.join(home, 'repos.d');
  await fsp.mkdir(reposd);
  const repoText = (o.repos ?? [])
    .map((url, i) => `[domu-forge-repo-${i + 1}]\nname=${url}\nbaseurl=${url}\nenabled=1\n${o.gpgCheck === false ? 'gpgcheck=0\n' : ''}`)
    .join('\n');
  if (repoText) await fsp.writeFile(path.join(reposd, 'domu-forge.repo'), repoText);
  const osRelease = (await readGuestFile(o.root, '/etc/os-release')) ?? '';
  const platform = /^PLATFORM_ID="?([^"\n]+)"?$/m.exec(osRelease)?.[1];
  const lines = [
    '[main]',
    // absolute host paths: the guest's repo files, then ours; never the host's
    `reposdir=${path.join(o.root, 'etc/yum.repos.d')},${reposd}`,
    `cachedir=${path.join(ctx.cacheDir, 'dnf')}`,
    'keepcache=0',
    'skip_if_unavailable=False',
    'install_weak_deps=True',
  ];
  if (platform) lines.push(`module_platform_id=${platform}`);
  if (ctx.proxy && ctx.cacheEnabled) lines.push(`proxy=${ctx.proxy}`);
  const conf = path.join(home, 'dnf.conf');
  await fsp.writeFile(conf, `${lines.join('\n')}\n`);
  ctx.log.note(`dnf config ${conf}:\n${lines.join('\n')}${repoText ? `\n${repoText}` : ''}`);
  return conf;
}

/** The release package as a local file: downloaded through the cache when it is a URL. */
async function obtainReleaseRpm(spec: string, ctx: InstallContext, home: string): Promise<string> {
  if (spec.startsWith('file://')) spec = decodeURIComponent(new URL(spec).pathname);
  if (!/^[a-z]+:\/\//.test(spec)) {
    if (!existsSync(spec)) throw new DomuError('BAD_INPUT', `release package ${spec} does not exist`, { hint: 'give a file or an http(s) URL to --release-rpm' });
    return path.resolve(spec);
  }
  ctx.phase('downloading the release package');
  const what = `release package ${spec}`;
  try {
    if (spec.startsWith('http://')) {
      const r = await ctx.cache.obtain(spec);
      if (r.status !== 200 || !r.file) throw notFound(what, r.status);
      return r.file;
    }
    if (spec.startsWith('https://')) {
      let res: Response;
      try {
        res = await fetch(spec);
      } catch (e) {
        throw new MirrorUnreachable(new URL(spec).origin, String((e as { cause?: { code?: string } }).cause?.code ?? e));
      }
      if (!res.ok) throw notFound(what, res.status);
      const file = path.join(home, path.basename(new URL(spec).pathname) || 'release.rpm');
      await fsp.writeFile(file, Buffer.from(await res.arrayBuffer()));
      return file;
    }
  } catch (e) {
    if (e instanceof MirrorUnreachable) throw unreachable(spec, e.reason);
    throw e;
  }
  throw new DomuError('USAGE', `--release-rpm must be a file or an http(s) URL: ${spec}`);
}

/** A --repo must answer for repodata/repomd.xml before dnf is started. */
async function checkRepo(url: string, ctx: InstallContext): Promise<void> {
  const repomd = `${url.replace(/\/+$/, '')}/repodata/repomd.xml`;
  if (url.startsWith('file://')) {
    if (!existsSync(decodeURIComponent(new URL(repomd).pathname))) throw notRepo(url, 'no repodata/repomd.xml');
    return;
  }
  if (!url.startsWith('http://')) return; // https: dnf itself reports it
  try {
    const r = await ctx.cache.obtain(repomd);
    if (r.status !== 200) throw notRepo(url, `HTTP ${r.status} for repodata/repomd.xml`);
  } catch (e) {
    if (e instanceof MirrorUnreachable) throw unreachable(url, e.reason);
    throw e;
  }
}

async function releaseVersion(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  const provides = (await runTool('rpm', ['-qp', '--provides', file], { env })).stdout.toString();
  const m = /^system-release\(releasever\)\s*=\s*(\S+)/m.exec(provides);
  if (m) return m[1]!;
  return (await runTool('rpm', ['-qp', '--queryformat', '%{VERSION}', file], { env })).stdout.toString().trim();
}

function notFound(what: string, status: number): DomuError {
  return new DomuError('BAD_INPUT', `${what} was not found (HTTP ${status})`, { hint: 'check the URL: the release may be unknown or moved' });
}

function notRepo(url: string, why: string): DomuError {
  return new DomuError('BAD_INPUT', `${url} is not a package repository (${why})`, { hint: 'check --repo: the release or the path may be wrong' });
}

function unreachable(url: string, reason: string): DomuError {
  return new DomuError('ENVIRONMENT', `${url} is unreachable: ${reason}`, { hint: 'check the URL, the network and any proxy' });
}

async function rpmFailure(tool: string, phase: string, tail: readonly string[], o: RpmInstallOptions): Promise<DomuError> {
  const space = await spaceError(o.root, tail);
  if (space) return space;
  const text = tail.join('\n');
  const group = /Module or Group '([^']+)' is not available|No match for group[^:]*: (\S+)|Group (\S+) does not exist/.exec(text);
  if (group) return new DomuError('BAD_INPUT', `group ${group[1] ?? group[2] ?? group[3]} is not in the repositories`, { hint: 'check --group (dnf group list shows the groups)' });
  const pkg = /No match for argument: (\S+)/.exec(text);
  if (pkg) return new DomuError('BAD_INPUT', `package ${pkg[1]} is not in the repositories`, { hint: 'check --packages and --repo' });
  if (/Failed to download metadata|Cannot download repomd\.xml|Curl error|Cannot retrieve repository metadata/.test(text)) {
    const notThere = /Status code: 404|HTTP 404|not found/i.test(text);
    return new DomuError(notThere ? 'BAD_INPUT' : 'ENVIRONMENT', `${tool} could not read the repository metadata${notThere ? ' (404: unknown release?)' : ''}`, {
      hint: notThere ? 'check the release package, --releasever and --repo' : 'check the repository URLs and the network',
    });
  }
  const last = tail.filter((l) => /error|failed/i.test(l)).at(-1) ?? tail.at(-1) ?? 'no output';
  return new DomuError('INTERNAL', `${phase} failed: ${last.trim()}`, { hint: 'the log file has the whole output' });
}

/** Installed packages in the guest's rpm database. */
export async function countRpmPackages(root: string): Promise<number> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'domu-forge-rpmq-'));
  try {
    await fsp.writeFile(path.join(home, '.rpmmacros'), `%_dbpath ${GUEST_RPM_DBPATH}\n`);
    const r = await runTool('rpm', ['--root', root, '-qa'], { env: { ...process.env, HOME: home }, allowFailure: true });
    return r.stdout.toString().split('\n').filter((l) => l.trim() !== '').length;
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
}
