// The boot test's root-filesystem helpers on real trees (root: files are written root-owned): files
// written and read inside the tree never through a symlink, and a tree packed into an ext4 image.
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileOutOfRoot, makeExt4Image, readFileInRoot, safePathInRoot, symlinkInRoot, treeBytes, writeFileInRoot } from '../../src/boot/rootfs.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('mirror-rootfs');
afterAll(() => scratch.cleanup());
let n = 0;
const tree = () => {
  const root = join(scratch.dir, `t${n++}`);
  mkdirSync(root);
  return root;
};

describe('files inside a root (root)', () => {
  it('writes a file with its parents and mode, and reads it back', async () => {
    const root = tree();
    await writeFileInRoot(root, 'etc/xen/./a.cfg', 'name = "a"\n', 0o600);
    expect(readFileSync(join(root, 'etc/xen/a.cfg'), 'utf8')).toBe('name = "a"\n');
    const st = lstatSync(join(root, 'etc/xen/a.cfg'));
    expect(st.mode & 0o7777).toBe(0o600);
    expect(lstatSync(join(root, 'etc/xen')).mode & 0o7777).toBe(0o755);
    expect((await readFileInRoot(root, '/etc/xen/a.cfg'))?.toString()).toBe('name = "a"\n');
    expect(await readFileInRoot(root, 'etc/none')).toBeUndefined();
    await writeFileInRoot(root, 'etc/xen/a.cfg', Buffer.from([1, 2, 3]));
    expect(readFileSync(join(root, 'etc/xen/a.cfg'))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('never writes or reads through a symlink in the tree', async () => {
    const root = tree();
    const outside = join(scratch.dir, `outside${n}`);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'host file\n');
    symlinkSync(outside, join(root, 'etc'));
    symlinkSync(join(outside, 'secret'), join(root, 'link'));
    await expect(writeFileInRoot(root, 'etc/passwd', 'x')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(readFileInRoot(root, 'link')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(readFileInRoot(root, 'etc/secret')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(safePathInRoot(root, 'etc/x', { mkdirs: true })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(copyFileOutOfRoot(root, 'link', join(scratch.dir, 'copied'))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host file\n');
    expect(() => lstatSync(join(outside, 'passwd'))).toThrow();
  });

  it('refuses missing parents without mkdirs, and ".."', async () => {
    const root = tree();
    await expect(safePathInRoot(root, 'a/b/c')).rejects.toThrow(`/a does not exist in ${root}`);
    writeFileSync(join(root, 'file'), '');
    await expect(safePathInRoot(root, 'file/x')).rejects.toThrow(`/file is not a directory in ${root}`);
    await expect(safePathInRoot(root, 'a/../../etc')).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await safePathInRoot(root, 'a/b/c', { mkdirs: true })).toBe(join(root, 'a/b/c'));
    expect(lstatSync(join(root, 'a/b')).isDirectory()).toBe(true);
  });

  it('symlinkInRoot makes or replaces a link; copyFileOutOfRoot copies a regular file out', async () => {
    const root = tree();
    await symlinkInRoot(root, 'etc/systemd/system/multi-user.target.wants/x.service', '/lib/systemd/system/x.service');
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/x.service'))).toBe('/lib/systemd/system/x.service');
    await symlinkInRoot(root, 'etc/systemd/system/multi-user.target.wants/x.service', '/etc/x.service');
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/x.service'))).toBe('/etc/x.service');
    await writeFileInRoot(root, 'boot/vmlinuz', 'kernel');
    await copyFileOutOfRoot(root, 'boot/vmlinuz', join(scratch.dir, 'vmlinuz-out'));
    expect(readFileSync(join(scratch.dir, 'vmlinuz-out'), 'utf8')).toBe('kernel');
    await expect(copyFileOutOfRoot(root, 'boot/none', join(scratch.dir, 'x'))).rejects.toThrow(`boot/none does not exist in ${root}`);
  });
});

describe('packing a tree into ext4 (root)', () => {
  it('sizes the image from the tree and holds its files', async () => {
    const root = tree();
    await writeFileInRoot(root, 'etc/hostname', 'packed\n');
    writeFileSync(join(root, 'big'), Buffer.alloc(3 << 20, 1));
    const used = await treeBytes(root);
    expect(used).toBeGreaterThanOrEqual(3 << 20);
    const image = join(scratch.dir, 'root.ext4');
    const mib = await makeExt4Image(root, image, { label: 'dom0root', headroomMiB: 8 });
    expect(mib).toBe(Math.ceil((used * 1.15) / (1 << 20)) + 8);
    expect(lstatSync(image).size).toBe(mib * (1 << 20));
    const cat = spawnSync('debugfs', ['-R', 'cat /etc/hostname', image], { encoding: 'utf8' });
    expect(cat.stdout).toBe('packed\n');
    expect(spawnSync('e2label', [image], { encoding: 'utf8' }).stdout.trim()).toBe('dom0root');
    expect(spawnSync('e2fsck', ['-fn', image]).status).toBe(0);
    expect(await makeExt4Image(root, image, { sizeMiB: 40 })).toBe(40);
    expect(lstatSync(image).size).toBe(40 << 20);
  });
});
