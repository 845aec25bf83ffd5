// A test guest for the boot test: Debian bookworm from real debootstrap (minbase + kernel +
// systemd), with the few fixups a Xen guest needs, packed into an ext4 image. Built once and
// cached under /var/cache/domu-forge/boot-test-guest/<key>/ (the .debs are shared with the Dom0).
//
// Until domu-forge's own `install debian` + `fixup` + image target are wired into this suite,
// the fixups are written here: hostname, hosts, fstab on /dev/xvda, a getty on hvc0.

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { debootstrapRoot, makeExt4Image, symlinkInRoot, writeFileInRoot } from '../../src/boot/rootfs.js';

export const GUEST_HOSTNAME = 'df-boot-guest';
const CACHE = process.env.DOMU_FORGE_CACHE_DIR || '/var/cache/domu-forge';
const MIRROR = 'http://deb.debian.org/debian';
const INCLUDE = ['linux-image-amd64', 'systemd-sysv', 'udev'];

const FSTAB = 'proc\t/proc\tproc\tdefaults\t0\t0\n/dev/xvda\t/\text4\terrors=remount-ro\t0\t1\n';

export interface TestGuest {
  image: string;
  hostname: string;
  built: boolean;
  seconds: number;
}

/** The cached test guest image; build it when missing. Never modify the returned image in a test. */
export async function testGuestImage(): Promise<TestGuest> {
  const key = createHash('sha256').update(JSON.stringify({ v: 1, MIRROR, INCLUDE, FSTAB, GUEST_HOSTNAME })).digest('hex').slice(0, 16);
  const dir = path.join(CACHE, 'boot-test-guest', key);
  const image = path.join(dir, 'guest.img');
  try {
    await fsp.access(path.join(dir, 'done'));
    return { image, hostname: GUEST_HOSTNAME, built: false, seconds: 0 };
  } catch {
    /* build it */
  }
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  try {
    const root = path.join(tmp, 'root');
    await debootstrapRoot(root, { suite: 'bookworm', mirror: MIRROR, include: INCLUDE, debCacheDir: path.join(CACHE, 'debs') });
    await writeFileInRoot(root, 'etc/hostname', `${GUEST_HOSTNAME}\n`);
    await writeFileInRoot(root, 'etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${GUEST_HOSTNAME}\n`);
    await writeFileInRoot(root, 'etc/fstab', FSTAB);
    await symlinkInRoot(root, 'etc/systemd/system/getty.target.wants/serial-getty@hvc0.service', '/lib/systemd/system/serial-getty@.service');
    await makeExt4Image(root, path.join(tmp, 'guest.img'), { label: 'df-boot-guest', headroomMiB: 256 });
    await fsp.rm(root, { recursive: true, force: true });
    await fsp.writeFile(path.join(tmp, 'done'), `${new Date().toISOString()}\n`);
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(tmp, dir);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { image, hostname: GUEST_HOSTNAME, built: true, seconds: (Date.now() - started) / 1000 };
}
