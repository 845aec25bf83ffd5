// Small root-filesystem helpers the boot test needs to build its Dom0: run apt inside a tree with
// the host safe, read and write files that never follow a symlink out of the tree, and pack the
// tree into an ext4 image without mounting it.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DomuError, oneLine } from '../errors.js';
import { GuestFs } from '../guest/guest-fs.js';
import { runTool } from '../sys/exec.js';
import type { CleanupStack } from '../cleanup.js';

/** Kernels, initrds and Xen images are read whole; nothing the boot test reads is larger. */
const MAX_READ_BYTES = 2 ** 31 - 1;

function relParts(rel: string): string[] {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new DomuError('INTERNAL', `path ${rel} has a .. component`);
  return parts;
}

/**
 * Resolve `rel` inside `root` (GuestFs) refusing every symlink on the way, creating missing
 * directories (0755 root:root) when asked. A tree we build ourselves has none where we write; a
 * symlink there means someone else's tree, and we never write through it. Returns the host path
 * (latin1, one character per byte).
 */
export async function safePathInRoot(root: string, rel: string, options: { mkdirs?: boolean } = {}): Promise<string> {
  const parts = relParts(rel);
  const gfs = new GuestFs(root);
  await parentsIn(gfs, root, parts, options.mkdirs ?? false);
  return (await gfs.resolve(`/${parts.join('/')}`, { refuseSymlinks: true })).hostPath.toString('latin1');
}

/** Check (or make) the directories above the last of `parts`: real directories, no symlinks. */
async function parentsIn(gfs: GuestFs, root: string, parts: readonly string[], mkdirs: boolean): Promise<void> {
  for (let i = 1; i < parts.length; i += 1) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const st = await gfs.stat(dir, { refuseSymlinks: true });
    if (st && !st.isDirectory()) throw new DomuError('BAD_INPUT', `${dir} is not a directory in ${root}`);
    if (!st && !mkdirs) throw new DomuError('BAD_INPUT', `${dir} does not exist in ${root}`);
    if (!st) await gfs.mkdir(dir, 0o755);
  }
}

/** Write a file inside `root` (creating parent directories), never through a symlink; replaced by rename. */
export async function writeFileInRoot(root: string, rel: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await safePathInRoot(root, rel, { mkdirs: true });
  await new GuestFs(root).writeFile(`/${relParts(rel).join('/')}`, typeof content === 'string' ? Buffer.from(content, 'utf8') : content, { mode });
}

/** Make a symlink inside `root` (replacing a file or symlink that is there), for systemd `wants` links. */
export async function symlinkInRoot(root: string, rel: string, target: string): Promise<void> {
  const parts = relParts(rel);
  const gfs = new GuestFs(root);
  await parentsIn(gfs, root, parts, true);
  const guestPath = `/${parts.join('/')}`;
  await gfs.remove(guestPath);
  await gfs.symlink(guestPath, target);
}

/** Read a regular file inside `root` without following any symlink; undefined when absent. */
export async function readFileInRoot(root: string, rel: string): Promise<Buffer | undefined> {
  return new GuestFs(root).readFile(`/${relParts(rel).join('/')}`, MAX_READ_BYTES, { refuseSymlinks: true });
}

/** Copy a regular file out of `root` to a host path, never following a symlink inside the tree. */
export async function copyFileOutOfRoot(root: string, rel: string, dest: string): Promise<void> {
  const data = await readFileInRoot(root, rel);
  if (data === undefined) throw new DomuError('BAD_INPUT', `${rel} does not exist in ${root}`);
  await fsp.writeFile(dest, data);
}

/**
 * Mount /proc, /sys and /dev inside `root` for package scripts, and stop services from starting
 * (policy-rc.d). Everything is pushed on `cleanup`; the returned function undoes it in order.
 */
