// The small Dom0 that the Xen boot test runs under emulated Xen: Debian bookworm (the install stage)
// plus the Xen hypervisor and tools from bookworm-security, so that hypervisor and tools are the
// same version, packed into an ext4 image and cached under a key made of every input that shapes it.

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DomuError, errnoCode } from '../errors.js';
import { CleanupStack } from '../cleanup.js';
import { installDistribution } from '../install/index.js';
import { PackageCache } from '../install/package-cache.js';
import {
  makeExt4Image,
  prepareChroot,
  readFileInRoot,
  runInChroot,
  symlinkInRoot,
  writeFileInRoot,
  copyFileOutOfRoot,
} from './rootfs.js';
import { newestKernel } from './guest-files.js';

/** Bump when the recipe below changes in a way the key's other inputs do not show. */
export const DOM0_RECIPE_VERSION = 6;

export const DEFAULT_CACHE_DIR = '/var/cache/domu-forge';
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/** The label of the per-run job disk the Dom0 reads the guest's config and kernel from. */
export const JOB_DISK_LABEL = 'DFJOB';
/** Lines the Dom0 runner prints on its console; the host watches for them. */
export const DOM0_MARKER = 'DOMU-FORGE-DOM0:';

export interface Dom0Options {
  /** Cache root (default DOMU_FORGE_CACHE_DIR, else /var/cache/domu-forge): the Dom0 lives in <cacheDir>/xen-dom0/<key>/, downloads in <cacheDir>/packages/ (shared with `install`). */
  cacheDir?: string;
  suite?: string;
  mirror?: string;
  securityMirror?: string;
  /** The Xen version the Debian packages are named after (xen-utils-4.17). */
  xenVersion?: string;
  /** Rebuild even when a cached Dom0 exists. */
  rebuild?: boolean;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface Dom0 {
  dir: string;
  key: string;
  /** The unzipped hypervisor, for qemu -kernel. */
  xen: string;
  kernel: string;
  initrd: string;
  /** The Dom0 root filesystem (ext4, label domu-dom0), always used read-only through a snapshot. */
  image: string;
  /** Package versions inside, for the report. */
  versions: Record<string, string>;
  /** Whether it was built now (false: taken from the cache). */
  built: boolean;
  buildSeconds: number;
}

/** The Dom0 side of the boot test: mount the job disk, `xl create` the guest, forward its console. */
export const DOM0_RUNNER = `#!/bin/sh
# domu-forge boot test, Dom0 side: start the guest described on the job disk (label ${JOB_DISK_LABEL})
# with xl create and copy its console log (written by xenconsoled) to the second serial port; what
# comes in on that port is typed on the guest's console (its pty, as \`xl console\` opens it).
say() { echo "${DOM0_MARKER} $*"; }
job=/run/domu-forge-job
mkdir -p "$job"
i=0
while [ ! -e /dev/disk/by-label/${JOB_DISK_LABEL} ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
if ! mount -o ro /dev/disk/by-label/${JOB_DISK_LABEL} "$job"; then say "FAIL cannot mount the job disk"; exit 1; fi
. "$job/job.env"
out=/dev/ttyS1
stty -F "$out" 115200 raw -echo 2>/dev/null || true
log="/var/log/xen/console/guest-$GUEST_NAME.log"
mkdir -p /var/log/xen/console
touch "$log"
tail -n +1 -F "$log" > "$out" 2>/dev/null &
if [ ! -e /proc/xen/capabilities ] || ! grep -q control_d /proc/xen/capabilities; then say "FAIL this is not a Xen Dom0"; exit 1; fi
i=0
while ! xenstore-read -s / >/dev/null 2>&1 && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
pgrep -x xenconsoled >/dev/null || say "WARN xenconsoled is not running"
say "CREATE $GUEST_NAME"
if xl create "$job/guest.cfg" > /run/domu-forge-xl.log 2>&1; then
  say "STARTED $GUEST_NAME"
  domid=$(xl domid "$GUEST_NAME")
  i=0
  while pty=$(xenstore-read "/local/domain/$domid/console/tty" 2>/dev/null); [ -z "$pty" ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
  if [ -n "$pty" ] && [ -c "$pty" ]; then
    stty -F "$pty" raw -echo 2>/dev/null || true
    # the output reaches the host through the log above; this reader keeps the pty from filling up
    cat "$pty" > /dev/null 2>&1 &
    cat "$out" > "$pty" 2>/dev/null &
    say "CONSOLE $GUEST_NAME $pty"
  else
    say "WARN no console pty for $GUEST_NAME: the guest's console takes no input"
  fi
else
  st=$?
  say "FAIL xl create exited with status $st: $(tail -n 5 /run/domu-forge-xl.log | tr '\\n' ' ')"
  exit 1
fi
while xl domid "$GUEST_NAME" >/dev/null 2>&1; do sleep 3; done
say "GONE $GUEST_NAME: $(xl dmesg 2>/dev/null | tail -n 3 | tr '\\n' ' ')"
sleep 2
`;

export const DOM0_UNIT = `[Unit]
Description=domu-forge boot test: start the guest under test
Wants=xen.service
After=xen.service local-fs.target systemd-udevd.service

[Service]
Type=simple
ExecStart=/usr/local/sbin/domu-forge-boot-test
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;

const DOM0_HOSTNAME = 'domu-forge-dom0';

/**
 * grub-xen-host: GRUB built for Xen PV (/usr/lib/grub-xen/grub-x86_64-xen.bin), the kernel of a
 * pvgrub guest's config, as a real Dom0 has it.
 */
function dom0Packages(xenVersion: string): string[] {
  return [`xen-hypervisor-${xenVersion}-amd64`, `xen-utils-${xenVersion}`, 'xenstore-utils', 'grub-xen-host'];
}

const DOM0_INCLUDE = ['linux-image-amd64', 'systemd-sysv', 'udev', 'kmod', 'procps'];

/** The cache key: a hash of every input that shapes the Dom0. */
export function dom0Key(options: Required<Pick<Dom0Options, 'suite' | 'mirror' | 'securityMirror' | 'xenVersion'>>): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      recipe: DOM0_RECIPE_VERSION,
      suite: options.suite,
      mirror: options.mirror,
      security: options.securityMirror,
      xen: options.xenVersion,
      include: DOM0_INCLUDE,
      packages: dom0Packages(options.xenVersion),
      runner: DOM0_RUNNER,
      unit: DOM0_UNIT,
      arch: 'amd64',
    }),
  );
  return h.digest('hex').slice(0, 16);
}

/** Find or build the cached Dom0. */
export async function ensureDom0(options: Dom0Options = {}): Promise<Dom0> {
  // as every install: --cache-dir, else DOMU_FORGE_CACHE_DIR, else /var/cache/domu-forge
  const cacheDir = options.cacheDir ?? (process.env.DOMU_FORGE_CACHE_DIR || DEFAULT_CACHE_DIR);
  const suite = options.suite ?? 'bookworm';
  const mirror = options.mirror ?? DEFAULT_MIRROR;
  const securityMirror = options.securityMirror ?? DEFAULT_SECURITY_MIRROR;
  const xenVersion = options.xenVersion ?? '4.17';
  const key = dom0Key({ suite, mirror, securityMirror, xenVersion });
  const dir = path.join(cacheDir, 'xen-dom0', key);
  const progress = options.onProgress ?? (() => undefined);

  if (!options.rebuild) {
    const cached = await readDom0(dir, key);
    if (cached) return cached;
  }
  if (process.getuid?.() !== 0) throw new DomuError('ENVIRONMENT', 'building the Xen Dom0 needs root (debootstrap, chroot, mount)');

  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  const cleanup = new CleanupStack();
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  cleanup.push(`remove ${tmp}`, () => fsp.rm(tmp, { recursive: true, force: true }));
  try {
    const root = path.join(tmp, 'root');
    await fsp.mkdir(root);
    // domu-forge's own install stage: its package cache (a caching proxy) serves the guest builds too
    progress(`Dom0: installing Debian ${suite} (minbase)`);
    await installDistribution({
      distro: 'debian',
      suite,
      mirror,
      variant: 'minbase',
      include: DOM0_INCLUDE,
      root,
      cacheDir,
      rootCache: false,
      logFile: path.join(tmp, 'install.log'),
      cleanup,
      signal: options.signal,
    });

    progress(`Dom0: installing Xen ${xenVersion} from ${suite}-security`);
    await writeFileInRoot(
      root,
      'etc/apt/sources.list',
      `deb ${mirror} ${suite} main\ndeb ${securityMirror} ${suite}-security main\n`,
    );
    const cache = new PackageCache(path.join(cacheDir, 'packages'));
    const proxy = await cache.start();
    const dropProxy = cleanup.push('stop the package cache', () => cache.stop());
    const release = await prepareChroot(root, cleanup);
    const apt = ['apt-get', '-q', '-o', `Acquire::http::Proxy=${proxy}`];
    await runInChroot(root, [...apt, 'update'], options.signal);
    await runInChroot(root, [...apt, 'install', '-y', '--no-install-recommends', ...dom0Packages(xenVersion)], options.signal);
    await runInChroot(root, ['apt-get', 'clean']);
    const versions: Record<string, string> = {};
    const q = await runInChroot(root, ['dpkg-query', '-W', '-f', '${Package} ${Version}\\n', ...dom0Packages(xenVersion), 'linux-image-amd64']);
    for (const line of q.trim().split('\n')) {
      const [p, v] = line.split(' ');
      if (p && v) versions[p] = v;
    }
    await release();
    await cache.stop();
    dropProxy();
    const hv = versions[`xen-hypervisor-${xenVersion}-amd64`];
    const ut = versions[`xen-utils-${xenVersion}`];
    if (!hv || hv !== ut) throw new DomuError('INTERNAL', `Dom0: Xen hypervisor ${hv ?? '?'} and tools ${ut ?? '?'} differ`);

    progress('Dom0: configuring');
    await configureDom0(root);

    progress('Dom0: packing the image');
    const xenGz = await readFileInRoot(root, `boot/xen-${xenVersion}-amd64.gz`);
    if (!xenGz) throw new DomuError('INTERNAL', `Dom0: /boot/xen-${xenVersion}-amd64.gz is missing after the install`);
    await fsp.writeFile(path.join(tmp, 'xen'), gunzipSync(xenGz));
    const k = await newestKernel(root);
    if (!k.initrd) throw new DomuError('INTERNAL', `Dom0: no initrd for kernel ${k.version}`);
    await copyFileOutOfRoot(root, k.kernel, path.join(tmp, 'vmlinuz'));
    await copyFileOutOfRoot(root, k.initrd, path.join(tmp, 'initrd.img'));
    versions.kernel = k.version;
    await makeExt4Image(root, path.join(tmp, 'dom0.img'), { label: 'domu-dom0', headroomMiB: 512 });
    await fsp.rm(root, { recursive: true, force: true });
    const buildSeconds = (Date.now() - started) / 1000;
    await fsp.writeFile(path.join(tmp, 'manifest.json'), `${JSON.stringify({ key, suite, mirror, securityMirror, xenVersion, versions, buildSeconds, builtAt: new Date().toISOString() }, null, 2)}\n`);
    await fsp.rm(dir, { recursive: true, force: true });
    try {
      await fsp.rename(tmp, dir);
    } catch (e) {
      if (errnoCode(e) !== 'ENOTEMPTY' && errnoCode(e) !== 'EEXIST') throw e;
      // another run finished the same Dom0 first: use theirs
    }
    await cleanup.runAll();
    const d = await readDom0(dir, key);
    if (!d) throw new DomuError('INTERNAL', `Dom0 in ${dir} is incomplete after the build`);
    return { ...d, built: true, buildSeconds };
  } catch (e) {
    await cleanup.runAll();
    throw e;
  }
}

async function readDom0(dir: string, key: string): Promise<Dom0 | undefined> {
  try {
    const m = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as { versions: Record<string, string>; buildSeconds: number };
    const files = { xen: path.join(dir, 'xen'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), image: path.join(dir, 'dom0.img') };
    for (const f of Object.values(files)) await fsp.access(f);
    return { dir, key, ...files, versions: m.versions, built: false, buildSeconds: m.buildSeconds };
  } catch {
    return undefined;
  }
}

async function configureDom0(root: string): Promise<void> {
  await writeFileInRoot(root, 'etc/hostname', `${DOM0_HOSTNAME}\n`);
  await writeFileInRoot(root, 'etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${DOM0_HOSTNAME}\n`);
  await writeFileInRoot(root, 'etc/fstab', 'LABEL=domu-dom0\t/\text4\terrors=remount-ro\t0\t1\n');
  // xenconsoled writes each guest's console to /var/log/xen/console/guest-NAME.log
  const defaults = (await readFileInRoot(root, 'etc/default/xen'))?.toString() ?? '';
  await writeFileInRoot(
    root,
    'etc/default/xen',
    `${defaults.replace(/^XENCONSOLED_ARGS=.*\n?/m, '')}\n# domu-forge boot test: guest consoles as files\nXENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"\n`,
  );
  await writeFileInRoot(root, 'usr/local/sbin/domu-forge-boot-test', DOM0_RUNNER, 0o755);
  await writeFileInRoot(root, 'etc/systemd/system/domu-forge-boot-test.service', DOM0_UNIT);
  await symlinkInRoot(root, 'etc/systemd/system/multi-user.target.wants/domu-forge-boot-test.service', '/etc/systemd/system/domu-forge-boot-test.service');
  // nothing in this Dom0 needs the network, time sync or periodic apt work
  for (const unit of ['apt-daily.timer', 'apt-daily-upgrade.timer', 'xendomains.service']) {
    await symlinkInRoot(root, `etc/systemd/system/${unit}`, '/dev/null');
  }
}
