// fixup/bootloader against PyGRUB itself (Debian's xen-utils-4.17, which runs without a hypervisor):
// our menu.lst, inside real ext4 images, must lead PyGRUB to the guest's real kernel and initrd.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFixups } from '../../src/fixup/index.js';
import type { XenDomain } from '../../src/xen/domain.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';
import { debianGuest } from './guests.js';

const PYGRUB = '/usr/lib/xen-4.17/bin/pygrub';
const scratch = scratchDir('fixup-pygrub');
const undo: Array<() => void> = [];
let guest: string;
let kernel: string;
let initrd: string;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function mount(dev: string, dir: string, opts: string[] = []): void {
  mkdirSync(dir, { recursive: true });
  sh('mount', [...opts, dev, dir]);
  undo.push(() => spawnSync('umount', [dir]));
}

function umount(dir: string): void {
  sh('umount', [dir]);
}

function pygrub(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(PYGRUB, args, { encoding: 'utf8' });
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Copy the guest's kernel, initrd and os-release into a mounted filesystem. */
function populateBoot(bootDir: string, etcDir: string): void {
  mkdirSync(bootDir, { recursive: true });
  mkdirSync(etcDir, { recursive: true });
  sh('cp', ['-a', join(guest, 'boot', kernel), join(guest, 'boot', initrd), bootDir]);
  sh('cp', [join(guest, 'usr/lib/os-release'), join(etcDir, 'os-release')]);
}

beforeAll(() => {
  guest = debianGuest();
  const boot = readdirSync(join(guest, 'boot'));
  kernel = boot.find((n) => n.startsWith('vmlinuz-'))!;
  initrd = boot.find((n) => n.startsWith('initrd.img-'))!;
});

afterAll(() => {
  for (const u of undo.reverse()) u();
  scratch.cleanup();
});

describe('PyGRUB reads our menu.lst (root, loop, network)', () => {
  const pv: XenDomain = domainFromOptions({ hostname: 'banquo', pygrub: true });

  it('a whole-disk ext4 image (vdev xvda1): pygrub -n finds kernel and initrd, and extracts the very files', async () => {
    const img = join(scratch.dir, 'root.img');
    const mnt = join(scratch.dir, 'mnt');
    sh('truncate', ['-s', '160M', img]);
    sh('mkfs.ext4', ['-q', '-F', img]);
    mount(img, mnt, ['-o', 'loop']);
    populateBoot(join(mnt, 'boot'), join(mnt, 'etc'));
    const r = await runFixups(mnt, { domain: pv, only: ['bootloader'] });
    expect(r.changes).toBe(2);
    umount(mnt);

    const n = pygrub(['-q', '-n', '--output-format=simple', img]);
    expect(n.stderr).not.toMatch(/does not exist|Error/);
    expect(n.status).toBe(0);
    expect(n.stdout).toContain('args root=/dev/xvda1 ro console=hvc0');

    const out = join(scratch.dir, 'pygrub-out');
    mkdirSync(out);
    const x = pygrub(['-q', '--output-format=simple', `--output-directory=${out}`, img]);
    expect(x.status).toBe(0);
    const got = Object.fromEntries(x.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
    expect(sha(got.kernel!)).toBe(sha(join(guest, 'boot', kernel)));
    expect(sha(got.ramdisk!)).toBe(sha(join(guest, 'boot', initrd)));
    expect(got.args).toBe('root=/dev/xvda1 ro console=hvc0');

    const list = pygrub(['-q', '-l', img]);
    expect(list.stdout).toContain(`title: Debian GNU/Linux 12 (bookworm), kernel ${kernel.slice('vmlinuz-'.length)}`);
  });

  it('fails when the menu names a kernel that is not there (the check above can fail)', () => {
    const img = join(scratch.dir, 'root.img');
    const mnt = join(scratch.dir, 'mnt');
    mount(img, mnt, ['-o', 'loop']);
    renameSync(join(mnt, 'boot', kernel), join(mnt, 'boot', `${kernel}.moved`));
    umount(mnt);
    const n = pygrub(['-q', '-n', '--output-format=simple', img]);
    expect(n.status).not.toBe(0);
    expect(n.stderr).toContain('The requested kernel file does not exist');
  });

  it('a partitioned disk with /boot on its own partition: paths relative to /boot', async () => {
    const img = join(scratch.dir, 'disk.img');
    sh('truncate', ['-s', '300M', img]);
    execFileSync('sfdisk', ['-q', img], { input: 'label: dos\n,120M,83\n,,83\n' });
    // loop devices at each partition's offset (no partition nodes appear in a container's /dev)
    const table = JSON.parse(sh('sfdisk', ['--json', img])) as { partitiontable: { sectorsize?: number; partitions: Array<{ start: number; size: number }> } };
    const sector = table.partitiontable.sectorsize ?? 512;
    const loops = table.partitiontable.partitions.map((p) => {
      const dev = sh('losetup', ['-f', '--show', '-o', String(p.start * sector), '--sizelimit', String(p.size * sector), img]).trim();
      const entry = { dev, attached: true };
      undo.push(() => {
        if (entry.attached) spawnSync('losetup', ['-d', dev]);
      });
      return entry;
    });
    sh('mkfs.ext4', ['-q', '-F', loops[0]!.dev]);
    sh('mkfs.ext4', ['-q', '-F', loops[1]!.dev]);
    const root = join(scratch.dir, 'proot');
    mount(loops[1]!.dev, root);
    mount(loops[0]!.dev, join(root, 'boot'));
    populateBoot(join(root, 'boot'), join(root, 'etc'));
    const domain: XenDomain = {
      ...pv,
      disks: [{ target: img, vdev: 'xvda', backend: 'file', mounts: [{ partition: 1, mountpoint: '/boot', fs: 'ext4' }, { partition: 2, mountpoint: '/', fs: 'ext4' }] }],
    };
    await runFixups(root, { domain, only: ['bootloader', 'fstab'] });
    expect(readFileSync(join(root, 'etc/fstab'), 'utf8')).toBe('/dev/xvda1\t/boot\text4\tdefaults\t0\t2\n/dev/xvda2\t/\text4\terrors=remount-ro\t0\t1\n');
    expect(readFileSync(join(root, 'boot/grub/menu.lst'), 'utf8')).toContain(`  kernel /${kernel} root=/dev/xvda2 ro console=hvc0\n  initrd /${initrd}\n`);
    umount(join(root, 'boot'));
    umount(root);
    for (const l of loops) {
      sh('losetup', ['-d', l.dev]);
      l.attached = false;
    }
    const x = pygrub(['-q', '-n', '--output-format=simple', img]);
    expect(x.status).toBe(0);
    expect(x.stdout).toContain('args root=/dev/xvda2 ro console=hvc0');
  });
});
