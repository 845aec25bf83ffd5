// Reading and writing the guest's files during an install, as if chrooted: a symlink in the guest
// (/etc -> /host/etc) resolves inside the guest's root, never on the host. Also the mount table
// helpers that find and release what an installer left mounted under the root.

import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { DomuError } from '../errors.js';
import { runTool } from '../sys/exec.js';

/**
 * The host path of `guestPath` inside `root`, resolving symlinks the way the guest would see them
 * (absolute targets restart at the root, `..` stops at the root). The last component is resolved
 * too when it is a symlink; a missing component ends the walk (the rest is appended as is).
 */
export async function resolveInRoot(root: string, guestPath: string): Promise<string> {
  const base = path.resolve(root);
  let parts = guestPath.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = path.join(base, ...done, part);
    let st;
    try {
      st = await fsp.lstat(here);
    } catch {
      return path.join(base, ...done, part, ...parts.filter((p) => p !== '..'));
    }
    if (!st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++hops > 40) throw new DomuError('BAD_INPUT', `too many symlinks under ${guestPath} in ${root}`);
    const target = await fsp.readlink(here);
    const next = target.split('/').filter((p) => p !== '' && p !== '.');
    if (target.startsWith('/')) done.length = 0;
    parts = [...next, ...parts];
  }
  return path.join(base, ...done);
}

/** Write a guest file (mode 0644 unless it exists), creating missing parents, never through a symlink. */
export async function writeGuestFile(root: string, guestPath: string, content: string): Promise<void> {
  const file = await resolveInRoot(root, guestPath);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  const fh = await fsp.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
}

export async function readGuestFile(root: string, guestPath: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(await resolveInRoot(root, guestPath), 'utf8');
  } catch {
    return undefined;
  }
}

/** Remove a guest file (not a directory); returns whether it existed. A symlink itself is removed, not its target. */
export async function removeGuestFile(root: string, guestPath: string): Promise<boolean> {
  const dir = await resolveInRoot(root, path.posix.dirname(guestPath));
  const file = path.join(dir, path.posix.basename(guestPath));
  try {
    const st = await fsp.lstat(file);
    if (st.isDirectory()) return false;
    await fsp.unlink(file);
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

/** Mount points strictly below `root` (deepest first), from /proc/self/mountinfo. */
export async function mountsUnder(root: string): Promise<string[]> {
  const base = path.resolve(root);
  const info = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p.startsWith(`${base}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmount everything an installer left mounted below `root` (proc, sys, dev binds ...). */
export async function unmountUnder(root: string): Promise<string[]> {
  const released: string[] = [];
  for (let round = 0; round < 5; round++) {
    const points = await mountsUnder(root);
    if (points.length === 0) return released;
    for (const p of points) {
      const r = await runTool('umount', [p], { allowFailure: true });
      if (r.status !== 0) await runTool('umount', ['--lazy', p], { allowFailure: true });
      released.push(p);
    }
  }
  const left = await mountsUnder(root);
  if (left.length > 0) throw new DomuError('INTERNAL', `could not unmount ${left.join(', ')}`);
  return released;
}