export async function prepareChroot(root: string, cleanup: CleanupStack, binds: readonly { host: string; guest: string }[] = []): Promise<() => Promise<void>> {
  const undo: (() => Promise<void>)[] = [];
  // targets are latin1 host paths (safePathInRoot): handed to the tools as their bytes
  const mountOne = async (args: string[], target: string): Promise<void> => {
    const bytes = Buffer.from(target, 'latin1');
    await fsp.mkdir(bytes, { recursive: true });
    await runTool('mount', [...args, bytes]);
    const drop = cleanup.push(`unmount ${target}`, async () => {
      await runTool('umount', ['-l', bytes], { allowFailure: true });
    });
    undo.push(async () => {
      await runTool('umount', [bytes]);
      drop();
    });
  };
  await writeFileInRoot(root, 'usr/sbin/policy-rc.d', '#!/bin/sh\n# domu-forge: no services start while building\nexit 101\n', 0o755);
  const dropPolicy = cleanup.push(`remove ${root}/usr/sbin/policy-rc.d`, () => fsp.rm(path.join(root, 'usr/sbin/policy-rc.d'), { force: true }));
  try {
    await mountOne(['-t', 'proc', 'proc'], await safePathInRoot(root, 'proc', { mkdirs: true }));
    await mountOne(['-t', 'sysfs', 'sysfs'], await safePathInRoot(root, 'sys', { mkdirs: true }));
    await mountOne(['--bind', '/dev'], await safePathInRoot(root, 'dev', { mkdirs: true }));
    await mountOne(['-t', 'devpts', '-o', 'newinstance,ptmxmode=0666', 'devpts'], await safePathInRoot(root, 'dev/pts', { mkdirs: true }));
    for (const b of binds) {
      await fsp.mkdir(b.host, { recursive: true });
      const target = await safePathInRoot(root, b.guest, { mkdirs: true });
      await mountOne(['--bind', b.host], target);
    }
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    throw e;
  }
  return async () => {
    for (const u of undo.reverse()) await u();
    await fsp.rm(path.join(root, 'usr/sbin/policy-rc.d'), { force: true });
    dropPolicy();
  };
}

/** Run a command inside `root` with a clean, non-interactive environment. */
export async function runInChroot(root: string, argv: readonly string[], signal?: AbortSignal): Promise<string> {
  const env = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    DEBIAN_FRONTEND: 'noninteractive',
    DEBCONF_NONINTERACTIVE_SEEN: 'true',
    LC_ALL: 'C',
    HOME: '/root',
  };
  const r = await runTool('chroot', [root, ...argv], { env, allowFailure: true, signal });
  if (r.status !== 0) {
    const tail = oneLine(`${r.stdout.toString().split('\n').slice(-4).join(' ')} ${r.stderr}`).slice(-400);
    throw new DomuError('INTERNAL', `${argv.join(' ')} (in ${root}) failed with status ${r.status}: ${tail}`);
  }
  return r.stdout.toString();
}

/** Bytes used by a tree (du), to size an image for it. */
export async function treeBytes(root: string): Promise<number> {
  const r = await runTool('du', ['-s', '-x', '--block-size=1', root]);
  return Number(r.stdout.toString().split(/\s/)[0]);
}

/**
 * Pack `root` into a new ext4 image file with mke2fs -d (no mount needed). Size: the tree plus
 * `headroomMiB`, rounded up to MiB; the file is sparse.
 */
export async function makeExt4Image(root: string, image: string, options: { label?: string; headroomMiB?: number; sizeMiB?: number } = {}): Promise<number> {
  const used = await treeBytes(root);
  const sizeMiB = options.sizeMiB ?? Math.ceil((used * 1.15) / (1 << 20)) + (options.headroomMiB ?? 256);
  await fsp.rm(image, { force: true });
  const args = ['-q', '-F', '-t', 'ext4', '-d', root];
  if (options.label) args.push('-L', options.label);
  args.push(image, `${sizeMiB}M`);
  await runTool('mke2fs', args);
  return sizeMiB;
}
