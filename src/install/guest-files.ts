// Reading and writing the guest's files during an install, as if chrooted (through GuestFs): a
// symlink in the guest (/etc -> /host/etc) resolves inside the guest's root, never on the host.
// Also finding and releasing what an installer left mounted under the root.

import { DomuError } from '../errors.js';
import { GuestFs } from '../guest/guest-fs.js';
import { runTool } from '../sys/exec.js';
import { mountPointsBelow, readMountInfo } from '../sys/mountinfo.js';

/** Guest text files an install reads (dpkg's status of a large system included) stay below this. */
const MAX_INSTALL_TEXT = 64 * 1024 * 1024;

/**
 * The host path of `guestPath` inside `root` (latin1, one character per byte), resolved as the
 * guest sees it (GuestFs.resolve: absolute symlinks restart at the root, `..` stops there).
 */
export async function resolveInRoot(root: string, guestPath: string): Promise<string> {
  return (await new GuestFs(root).resolve(guestPath)).hostPath.toString('latin1');
}

/**
 * Write a guest file (UTF-8 text), creating missing parents (0755 root:root). A new file is 0644
 * root:root, an existing one keeps its mode, owner and xattrs; never written through a symlink
 * that leaves the guest, and replaced by rename (GuestFs.writeFile).
 */
export async function writeGuestFile(root: string, guestPath: string, content: string): Promise<void> {
  const gfs = new GuestFs(root);
  const parts = guestPath.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 1; i < parts.length; i += 1) await gfs.mkdir(`/${parts.slice(0, i).join('/')}`, 0o755);
  await gfs.writeFile(guestPath, Buffer.from(content, 'utf8'));
}

/** A guest text file (UTF-8), or undefined when it is absent or cannot be read as a regular file. */
export async function readGuestFile(root: string, guestPath: string): Promise<string | undefined> {
  try {
    return (await new GuestFs(root).readFile(guestPath, MAX_INSTALL_TEXT))?.toString('utf8');
  } catch {
    return undefined;
  }
}

/** Remove a guest file (not a directory); returns whether it existed. A symlink itself is removed, not its target. */
export async function removeGuestFile(root: string, guestPath: string): Promise<boolean> {
  try {
    const gfs = new GuestFs(root);
    const st = await gfs.stat(guestPath, { followLast: false });
    if (!st || st.isDirectory()) return false;
    await gfs.remove(guestPath);
    return true;
  } catch {
    return false;
  }
}

/** Add lines missing from a guest file (one entry a line), keeping what is there. Returns whether it changed. */
export async function ensureGuestLines(root: string, guestPath: string, lines: readonly string[], header = ''): Promise<boolean> {
  const old = (await readGuestFile(root, guestPath)) ?? '';
  const have = new Set(old.split('\n').map((l) => l.replace(/#.*/, '').trim()));
  const missing = lines.filter((l) => !have.has(l));
  if (missing.length === 0 && old !== '') return false;
  let text = old === '' ? header : old;
  if (text !== '' && !text.endsWith('\n')) text += '\n';
  await writeGuestFile(root, guestPath, text + missing.map((l) => `${l}\n`).join(''));
  return true;
}

/** Mount points strictly below `root` (deepest first), from the mount table (latin1: every byte kept). */
export async function mountsUnder(root: string): Promise<string[]> {
  return mountPointsBelow(await readMountInfo(), root);
}

/** Unmount everything an installer left mounted below `root` (proc, sys, dev binds ...). */
export async function unmountUnder(root: string): Promise<string[]> {
  const released: string[] = [];
  for (let round = 0; round < 5; round++) {
    const points = await mountsUnder(root);
    if (points.length === 0) return released;
    for (const p of points) {
      const bytes = Buffer.from(p, 'latin1'); // the mount point's own bytes, UTF-8 or not
      const r = await runTool('umount', [bytes], { allowFailure: true });
      if (r.status !== 0) await runTool('umount', ['--lazy', bytes], { allowFailure: true });
      released.push(p);
    }
  }
  const left = await mountsUnder(root);
  if (left.length > 0) throw new DomuError('INTERNAL', `could not unmount ${left.join(', ')}`);
  return released;
}
