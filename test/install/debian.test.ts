// Real Debian installs of bookworm from deb.debian.org: debootstrap into a directory, mmdebstrap
// into an image file through the CLI, a warm-cache rerun that downloads nothing, the root cache,
// and each error a user meets (missing tool, unreachable mirror, unknown suite, small target,
// SIGTERM mid-install). Packages are cached in /var/cache/domu-forge/packages across runs; the
// root cache is fresh per run so the real tools always run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDistribution, type InstallResult } from '../../src/install/index.js';
import { PERSISTENT_NET_RULES } from '../../src/install/debian.js';
import { mountsUnder, removeGuestFile, resolveInRoot } from '../../src/install/guest-files.js';
import { INCOMPLETE_MARKER } from '../../src/install/target-root.js';
import { readSuiteRelease, suiteHasPackage } from '../../src/install/archive.js';
import { PackageCache } from '../../src/install/package-cache.js';
import { cliPath, rsyncDiff, runCli } from '../helpers/run.js';

const SHARED_PACKAGES = process.env.DOMU_FORGE_PACKAGE_CACHE || '/var/cache/domu-forge/packages';
const INCLUDE = ['kmod', 'ca-certificates'];
let work = '';
let cacheDir = '';
const mounted: string[] = [];

function dpkgInstalled(root: string, pkgs: string[]): string {
  const r = spawnSync('chroot', [root, 'dpkg-query', '-W', '-f', '${Package} ${Status}\n', ...pkgs], { encoding: 'utf8' });
  return r.stdout;
}

