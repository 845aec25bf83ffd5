// Small root-filesystem helpers the boot test needs to build its Dom0: run apt inside a tree with
// the host safe, read and write files that never follow a symlink out of the tree, and pack the
// tree into an ext4 image without mounting it.

import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import type { CleanupStack } from '../cleanup.js';

/**
 * Resolve `rel` inside `root` refusing every symlink on the way, creating missing directories
 * when asked. A tree we build ourselves has none where we write; a symlink there means someone
 * else's tree, and we never write through it.
 */
export async function safePathInRoot(root: string, rel: string, options: { mkdirs?: boolean } = {}): Promise<string> {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new DomuError('INTERNAL', `path ${rel} has a .. component`);
  let cur = root;
  for (let i = 0; i < parts.length; i += 1) {
    cur = path.join(cur, parts[i]!);
    const last = i === parts.length - 1;
    try {
      const st = await fsp.lstat(cur);
      if (st.isSymbolicLink()) {
        throw new DomuError('BAD_INPUT', `${path.join('/', ...parts.slice(0, i + 1))} is a symlink in ${root}; refusing to follow it`);
      }
      if (!last && !st.isDirectory()) throw new DomuError('BAD_INPUT', `${path.join('/', ...parts.slice(0, i + 1))} is not a directory in ${root}`);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      if (!last && options.mkdirs) await fsp.mkdir(cur, { mode: 0o755 });
      else if (!last) throw new DomuError('BAD_INPUT', `${path.join('/', ...parts.slice(0, i + 1))} does not exist in ${root}`);
    }
  }
  return cur;
}

/** Write a file inside `root` (creating parent directories), never through a symlink. */
export async function writeFileInRoot(root: string, rel: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const p = await safePathInRoot(root, rel, { mkdirs: true });
  const fh = await fsp.open(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(content);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/** Make a symlink inside `root` (replacing one that is there), for systemd `wants` links. */
export async function symlinkInRoot(root: string, rel: string, target: string): Promise<void> {
  const p = await safePathInRoot(root, rel, { mkdirs: true });
  await fsp.rm(p, { force: true });
  await fsp.symlink(target, p);
}

/** Read a regular file inside `root` without following any symlink; undefined when absent. */
export async function readFileInRoot(root: string, rel: string): Promise<Buffer | undefined> {
  let p: string;
  try {
    p = await safePathInRoot(root, rel);
  } catch (e) {
    if (e instanceof DomuError && e.code === 'BAD_INPUT' && / does not exist /.test(e.message)) return undefined;
    throw e;
  }
  let fh;
  try {
    fh = await fsp.open(p, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    if (errnoCode(e) === 'ELOOP') throw new DomuError('BAD_INPUT', `${rel} is a symlink in ${root}; refusing to follow it`);
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DomuError('BAD_INPUT', `${rel} is not a regular file in ${root}`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
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
  const mountOne = async (args: string[], target: string): Promise<void> => {
    await fsp.mkdir(target, { recursive: true });
    await runTool('mount', [...args, target]);
    const drop = cleanup.push(`unmount ${target}`, async () => {
      await runTool('umount', ['-l', target], { allowFailure: true });
    });
    undo.push(async () => {
      await runTool('umount', [target]);
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
      await fsp.mkdir(target, { recursive: true });
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
