// Questions asked of a Debian/Ubuntu archive before an install starts: is the mirror reachable,
// does the suite exist, does it carry the architecture and components, is a package in it.
// Index files come through the package cache, so asking costs nothing on a warm cache.

import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { MirrorUnreachable, type PackageCache } from './package-cache.js';
import type { DebianDistro } from './types.js';
import { sha256 } from './util.js';

export interface SuiteRelease {
  suite: string;
  codename: string;
  architectures: string[];
  components: string[];
  /** SHA-256 of the InRelease (or Release) file as fetched: the archive's state, for cache keys. */
  digest: string;
  /** "path sha256" pairs of the index files the Release lists. */
  files: Map<string, string>;
  /** How the Release file was obtained: from the mirror, the cache, or the cache while offline. */
  source: string;
}

export const DEFAULT_MIRROR: Readonly<Record<DebianDistro, string>> = {
  debian: 'http://deb.debian.org/debian',
  ubuntu: 'http://archive.ubuntu.com/ubuntu',
};

/** Fetch a file of the archive: through the cache for http://, directly for file:// and https://. */
export async function fetchArchiveFile(mirror: string, rel: string, cache: PackageCache): Promise<{ status: number; body?: Buffer; source: string }> {
  const url = `${mirror.replace(/\/+$/, '')}/${rel}`;
  if (url.startsWith('file://')) {
    const p = decodeURIComponent(new URL(url).pathname);
    if (!existsSync(p)) return { status: 404, source: 'file' };
    return { status: 200, body: await fsp.readFile(p), source: 'file' };
  }
  if (url.startsWith('http://')) return cache.read(url);
  if (url.startsWith('https://')) {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new MirrorUnreachable(new URL(url).origin, cause?.code ?? cause?.message ?? String(e));
    }
    return { status: res.status, body: res.ok ? Buffer.from(await res.arrayBuffer()) : undefined, source: 'https' };
  }
  throw new DomuError('BAD_INPUT', `mirror ${mirror} is not an http://, https:// or file:// URL`, {
    hint: 'e.g. --mirror http://deb.debian.org/debian',
  });
}

/** Suite names the hint can offer: distro-info-data's list when installed, else a short fixed one. */
export function knownSuites(distro: DebianDistro): string[] {
  const csv = `/usr/share/distro-info/${distro}.csv`;
  try {
    const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    return rows.slice(-6).map((r) => r[2]!).filter(Boolean);
  } catch {
    return distro === 'debian' ? ['bullseye', 'bookworm', 'trixie', 'sid'] : ['focal', 'jammy', 'noble'];
  }
}

/** Read the suite's InRelease (or Release), failing with a clear message when the mirror or the suite is not there. */
export async function readSuiteRelease(distro: DebianDistro, mirror: string, suite: string, cache: PackageCache): Promise<SuiteRelease> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(suite)) {
    throw new DomuError('BAD_INPUT', `suite name ${JSON.stringify(suite)} is not valid`, { hint: `e.g. --dist ${knownSuites(distro).at(-2) ?? 'bookworm'}` });
  }
  let r;
  try {
    r = await fetchArchiveFile(mirror, `dists/${suite}/InRelease`, cache);
    if (r.status === 404) r = await fetchArchiveFile(mirror, `dists/${suite}/Release`, cache);
  } catch (e) {
    if (e instanceof MirrorUnreachable) {
      throw new DomuError('ENVIRONMENT', `mirror ${mirror} is unreachable: ${e.reason}`, {
        hint: 'check --mirror, the network and any http_proxy; a warm package cache lets an install run offline',
      });
    }
    throw e;
  }
  if (r.status === 404 || r.status === 410) {
    throw new DomuError('BAD_INPUT', `suite ${suite} is not in the archive at ${mirror} (no dists/${suite}/Release)`, {
      hint: `known ${distro} suites: ${knownSuites(distro).join(', ')}, or stable/testing/unstable`,
    });
  }
  if (r.status !== 200 || !r.body) {
    throw new DomuError('ENVIRONMENT', `mirror ${mirror} answered HTTP ${r.status} for dists/${suite}/InRelease`, {
      hint: 'check --mirror; a proxy or a broken mirror may be in the way',
    });
  }
  const text = r.body.toString('utf8');
  const field = (name: string): string => new RegExp(`^${name}: *(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const files = new Map<string, string>();
  const sha = /^SHA256:\n((?: .*\n?)+)/m.exec(text);
  for (const line of sha?.[1]?.split('\n') ?? []) {
    const [hash, , name] = line.trim().split(/\s+/);
    if (hash && name) files.set(name, hash);
  }
  return {
    suite: field('Suite') || suite,
    codename: field('Codename') || suite,
    architectures: field('Architectures').split(/\s+/).filter(Boolean),
    components: field('Components').split(/\s+/).filter(Boolean).map((c) => c.replace(/^updates\//, '')),
    digest: sha256(r.body),
    files,
    source: r.source,
  };
}

/** Whether `pkg` is in a component's Packages index for `arch` (fetched by hash: cached for good). */
export async function suiteHasPackage(mirror: string, rel: SuiteRelease, suite: string, component: string, arch: string, pkg: string, cache: PackageCache): Promise<boolean> {
  for (const ext of ['xz', 'gz']) {
    const name = `${component}/binary-${arch}/Packages.${ext}`;
    const hash = rel.files.get(name);
    if (!hash) continue;
    let r = await fetchArchiveFile(mirror, `dists/${suite}/${component}/binary-${arch}/by-hash/SHA256/${hash}`, cache);
    if (r.status !== 200) r = await fetchArchiveFile(mirror, `dists/${suite}/${name}`, cache);
    if (r.status !== 200 || !r.body) continue;
    const out = await runTool(ext === 'xz' ? 'xz' : 'gzip', ['-dc'], { input: r.body });
    const re = new RegExp(`^Package: ${pkg.replace(/[.+]/g, '\\$&')}$`, 'm');
    return re.test(out.stdout.toString('latin1'));
  }
  return false;
}
