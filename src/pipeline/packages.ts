// Extra packages into a finished guest tree: apt-get inside a chroot (Debian family: /proc, /sys
// and /dev bound in, services kept from starting by policy-rc.d), or dnf --installroot from the host
// (Red Hat family). Every mount is on the CleanupStack and released before returning.

import { existsSync, lstatSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';
import type { CleanupStack } from '../cleanup.js';

export type PackageManager = 'apt' | 'dnf' | 'yum';

/** Which package manager the guest itself has. */
export function guestPackageManager(root: string): PackageManager | undefined {
  if (existsSync(join(root, 'usr/bin/apt-get'))) return 'apt';
  if (existsSync(join(root, 'usr/bin/dnf'))) return 'dnf';
  if (existsSync(join(root, 'usr/bin/yum'))) return 'yum';
  return undefined;
}

/** A mount point inside the guest that is a real directory (not a symlink that could lead out). */
function safeMountPoint(root: string, rel: string): string {
  const p = join(root, rel);
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new DomuError('BAD_INPUT', `the guest's /${rel} is not a directory; cannot install packages into it`);
  return p;
}

export async function installPackages(root: string, packages: readonly string[], cleanup: CleanupStack, signal?: AbortSignal): Promise<{ manager: PackageManager }> {
  const pm = guestPackageManager(root);
  if (!pm) throw new DomuError('BAD_INPUT', 'the guest has neither apt-get nor dnf nor yum; cannot install packages');
  if (pm !== 'apt') {
    await runTool(pm, ['--installroot', root, '-y', 'install', ...packages], signal ? { signal } : {});
    return { manager: pm };
  }
  const mounts: string[] = [];
  const undo: Array<() => void> = [];
  const policy = join(root, 'usr/sbin/policy-rc.d');
  const hadPolicy = existsSync(policy);
  try {
    for (const [rel, args] of [
      ['proc', ['-t', 'proc', 'proc']],
      ['sys', ['--rbind', '/sys']],
      ['dev', ['--rbind', '/dev']],
    ] as const) {
      const p = safeMountPoint(root, rel);
      await runTool('mount', [...args, p]);
      if (rel !== 'proc') await runTool('mount', ['--make-rslave', p]);
      mounts.push(p);
      undo.push(cleanup.push(`unmount ${p}`, async () => void (await runTool('umount', ['-R', '-l', p], { allowFailure: true }))));
    }
    const resolv = join(root, 'etc/resolv.conf');
    const rst = lstatSync(resolv, { throwIfNoEntry: false });
    if (rst?.isFile()) {
      await runTool('mount', ['--bind', '-o', 'ro', '/etc/resolv.conf', resolv]);
      mounts.push(resolv);
      undo.push(cleanup.push(`unmount ${resolv}`, async () => void (await runTool('umount', [resolv], { allowFailure: true }))));
    }
    const realDir = (rel: string) => lstatSync(join(root, rel), { throwIfNoEntry: false })?.isDirectory() === true;
    if (!hadPolicy && realDir('usr') && realDir('usr/sbin')) {
      await writeFile(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755, flag: 'wx' });
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C.UTF-8' };
    const opts = { env, ...(signal ? { signal } : {}) };
    await runTool('chroot', [root, 'apt-get', 'update', '-q'], opts);
    await runTool('chroot', [root, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages], opts);
    await runTool('chroot', [root, 'apt-get', 'clean'], opts);
  } finally {
    if (!hadPolicy) await rm(policy, { force: true });
    for (const p of mounts.reverse()) await runTool('umount', ['-R', '-l', p], { allowFailure: true });
    for (const d of undo) d();
  }
  return { manager: 'apt' };
}
