// When the boot test is given no credentials, it sets its own on a throwaway copy of the image: a
// random root password, hashed with the guest's own scheme by mkpasswd, written into the copy's
// /etc/shadow through GuestFs. The real image is only ever read (cp), never mounted writable.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { withLoopMount } from '../sys/loop-mount.js';
import type { CleanupStack } from '../cleanup.js';
import { GuestFs } from '../guest/guest-fs.js';
import { generatePassword, hashPassword, hashSchemeOf, setShadowPassword } from '../fixup/access.js';
import type { LoginCredentials } from './login.js';

const MOUNTABLE = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs']);

export interface ThrowawayLogin {
  /** The copy the guest boots from. */
  file: string;
  credentials: LoginCredentials;
  /** The hash scheme used, and the guest's evidence for it. */
  scheme: string;
}

/**
 * Copy `image` (a raw filesystem) into `workDir`, give the copy's root a random password (or
 * `password`) and return the copy and the credentials. The copy is removed by `cleanup`.
 */
export async function throwawayRootLogin(image: string, workDir: string, cleanup: CleanupStack, password = generatePassword()): Promise<ThrowawayLogin> {
  const probe = await runTool('blkid', ['-p', '-o', 'value', '-s', 'TYPE', image], { allowFailure: true });
  const type = probe.stdout.toString().trim();
  if (!MOUNTABLE.has(type)) {
    throw new DomuError('BAD_INPUT', `${image} is not a bare ext2/3/4, xfs or btrfs filesystem, so boot-test cannot set a root password on a copy: give the credentials the build set (login)`);
  }
  const file = path.join(workDir, 'login-copy.img');
  cleanup.push(`remove ${file}`, () => fsp.rm(file, { force: true }));
  await runTool('cp', ['--sparse=always', '--', image, file]);
  await fsp.chmod(file, 0o600);
  // xfs refuses a second mount of the same UUID; the copy is the only one mounted here
  return withLoopMount(file, { type, ...(type === 'xfs' ? { options: 'nouuid' } : {}), prefix: 'domu-boot-login-' }, cleanup, async (mnt) => {
    const g = new GuestFs(mnt);
    const pam: string[] = [];
    for (const f of ['/etc/pam.d/common-password', '/etc/pam.d/system-auth', '/etc/pam.d/password-auth', '/etc/pam.d/passwd']) {
      const t = await g.readText(f, 1 << 20);
      if (t !== undefined) pam.push(t);
    }
    const { scheme, evidence } = hashSchemeOf(pam, await g.readText('/etc/login.defs', 1 << 20));
    const shadow = await g.readText('/etc/shadow', 1 << 22);
    if (shadow === undefined) throw new DomuError('BAD_INPUT', `${image} has no /etc/shadow: boot-test cannot set a root password; give the credentials the build set (login)`);
    await g.writeFile('/etc/shadow', setShadowPassword(shadow, 'root', await hashPassword(password, scheme)));
    return { file, credentials: { user: 'root', password }, scheme: `${scheme} (${evidence})` };
  });
}