function chrootTrue(root: string): number | null {
  return spawnSync('chroot', [root, '/bin/true']).status;
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(() => {
  work = mkdtempSync(join(process.env.DOMU_FORGE_TEST_TMP || tmpdir(), 'domu-install-deb-'));
  // a fresh root cache per run, the package cache shared across runs (reruns download nothing)
  cacheDir = join(work, 'cache');
  mkdirSync(cacheDir);
  mkdirSync(SHARED_PACKAGES, { recursive: true });
  symlinkSync(SHARED_PACKAGES, join(cacheDir, 'packages'));
});

afterAll(async () => {
  for (const m of mounted.reverse()) spawnSync('umount', ['-d', m]);
  for (const p of await mountsUnder(work)) spawnSync('umount', ['-l', p]);
  if ((await mountsUnder(work)).length === 0) rmSync(work, { recursive: true, force: true });
});

describe('Debian install (root, network)', () => {
  let first: InstallResult;
  const firstRoot = () => join(work, 'deb1');

  it('debootstraps a bookworm minbase into a directory: chroot runs /bin/true, dpkg has the --include packages, PyGRUB modules', async () => {
    const phases = new Set<string>();
    let unpacked = 0;
    first = await installDistribution({
      distro: 'debian',
      suite: 'bookworm',
      variant: 'minbase',
      include: INCLUDE,
      tool: 'debootstrap',
      pygrub: true,
      root: firstRoot(),
      cacheDir,
      logFile: join(work, 'deb1.log'),
      onProgress: (p) => {
        phases.add(p.phase);
        unpacked = Math.max(unpacked, p.unpacked);
      },
    });
    expect(first.tool).toBe('debootstrap');
    expect(first.fromRootCache).toBe(false);
    expect(chrootTrue(firstRoot())).toBe(0);
    expect(dpkgInstalled(firstRoot(), INCLUDE).split('\n').filter(Boolean).sort()).toEqual(INCLUDE.map((p) => `${p} install ok installed`).sort());
    expect(first.packages).toBeGreaterThan(50);
    expect(readFileSync(join(firstRoot(), 'etc/modules'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['xennet', 'xenblk']));
    expect(first.written).toContain('/etc/modules');
    for (const f of PERSISTENT_NET_RULES) expect(existsSync(join(firstRoot(), f))).toBe(false);
    expect(existsSync(join(firstRoot(), INCOMPLETE_MARKER))).toBe(false);
    expect(await mountsUnder(firstRoot())).toEqual([]);
    expect(phases).toContain('debootstrap');
    expect(unpacked).toBeGreaterThan(50);
    const log = readFileSync(first.logFile, 'utf8');
    expect(log).toMatch(/I: Base system installed successfully/);
  });

  it('installs the same suite again with a warm package cache, downloading nothing', async () => {
    const r = await installDistribution({
      distro: 'debian', suite: 'bookworm', variant: 'minbase', include: INCLUDE, tool: 'debootstrap', pygrub: true,
      root: join(work, 'deb2'), cacheDir, rootCache: false, logFile: join(work, 'deb2.log'),
    });
    expect(r.fromRootCache).toBe(false);
    expect(r.downloadedBytes).toBe(0);
    expect(r.cachedBytes).toBeGreaterThan(20 << 20);
    expect(chrootTrue(join(work, 'deb2'))).toBe(0);
    console.log(`first install ${first.seconds.toFixed(1)} s (downloaded ${first.downloadedBytes} B); warm package cache ${r.seconds.toFixed(1)} s`);
  });

  it('a third identical install unpacks the root cache: identical to the first (rsync), nothing downloaded', async () => {
    const r = await installDistribution({
      distro: 'debian', suite: 'bookworm', variant: 'minbase', include: INCLUDE, tool: 'debootstrap', pygrub: true,
      root: join(work, 'deb3'), cacheDir, logFile: join(work, 'deb3.log'),
    });
    expect(r.fromRootCache).toBe(true);
    expect(r.downloadedBytes).toBe(0);
    expect(rsyncDiff(firstRoot(), join(work, 'deb3'))).toBe('');
    console.log(`root cache: ${r.seconds.toFixed(1)} s against ${first.seconds.toFixed(1)} s for the first install`);
  });

  it('takes its cache from DOMU_FORGE_CACHE_DIR when it is given none (build --install has no --cache-dir)', async () => {
    const before = process.env.DOMU_FORGE_CACHE_DIR;
    process.env.DOMU_FORGE_CACHE_DIR = cacheDir;
    try {
      const r = await installDistribution({
        distro: 'debian', suite: 'bookworm', variant: 'minbase', include: INCLUDE, tool: 'debootstrap', pygrub: true,
        root: join(work, 'deb4'), logFile: join(work, 'deb4.log'),
      });
      expect(r.fromRootCache).toBe(true);
      expect(rsyncDiff(firstRoot(), join(work, 'deb4'))).toBe('');
    } finally {
      if (before === undefined) delete process.env.DOMU_FORGE_CACHE_DIR;
      else process.env.DOMU_FORGE_CACHE_DIR = before;
    }
  });

  it('mmdebstrap into an image file through the CLI, with --pygrub (loop)', async () => {
    const img = join(work, 'mm.img');
    const r = runCli(['install', 'debian', '--dist', 'bookworm', '--variant', 'minbase', '--include', 'ca-certificates', '--include', 'kmod', '--tool', 'mmdebstrap', '--pygrub', '--no-kernel',
      '--no-root-cache', '--cache-dir', cacheDir, '--image', img, '--size', '1G', '--log', join(work, 'mm.log'), '--json']);
    expect(r.stderr).toContain(`log: ${join(work, 'mm.log')}`);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { install: InstallResult; target: { kind: string; path: string } };
    expect(out.install.tool).toBe('mmdebstrap');
    expect(out.target).toMatchObject({ kind: 'image', path: img });
    const mnt = join(work, 'mm-mnt');
    mkdirSync(mnt);
    expect(spawnSync('mount', ['-o', 'loop,ro', img, mnt]).status).toBe(0);
    mounted.push(mnt);
    expect(chrootTrue(mnt)).toBe(0);
    expect(dpkgInstalled(mnt, ['ca-certificates'])).toBe('ca-certificates install ok installed\n');
    expect(dpkgInstalled(mnt, ['kmod'])).toBe('kmod install ok installed\n');
    // written through mmdebstrap's empty-root check (--skip=check/empty) before any package
    expect(readFileSync(join(mnt, 'etc/modules'), 'utf8')).toBe('xennet\nxenblk\n');
    expect(existsSync(join(mnt, INCOMPLETE_MARKER))).toBe(false);
    spawnSync('umount', ['-d', mnt]);
    mounted.pop();
  });

  it('knows whether a suite still has libc6-xen on i386 (bookworm does not)', async () => {
    const cache = new PackageCache(join(cacheDir, 'packages'));
    await cache.start();
    try {
      const rel = await readSuiteRelease('debian', 'http://deb.debian.org/debian', 'bookworm', cache);
      expect(rel.architectures).toContain('i386');
      expect(await suiteHasPackage('http://deb.debian.org/debian', rel, 'bookworm', 'main', 'i386', 'libc6', cache)).toBe(true);
      expect(await suiteHasPackage('http://deb.debian.org/debian', rel, 'bookworm', 'main', 'i386', 'libc6-xen', cache)).toBe(false);
    } finally {
      await cache.stop();
    }
  });

  it('removes persistent-net rules as the guest sees them, never through a symlink to the host', async () => {
    const root = join(work, 'netrules');
    mkdirSync(join(root, 'real-etc/udev/rules.d'), { recursive: true });
    symlinkSync('/real-etc', join(root, 'etc')); // absolute: the guest's /real-etc, not the host's
    writeFileSync(join(root, 'real-etc/udev/rules.d/70-persistent-net.rules'), 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n');
    expect(await resolveInRoot(root, '/etc/udev/rules.d')).toBe(join(root, 'real-etc/udev/rules.d'));
    expect(await removeGuestFile(root, PERSISTENT_NET_RULES[1]!)).toBe(true);
    expect(existsSync(join(root, 'real-etc/udev/rules.d/70-persistent-net.rules'))).toBe(false);
    expect(await removeGuestFile(root, PERSISTENT_NET_RULES[0]!)).toBe(false);
  });
});

describe('Debian install errors (root, network)', () => {
  it('names the Debian package when the tool is missing, and writes nothing', () => {
    const dir = join(work, 'notool');
    const r = runCli(['install', 'debian', '--dist', 'bookworm', '--tool', 'debootstrap', '--cache-dir', cacheDir, dir], { PATH: '/usr/bin:/bin' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('domu-forge: debootstrap is not installed');
    expect(r.stderr).toContain('hint: install it with: apt-get install debootstrap');
    expect(existsSync(join(dir, INCOMPLETE_MARKER))).toBe(false);
  });

  it('says the mirror is unreachable (127.0.0.1, closed port)', async () => {
    const port = await closedPort();
    const dir = join(work, 'nomirror');
    const r = runCli(['install', 'debian', '--dist', 'bookworm', '--mirror', `http://127.0.0.1:${port}/debian`, '--cache-dir', cacheDir, dir]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`domu-forge: mirror http://127.0.0.1:${port}/debian is unreachable: connection refused`);
    expect(r.stderr).toMatch(/^hint: check --mirror/m);
    expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('says the suite is unknown', () => {
    const r = runCli(['install', 'debian', '--dist', 'nosuchsuite', '--cache-dir', cacheDir, join(work, 'nosuite')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('domu-forge: suite nosuchsuite is not in the archive at http://deb.debian.org/debian');
    expect(r.stderr).toMatch(/^hint: known debian suites: .*bookworm/m);
  });

  it('says the target is too small (an 8 MiB image) and leaves no image behind', () => {
    const img = join(work, 'small.img');
    const r = runCli(['install', 'debian', '--dist', 'bookworm', '--variant', 'minbase', '--no-ssh', '--cache-dir', cacheDir, '--image', img, '--size', '8M']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/domu-forge: install target \S+ has [\d.]+ MiB free; a bookworm minbase install needs about 300 MiB/);
    expect(r.stderr).toContain('hint: make the target larger');
    expect(existsSync(img)).toBe(false);
  });

  it('stops cleanly on SIGTERM mid-install (no mounts left, exit 130), and a rerun finishes', async () => {
    const dir = join(work, 'interrupted');
    const log = join(work, 'interrupted.log');
    const args = [cliPath, 'install', 'debian', '--dist', 'bookworm', '--variant', 'minbase', '--include', INCLUDE.join(','), '--tool', 'debootstrap', '--pygrub', '--cache-dir', cacheDir, '--log', log, dir];
    const child = spawn(process.execPath, [...args, '--no-root-cache'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // wait for the second stage: packages being unpacked inside the root, /proc mounted there
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      if (existsSync(log) && /I: Unpacking /.test(readFileSync(log, 'utf8'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((r) => child.on('close', r));
    expect(status).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    expect(await mountsUnder(dir)).toEqual([]);
    expect(existsSync(join(dir, INCOMPLETE_MARKER))).toBe(true);
    // the rerun clears the leftovers; identical inputs come from the root cache of the first test
    const again = runCli(args.slice(1).concat('--json'));
    expect(again.status).toBe(0);
    expect(existsSync(join(dir, INCOMPLETE_MARKER))).toBe(false);
    expect(chrootTrue(dir)).toBe(0);
    expect(rsyncDiff(join(work, 'deb1'), dir)).toBe('');
  });
});
