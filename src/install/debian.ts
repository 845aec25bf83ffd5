// Debian and Ubuntu into an alternate root with debootstrap or mmdebstrap, with the seed's Xen
// details: /etc/modules for PyGRUB written before any package goes in, libc6-xen on i386 where the
// suite still has it, and no persistent-net rules tied to the build host's MAC address.

import { existsSync } from 'node:fs';
import { DomuError } from '../errors.js';
import { DEFAULT_MIRROR, readSuiteRelease, suiteHasPackage } from './archive.js';
import { ensureGuestLines, readGuestFile, removeGuestFile, unmountUnder, writeGuestFile } from './guest-files.js';
import type { InstallContext } from './context.js';
import { hasToolIn, parseAptLine, parseDebootstrapLine, requireTool, runLogged } from './progress.js';
import { findRoot, rootCacheKey, storeRoot, treeBytes, unpackRoot } from './root-cache.js';
import { finishGuest } from './boot-ready.js';
import { checkSpace, spaceError } from './target-root.js';
import type { DebianInstallOptions, DebianTool, DebianVariant } from './types.js';
import { DEBIAN_VARIANTS } from './types.js';
import { hostArch } from './util.js';

/** What the persistent-net generator leaves behind, tied to the build host's MAC address. */
export const PERSISTENT_NET_RULES = ['/etc/udev/rules.d/z25_persistent-net.rules', '/etc/udev/rules.d/70-persistent-net.rules'];

export const PYGRUB_MODULES = ['xennet', 'xenblk'];

const KEYRING: Readonly<Record<string, { file: string; pkg: string }>> = {
  debian: { file: '/usr/share/keyrings/debian-archive-keyring.gpg', pkg: 'debian-archive-keyring' },
  // Debian 12's archive has no ubuntu-keyring (later releases do); Ubuntu's own package installs it
  ubuntu: { file: '/usr/share/keyrings/ubuntu-archive-keyring.gpg', pkg: 'ubuntu-keyring' },
};

/** Rough room an install needs while it runs (the .debs sit in the root until the end). */
const VARIANT_BYTES: Readonly<Record<DebianVariant, number>> = {
  minbase: 300 << 20,
  buildd: 600 << 20,
  important: 400 << 20,
  standard: 700 << 20,
};
const PER_INCLUDE_BYTES = 20 << 20;

/** The faster tool (bench/install.ts: mmdebstrap about 2.5x faster than debootstrap for a minbase). */
export const PREFERRED_TOOLS: readonly DebianTool[] = ['mmdebstrap', 'debootstrap'];

/** Bytes a Debian install needs while it runs, for sizing an image given no --size. */
export function estimateDebianBytes(o: Pick<DebianInstallOptions, 'variant' | 'include'>): number {
  return VARIANT_BYTES[o.variant ?? 'important'] + (o.include?.length ?? 0) * PER_INCLUDE_BYTES;
}

export function pickDebianTool(wanted: DebianInstallOptions['tool'], variant: DebianVariant, env?: NodeJS.ProcessEnv): DebianTool {
  if (wanted && wanted !== 'auto') {
    if (wanted === 'debootstrap' && variant === 'standard') {
      throw new DomuError('USAGE', 'variant standard needs --tool mmdebstrap (debootstrap has no such variant)', {
        hint: 'use --tool mmdebstrap, or --variant important with --include for the extra packages',
      });
    }
    return wanted;
  }
  const candidates = variant === 'standard' ? ['mmdebstrap' as const] : PREFERRED_TOOLS;
  const found = candidates.find((t) => hasToolIn(t, env));
  if (!found) {
    throw new DomuError('MISSING_TOOL', `neither ${candidates.join(' nor ')} is installed`, {
      hint: `install one with: apt-get install ${candidates.join(' or ')}`,
    });
  }
  return found;
}

export function validateDebianOptions(o: DebianInstallOptions): void {
  if (typeof o.suite !== 'string' || o.suite === '') {
    throw new DomuError('USAGE', 'a suite is needed (--dist bookworm)', { hint: 'e.g. --dist bookworm' });
  }
  if (o.variant !== undefined && !DEBIAN_VARIANTS.includes(o.variant)) {
    throw new DomuError('USAGE', `unknown variant ${o.variant}; expected one of ${DEBIAN_VARIANTS.join(', ')}`);
  }
  for (const p of o.include ?? []) {
    if (!/^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?$/.test(p)) throw new DomuError('USAGE', `not a package name: ${JSON.stringify(p)}`);
  }
  if (o.arch !== undefined && !/^[a-z0-9-]+$/.test(o.arch)) throw new DomuError('USAGE', `not an architecture: ${JSON.stringify(o.arch)}`);
}

