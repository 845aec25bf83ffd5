// The test guest of the boot test, built by domu-forge itself: `domu-forge build` with a spec that
// installs Debian bookworm (minbase + kernel + systemd) into an ext4 image file, runs the fixups
// (fstab, hvc0 getty, menu.lst for PyGRUB, hostname ...) and writes the xl config. Built once and
// kept under /var/cache/domu-forge/boot-test-guest/<key>/ (the key: the spec and the code that makes
// the guest; downloads shared with the Dom0 through the install stage's package cache).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { cliPath } from '../helpers/run.js';

export const GUEST_HOSTNAME = 'df-boot-guest';
const CACHE = process.env.DOMU_FORGE_CACHE_DIR || '/var/cache/domu-forge';

function spec(dir: string): string {
  return `# the boot test's guest (test/boot/guest-fixture.ts)
name: ${GUEST_HOSTNAME}
hostname: ${GUEST_HOSTNAME}
target:
  image: ${path.join(dir, 'guest.img')}
  size: 1536M
  swap: 0   # one disk: the xen modes check the config's one disk line (swap under Xen: xen-tools-defaults-boot)
  fs: ext4
source:
  install:
    distro: debian
    dist: bookworm
    mirror: http://deb.debian.org/debian
    variant: minbase
    include: [linux-image-amd64, systemd-sysv, udev]
domain:
  memory: 512M
  vcpus: 1
  pygrub: true
  config: ${path.join(dir, 'guest.cfg')}
`;
}

export interface TestGuest {
  image: string;
  /** The xl config domu-forge wrote for it (PyGRUB, the image as a file disk). */
  config: string;
  hostname: string;
  built: boolean;
  seconds: number;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * The cache key: the spec and the built code that shapes the guest (install, fixups, guest file
 * access), so that a guest made by an older domu-forge is never booted as this one's.
 */
async function guestKey(): Promise<string> {
  const h = createHash('sha256').update(spec(''));
  const dist = path.resolve(path.dirname(cliPath), '..');
  for (const sub of ['install', 'fixup', 'guest']) {
    for (const name of (await fsp.readdir(path.join(dist, sub))).filter((n) => n.endsWith('.js')).sort()) {
      h.update(`${sub}/${name}\0`).update(await fsp.readFile(path.join(dist, sub, name)));
    }
  }
  return h.digest('hex').slice(0, 16);
}

/** The cached test guest; built when missing. Tests must never modify the image. */
export async function testGuestImage(): Promise<TestGuest> {
  const dir = path.join(CACHE, 'boot-test-guest', await guestKey());
  const files = { image: path.join(dir, 'guest.img'), config: path.join(dir, 'guest.cfg'), hostname: GUEST_HOSTNAME };
  try {
    await fsp.access(path.join(dir, 'done'));
    return { ...files, built: false, seconds: 0 };
  } catch {
    /* build it */
  }
  const started = Date.now();
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  const specFile = path.join(dir, 'guest.yaml');
  await fsp.writeFile(specFile, spec(dir));
  const r = await run(['build', specFile, '--json'], { DOMU_FORGE_STATE_DIR: path.join(dir, 'state') });
  if (r.status !== 0) {
    throw new Error(`domu-forge build of the test guest failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  }
  await fsp.writeFile(path.join(dir, 'build.json'), r.stdout);
  await fsp.writeFile(path.join(dir, 'done'), `${new Date().toISOString()}\n`);
  return { ...files, built: true, seconds: (Date.now() - started) / 1000 };
}
