// The install stage: put a distribution into an empty root (a directory or a mounted target) with
// the distribution's own tools, Debian/Ubuntu through debootstrap or mmdebstrap, the Red Hat family
// through rpm and dnf/yum --installroot. One typed options object in, a plain result out.

import { mkdtempSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CleanupStack } from '../cleanup.js';
import { DomuError, isDomuError, oneLine } from '../errors.js';
import { InstallContext } from './context.js';
import { countDpkgPackages, estimateDebianBytes, installDebian, preflightDebian } from './debian.js';
import { PackageCache } from './package-cache.js';
import { defaultLogFile, InstallLog } from './progress.js';
import { countRpmPackages, installRpm, preflightRpm, RPM_INSTALL_BYTES } from './rpm.js';
import { claimRoot, releaseRoot } from './target-root.js';
import { unmountUnder } from './guest-files.js';
import { bootPackages, finishGuest, readHostSettings } from './boot-ready.js';
import { hostArch } from './util.js';
import { DEBIAN_DISTROS, RPM_DISTROS, isDebianOptions, type InstallOptions, type InstallResult } from './types.js';

export * from './types.js';
export { bootPackages, readHostSettings, securitySourceLine, type HostSettings } from './boot-ready.js';
export type { InstallProgress } from './progress.js';
export { PackageCache, type PackageCacheStats } from './package-cache.js';
export { PERSISTENT_NET_RULES, PYGRUB_MODULES, PREFERRED_TOOLS } from './debian.js';
export { hostSelinuxEnforcing, selinuxConfig, GUEST_RPM_DBPATH } from './rpm.js';

/** The options with the kernel, initramfs and ssh server added (bootPackages) and the Dom0's settings read. */
async function withBootPackages(o: InstallOptions): Promise<InstallOptions> {
  const hostSettings = o.hostSettings ?? (await readHostSettings('/'));
  const withHost = { ...o, hostSettings } as InstallOptions;
  const add = bootPackages(withHost, o.arch ?? hostArch(isDebianOptions(o) ? 'deb' : 'rpm'));
  if (isDebianOptions(withHost)) return { ...withHost, include: [...new Set([...(withHost.include ?? []), ...add])] };
  return { ...withHost, packages: [...new Set([...(withHost.packages ?? []), ...add])] };
}

export const DEFAULT_CACHE_DIR = '/var/cache/domu-forge';

/** The package and root cache when an install names none: DOMU_FORGE_CACHE_DIR, else DEFAULT_CACHE_DIR. */
export function defaultCacheDir(): string {
  return process.env.DOMU_FORGE_CACHE_DIR || DEFAULT_CACHE_DIR;
}

/** Room an install needs, in bytes: the size hint for an image or volume given no size. */
export function estimateInstallBytes(o: InstallOptions): number {
  return isDebianOptions(o) ? estimateDebianBytes(o) : RPM_INSTALL_BYTES;
}

/**
 * Check the options and the host's tools without touching anything: what installDistribution()
 * does first. Callers that must make a target first (an image, a volume) call it before that.
 */
export function checkInstallOptions(o: InstallOptions): void {
  if (![...DEBIAN_DISTROS, ...RPM_DISTROS].includes(o.distro)) {
    throw new DomuError('USAGE', `unknown distribution ${JSON.stringify(o.distro)}; expected one of ${[...DEBIAN_DISTROS, ...RPM_DISTROS].join(', ')}`);
  }
  if (isDebianOptions(o)) preflightDebian(o);
  else preflightRpm(o);
}

/**
 * Install a distribution into `options.root`. The root must be empty (or hold the leftovers of an
 * interrupted install by domu-forge, which are cleared). Throws DomuError: USAGE/BAD_INPUT for bad
 * options, an unknown suite or release; MISSING_TOOL when a tool is not installed; ENVIRONMENT when
 * the mirror is unreachable or the target too small; INTERRUPTED when `signal` aborts it.
 */