/** Everything that can be checked before the root is touched: options, the tool, the keyring. */
export function preflightDebian(o: DebianInstallOptions): { tool: DebianTool; keyring: string } {
  validateDebianOptions(o);
  const tool = pickDebianTool(o.tool, o.variant ?? 'important', o.env);
  requireTool(tool, o.env);
  const keyring = o.keyring ?? KEYRING[o.distro]!.file;
  if (!existsSync(keyring)) {
    const pkg = o.keyring ? undefined : KEYRING[o.distro]!.pkg;
    throw new DomuError('MISSING_TOOL', `the archive keyring ${keyring} is missing`, {
      hint: pkg === 'ubuntu-keyring'
        ? 'install Ubuntu\'s ubuntu-keyring package (not in Debian 12\'s archive), or give the keyring with --keyring FILE'
        : pkg ? `install it with: apt-get install ${pkg}` : 'give an existing file with --keyring',
    });
  }
  return { tool, keyring };
}

export async function installDebian(o: DebianInstallOptions, ctx: InstallContext): Promise<void> {
  const { tool, keyring } = preflightDebian(o);
  const variant = o.variant ?? 'important';
  const arch = o.arch ?? hostArch('deb');
  const mirror = (o.mirror ?? DEFAULT_MIRROR[o.distro]).replace(/\/+$/, '');
  const components = o.components?.length ? o.components : ['main'];
  const include = [...new Set(o.include ?? [])];
  ctx.result.arch = arch;
  ctx.result.release = o.suite;

  ctx.phase('checking the archive');
  const rel = await readSuiteRelease(o.distro, mirror, o.suite, ctx.cache);
  if (rel.source === 'offline') ctx.warn(`mirror ${mirror} is unreachable; installing from the package cache`);
  if (rel.architectures.length > 0 && !rel.architectures.includes(arch)) {
    throw new DomuError('BAD_INPUT', `suite ${o.suite} has no architecture ${arch}`, { hint: `it has: ${rel.architectures.join(' ')}` });
  }
  const badComponent = components.find((c) => rel.components.length > 0 && !rel.components.includes(c));
  if (badComponent) {
    throw new DomuError('BAD_INPUT', `suite ${o.suite} has no component ${badComponent}`, { hint: `it has: ${rel.components.join(' ')}` });
  }
  if (arch === 'i386' && !include.includes('libc6-xen')) {
    if (await suiteHasPackage(mirror, rel, o.suite, 'main', arch, 'libc6-xen', ctx.cache)) include.push('libc6-xen');
    else ctx.warn(`libc6-xen is not in ${o.suite} for i386 any more; the guest gets the plain libc6`);
  }
  if (!mirror.startsWith('http://') && ctx.cacheEnabled) {
    ctx.warn(`the package cache works for http:// mirrors only; ${mirror} is used directly`);
  }

  const inputs = { distro: o.distro, suite: o.suite, archive: rel.digest, mirror, arch, variant, include: [...include].sort(), components, tool, keyring, pygrub: Boolean(o.pygrub || o.pvgrub), host: o.hostSettings ?? null, securitySource: o.securitySource !== false };
  const key = rootCacheKey(inputs);
  const useRootCache = o.rootCache !== false && ctx.cacheEnabled;
  const cached = useRootCache ? await findRoot(ctx.cacheDir, key) : undefined;
  const need = cached ? Math.ceil(cached.meta.treeBytes * 1.1) : estimateDebianBytes({ variant, include });
  await checkSpace(o.root, need, cached ? `the cached ${o.suite} ${variant} tree` : `a ${o.suite} ${variant} install`);

  if (cached) {
    ctx.phase('unpacking from the root cache');
    ctx.log.note(`root cache hit ${key}: ${cached.tarball}`);
    ctx.rootTouched = true;
    await unpackRoot(cached, o.root, o.signal);
    ctx.result.tool = `${cached.meta.tool} (root cache)`;
    ctx.result.fromRootCache = true;
    return;
  }

  ctx.rootTouched = true;
  if (o.pygrub || o.pvgrub) {
    // before any package: the kernel's postinst builds its initrd from it
    await writeGuestFile(o.root, '/etc/modules', PYGRUB_MODULES.map((m) => `${m}\n`).join(''));
    ctx.result.written.push('/etc/modules');
  }

  const env: NodeJS.ProcessEnv = { ...(o.env ?? process.env), DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C.UTF-8' };
  delete env.LANGUAGE;
  if (mirror.startsWith('http://') && ctx.proxy) {
    env.http_proxy = ctx.proxy;
    env.HTTP_PROXY = ctx.proxy;
    // a no_proxy naming the mirror would send wget/apt around the cache
    delete env.no_proxy;
    delete env.NO_PROXY;
  }
  delete env.https_proxy;
  const args = tool === 'debootstrap' ? debootstrapArgs() : mmdebstrapArgs();
  ctx.phase(tool);
  ctx.result.tool = tool;
  ctx.cleanupPush(`unmount what ${tool} left under ${o.root}`, () => unmountUnder(o.root).then(() => undefined));
  const run = await runLogged(tool, args, {
    log: ctx.log,
    progress: ctx.progress,
    parse: tool === 'debootstrap' ? parseDebootstrapLine : parseAptLine,
    onProgress: o.onProgress,
    env,
    signal: o.signal,
  });
  await unmountUnder(o.root);
  if (run.interrupted) throw ctx.interrupted();
  if (run.status !== 0) throw await debianFailure(tool, run.tail, o, mirror);

  if (o.pygrub || o.pvgrub) {
    if (await ensureGuestLines(o.root, '/etc/modules', PYGRUB_MODULES)) {
      ctx.warn('a package replaced /etc/modules; xennet and xenblk were added again');
    }
  }
  for (const f of PERSISTENT_NET_RULES) if (await removeGuestFile(o.root, f)) ctx.result.removed.push(f);
  // the security source, timezone and locale go into the cached tree too (they are in its key), so
  // that a tree from the root cache is the same tree, times included
  ctx.phase('security source, timezone, locale');
  await finishGuest(o, ctx.result);

  if (useRootCache) {
    ctx.phase('saving to the root cache');
    const bytes = await treeBytes(o.root);
    const packages = await countDpkgPackages(o.root);
    await storeRoot(ctx.cacheDir, key, o.root, { inputs, treeBytes: bytes, packages, created: new Date().toISOString(), tool });
    ctx.log.note(`stored in the root cache as ${key}`);
  }

  function debootstrapArgs(): string[] {
    const a = [`--arch=${arch}`, `--components=${components.join(',')}`, `--keyring=${keyring}`];
    if (variant === 'minbase' || variant === 'buildd') a.push(`--variant=${variant}`);
    if (include.length) a.push(`--include=${include.join(',')}`);
    // debootstrap needs a script per suite; an unknown code name of a known distribution works with the newest
    const script = existsSync(`/usr/share/debootstrap/scripts/${o.suite}`) ? [] : [o.distro === 'ubuntu' ? 'gutsy' : 'sid'];
    return [...a, o.suite, o.root, mirror, ...(script.length ? [`/usr/share/debootstrap/scripts/${script[0]}`] : [])];
  }

  function mmdebstrapArgs(): string[] {
    const a = ['--mode=root', '--verbose', `--variant=${variant}`, `--architectures=${arch}`, `--components=${components.join(',')}`, `--keyring=${keyring}`];
    // our marker (and /etc/modules for PyGRUB) is in the root already
    a.push('--skip=check/empty');
    if (include.length) a.push(`--include=${include.join(',')}`);
    return [...a, o.suite, o.root, mirror];
  }
}

async function debianFailure(tool: string, tail: readonly string[], o: DebianInstallOptions, mirror: string): Promise<DomuError> {
  const space = await spaceError(o.root, tail);
  if (space) return space;
  const text = tail.join('\n');
  const missing = /Couldn't find these debs: (.*)|Unable to locate package (\S+)|E: Couldn't find package (\S+)|Package '?(\S+?)'? has no installation candidate/.exec(text);
  if (missing) {
    const name = (missing[1] ?? missing[2] ?? missing[3] ?? missing[4] ?? '').trim();
    return new DomuError('BAD_INPUT', `package ${name} is not in ${o.suite}`, { hint: 'check --include' });
  }
  if (/Failed getting release file|Connection refused|Could not connect|Failed to fetch|502 Bad Gateway/.test(text)) {
    return new DomuError('ENVIRONMENT', `downloads from ${mirror} failed during ${tool}`, {
      hint: 'check the mirror and the network, then run the same command again (what was fetched is cached)',
    });
  }
  const last = tail.filter((l) => /^E: |error/i.test(l)).at(-1) ?? tail.at(-1) ?? 'no output';
  return new DomuError('INTERNAL', `${tool} failed: ${last.trim()}`, { hint: 'the log file has the whole output' });
}

/** Installed packages in a dpkg status file. */
export async function countDpkgPackages(root: string): Promise<number> {
  const status = await readGuestFile(root, '/var/lib/dpkg/status');
  return status ? (status.match(/^Status: install ok installed$/gm) ?? []).length : 0;
}

