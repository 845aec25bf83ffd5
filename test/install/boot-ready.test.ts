// An installed bookworm that boots through PyGRUB and can be reached (root, network): the kernel and
// its initrd, sshd, the security source, the timezone and locale given as the Dom0's.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDistribution } from '../../src/install/index.js';
import { mountsUnder } from '../../src/install/guest-files.js';

const SHARED_PACKAGES = process.env.DOMU_FORGE_PACKAGE_CACHE || '/var/cache/domu-forge/packages';
let work = '';
let cacheDir = '';

beforeAll(() => {
  work = mkdtempSync(join(process.env.DOMU_FORGE_TEST_TMP || tmpdir(), 'domu-install-boot-'));
  cacheDir = join(work, 'cache');
  mkdirSync(cacheDir);
  mkdirSync(SHARED_PACKAGES, { recursive: true });
  symlinkSync(SHARED_PACKAGES, join(cacheDir, 'packages'));
});
afterAll(async () => {
  for (const p of await mountsUnder(work)) spawnSync('umount', ['-l', p]);
  if ((await mountsUnder(work)).length === 0) rmSync(work, { recursive: true, force: true });
});

const installed = (root: string, pkgs: string[]) =>
  spawnSync('chroot', [root, 'dpkg-query', '-W', '-f', '${Package} ${Status}\n', ...pkgs], { encoding: 'utf8' }).stdout;

describe('an install that boots (root, network)', () => {
  it('--pygrub: linux-image-amd64 with an initrd, openssh-server, bookworm-security, the Dom0\'s timezone and locale', async () => {
    const root = join(work, 'guest');
    const r = await installDistribution({
      distro: 'debian', suite: 'bookworm', variant: 'minbase', tool: 'mmdebstrap', pygrub: true, root, cacheDir,
      hostSettings: { timezone: 'Europe/Berlin', lang: 'en_GB.UTF-8' },
    });
    expect(installed(root, ['linux-image-amd64', 'initramfs-tools', 'openssh-server', 'locales'])).toBe(
      'initramfs-tools install ok installed\nlinux-image-amd64 install ok installed\nlocales install ok installed\nopenssh-server install ok installed\n',
    );
    const boot = readdirSync(join(root, 'boot'));
    expect(boot.some((f) => /^vmlinuz-6\.1\.0-\d+-amd64$/.test(f))).toBe(true);
    expect(boot.some((f) => /^initrd\.img-6\.1\.0-\d+-amd64$/.test(f))).toBe(true);
    const sources = readFileSync(join(root, 'etc/apt/sources.list'), 'utf8').split('\n');
    expect(sources).toContain('deb http://security.debian.org/debian-security bookworm-security main');
    expect(readFileSync(join(root, 'etc/timezone'), 'utf8')).toBe('Europe/Berlin\n');
    expect(readlinkSync(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
    expect(readFileSync(join(root, 'etc/default/locale'), 'utf8')).toBe('LANG=en_GB.UTF-8\n');
    expect(spawnSync('chroot', [root, 'locale', '-a'], { encoding: 'utf8' }).stdout).toMatch(/^en_GB\.utf8$/m);
    expect(r.written).toEqual(expect.arrayContaining(['/etc/modules', '/etc/apt/sources.list', '/etc/timezone', '/etc/localtime', '/etc/default/locale']));
  }, 900_000);
});
