// Reading the kernel, initrd, hostname and fstab root out of a guest image through a read-only
// loop device and mount: the newest kernel wins, symlinks in the guest are never followed out of
// it, the image is not modified, and no mount or loop device is left behind.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/cleanup.js';
import { readGuestFiles } from '../../src/boot/guest-files.js';
import { runCli, scratchDir, sh } from '../helpers/run.js';

function sha(file: string): string {
  return sh(`sha256sum '${file}'`).split(' ')[0]!;
}

function makeImage(dir: string, name: string, tree: (root: string) => void): string {
  const root = join(dir, `${name}-root`);
  mkdirSync(root);
  tree(root);
  const image = join(dir, `${name}.img`);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, image, '16M']);
  return image;
}

describe('readGuestFiles (root, loop)', () => {
  const s = scratchDir('bootfiles');
  let good: string;
  let linked: string;
  const secret = join(s.dir, 'host-secret');

  beforeAll(() => {
    writeFileSync(secret, 'host only\n');
    good = makeImage(s.dir, 'good', (r) => {
      mkdirSync(join(r, 'boot'));
      mkdirSync(join(r, 'etc'));
      writeFileSync(join(r, 'boot', 'vmlinuz-6.1.0-9-amd64'), 'kernel 9');
      writeFileSync(join(r, 'boot', 'vmlinuz-6.1.0-10-amd64'), 'kernel 10');
      writeFileSync(join(r, 'boot', 'initrd.img-6.1.0-9-amd64'), 'initrd 9');
      writeFileSync(join(r, 'boot', 'initrd.img-6.1.0-10-amd64'), 'initrd 10');
      // a newer "kernel" that is a symlink out of the guest: never taken
      symlinkSync(secret, join(r, 'boot', 'vmlinuz-9.9.9-amd64'));
      writeFileSync(join(r, 'etc', 'hostname'), 'tg.example.org\n');
      writeFileSync(join(r, 'etc', 'fstab'), '# static\n/dev/xvda1 none swap sw 0 0\n/dev/xvda2 / ext4 errors=remount-ro 0 1\n');
    });
    linked = makeImage(s.dir, 'linked', (r) => {
      mkdirSync(join(r, 'etc'));
      symlinkSync('/', join(r, 'boot'));
      symlinkSync(secret, join(r, 'etc', 'hostname'));
    });
  });

  afterAll(() => s.cleanup());

  it('copies the newest kernel and its initrd, and reads hostname and fstab root', async () => {
    const before = sha(good);
    const out = join(s.dir, 'out1');
    mkdirSync(out);
    const cleanup = new CleanupStack();
    const g = await readGuestFiles(good, out, cleanup, { kernel: true });
    expect(g).toEqual({
      kernel: join(out, 'vmlinuz'),
      initrd: join(out, 'initrd.img'),
      kernelVersion: '6.1.0-10-amd64',
      hostname: 'tg.example.org',
      fstabRoot: '/dev/xvda2',
    });
    expect(readFileSync(g.kernel, 'utf8')).toBe('kernel 10');
    expect(readFileSync(g.initrd!, 'utf8')).toBe('initrd 10');
    expect(cleanup.size).toBe(0);
    expect(sh(`losetup -j '${good}'`)).toBe('');
    expect(sha(good)).toBe(before);
  });

  it('never follows a symlink out of the guest: /boot -> / is refused, etc/hostname -> host file is not read', async () => {
    const out = join(s.dir, 'out2');
    mkdirSync(out);
    const cleanup = new CleanupStack();
    await expect(readGuestFiles(linked, out, cleanup, { kernel: true })).rejects.toThrow(/^\/boot is a symlink in /);
    const g = await readGuestFiles(linked, out, cleanup, { kernel: false });
    expect(g.hostname).toBeUndefined();
    expect(cleanup.size).toBe(0);
    expect(sh(`losetup -j '${linked}'`)).toBe('');
    expect(sh('findmnt -rn -o TARGET').includes('domu-boot-mnt-')).toBe(false);
  });

  it('says what to do with a partitioned disk, and with no filesystem at all', async () => {
    const disk = join(s.dir, 'parted.img');
    execFileSync('truncate', ['-s', '8M', disk]);
    execFileSync('sfdisk', ['-q', disk], { input: 'label: dos\n,,L\n' });
    const cleanup = new CleanupStack();
    await expect(readGuestFiles(disk, s.dir, cleanup, { kernel: true })).rejects.toThrow(
      `${disk} holds a partition table (dos), not a filesystem: give --kernel, --initrd and --root`,
    );
    const blank = join(s.dir, 'blank.img');
    execFileSync('truncate', ['-s', '8M', blank]);
    const r = runCli(['boot-test', blank]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: ${blank} holds no filesystem that blkid knows\n`);
  });
});