export async function installDistribution(options: InstallOptions): Promise<InstallResult> {
  const started = performance.now();
  if (!options || typeof options.root !== 'string' || options.root === '') {
    throw new DomuError('USAGE', 'options.root must be the path of the directory to install into');
  }
  if (![...DEBIAN_DISTROS, ...RPM_DISTROS].includes(options.distro)) {
    throw new DomuError('USAGE', `unknown distribution ${JSON.stringify(options.distro)}; expected one of ${[...DEBIAN_DISTROS, ...RPM_DISTROS].join(', ')}`);
  }
  const root = path.resolve(options.root);
  const o = await withBootPackages({ ...options, root } as InstallOptions);
  const release = isDebianOptions(o) ? o.suite : (o.releasever ?? 'release');
  const log = new InstallLog(o.logFile ?? defaultLogFile(`${o.distro}-${release}`));
  const cleanup = o.cleanup ?? new CleanupStack();
  const cacheEnabled = o.cache !== false;
  const cacheDir = path.resolve(o.cacheDir ?? defaultCacheDir());
  const scratch = cacheEnabled ? undefined : mkdtempSync(path.join(os.tmpdir(), 'domu-forge-nocache-'));
  if (o.indexMaxAge !== undefined && !(Number.isFinite(o.indexMaxAge) && o.indexMaxAge >= 0)) {
    throw new DomuError('USAGE', `indexMaxAge must be a number of seconds >= 0, not ${o.indexMaxAge}`);
  }
  const cache = new PackageCache(scratch ?? path.join(cacheDir, 'packages'), o.indexMaxAge ?? 3600);
  const result: InstallResult = {
    distro: o.distro,
    release,
    arch: o.arch ?? '',
    root,
    tool: '',
    packages: 0,
    seconds: 0,
    downloadedBytes: 0,
    cachedBytes: 0,
    fromRootCache: false,
    logFile: log.file,
    removed: [],
    written: [],
    warnings: [],
  };
  log.note(`install ${o.distro} ${release} into ${root}`);
  const drops: Array<() => void> = [];
  let ctx: InstallContext | undefined;
  let claimed = false;
  try {
    if (o.signal?.aborted) throw new DomuError('INTERRUPTED', 'install was interrupted before it started');
    const proxy = await cache.start();
    drops.push(cleanup.push('stop the package cache', () => cache.stop()));
    if (scratch) drops.push(cleanup.push(`remove ${scratch}`, () => fsp.rm(scratch, { recursive: true, force: true })));
    ctx = new InstallContext(log, cache, cacheDir, cacheEnabled, proxy, cleanup, result, o.env, o.onProgress);
    if (isDebianOptions(o)) preflightDebian(o);
    else preflightRpm(o);
    await claimRoot(root, log);
    claimed = true;
    if (isDebianOptions(o)) await installDebian(o, ctx);
    else await installRpm(o, ctx);
    if (o.signal?.aborted) throw ctx.interrupted();
    if (!isDebianOptions(o)) {
      // a Debian install finishes the guest itself, before its root cache stores the tree
      ctx.phase('security source, timezone, locale');
      await finishGuest(o, result);
    }
    result.packages = isDebianOptions(o) ? await countDpkgPackages(root) : await countRpmPackages(root);
    await releaseRoot(root);
  } catch (e) {
    const err = o.signal?.aborted && !(isDomuError(e) && e.code !== 'INTERNAL')
      ? (ctx?.interrupted() ?? new DomuError('INTERRUPTED', 'install was interrupted'))
      : isDomuError(e) ? e : new DomuError('INTERNAL', oneLine(e), { cause: e });
    log.note(`failed: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
    await unmountUnder(root).catch((u: unknown) => log.note(`unmount failed: ${oneLine(u)}`));
    // failed before anything went in: leave the root as it was found
    if (claimed && !ctx?.rootTouched) await releaseRoot(root).catch(() => undefined);
    // the caller's stack is the caller's to run; a private one is ours
    if (!o.cleanup) {
      const failures = await cleanup.runAll();
      for (const f of failures) log.note(`cleanup failed: ${f}`);
    }
    throw err;
  } finally {
    for (const drop of [...drops, ...(ctx?.drops ?? [])]) drop();
    await cache.stop();
    if (scratch) await fsp.rm(scratch, { recursive: true, force: true });
    Object.assign(result, { downloadedBytes: cache.stats.downloadedBytes, cachedBytes: cache.stats.cachedBytes });
    result.seconds = (performance.now() - started) / 1000;
    log.note(`cache: ${JSON.stringify(cache.stats)}`);
    await log.close();
  }
  return result;
}
