// The install root's life cycle: it must start empty (or hold our own half-finished install, which
// is cleared), carries a marker while the install runs, and must have room for what goes in.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DomuError, errnoCode } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { unmountUnder } from './guest-files.js';
import { setTimesNs } from '../sys/times.js';
import type { InstallLog } from './progress.js';
import { formatMiB } from './util.js';

/** Present at the top of the root from the start of an install until it has finished. */
export const INCOMPLETE_MARKER = '.domu-forge-install-incomplete';

/**
 * Check that `root` is a directory we may install into and mark it as being installed. An empty
 * directory (or one holding only an empty lost+found) is fine; so is the leftover of an
 * interrupted install of ours, which is cleared first. Anything else is refused.
 */
export async function claimRoot(root: string, log: InstallLog): Promise<{ cleared: boolean }> {
  let entries: string[];
  try {
    const st = await fsp.stat(root);
    if (!st.isDirectory()) throw new DomuError('BAD_INPUT', `install target ${root} is not a directory`);
    entries = await fsp.readdir(root);
  } catch (e) {
    if (e instanceof DomuError) throw e;
    if (errnoCode(e) === 'ENOENT') {
      await fsp.mkdir(root, { recursive: true, mode: 0o755 });
      entries = [];
    } else throw new DomuError('BAD_INPUT', `cannot read install target ${root}: ${errnoCode(e) ?? String(e)}`);
  }
  const lostFound = entries.includes('lost+found') && (await fsp.readdir(path.join(root, 'lost+found'))).length === 0;
  const others = entries.filter((e) => !(e === 'lost+found' && lostFound));
  let cleared = false;
  if (others.includes(INCOMPLETE_MARKER)) {
    log.note(`clearing the leftovers of an interrupted install in ${root}`);
    await unmountUnder(root);
    const rest = others.filter((e) => e !== INCOMPLETE_MARKER).map((e) => path.join(root, e));
    // --one-file-system: never cross into anything still mounted below the root
    if (rest.length > 0) await runTool('rm', ['-rf', '--one-file-system', '--', ...rest]);
    cleared = true;
  } else if (others.length > 0) {
    throw new DomuError('BAD_INPUT', `install target ${root} is not empty (${others.length} entries, e.g. ${others.slice(0, 3).join(', ')})`, {
      hint: 'install into an empty directory or a freshly made image/volume',
    });
  }
  await fsp.writeFile(path.join(root, INCOMPLETE_MARKER), `domu-forge install started ${new Date().toISOString()} by pid ${process.pid}\n`);
  return { cleared };
}

/** Remove the marker, keeping the root directory's times as the install left them (so reruns compare equal). */
export async function releaseRoot(root: string): Promise<void> {
  const st = await fsp.stat(root, { bigint: true });
  await fsp.rm(path.join(root, INCOMPLETE_MARKER), { force: true });
  await setTimesNs(root, st.atimeNs, st.mtimeNs);
}

/** Free bytes (for root) on the filesystem holding `root`. */
export async function freeBytes(root: string): Promise<number> {
  const s = await fsp.statfs(root);
  return s.bavail * s.bsize;
}

/** Refuse early when the target cannot hold the install. */
export async function checkSpace(root: string, needBytes: number, what: string): Promise<void> {
  const free = await freeBytes(root);
  if (free < needBytes) {
    throw new DomuError('ENVIRONMENT', `install target ${root} has ${formatMiB(free)} free; ${what} needs about ${formatMiB(needBytes)}`, {
      hint: 'make the target larger (e.g. --size 2G) or install fewer packages',
    });
  }
}

/** A tool failed: when the target is (nearly) full, say so instead of the tool's last words. */
export async function spaceError(root: string, tail: readonly string[]): Promise<DomuError | undefined> {
  const text = tail.join('\n');
  let free = Number.POSITIVE_INFINITY;
  try {
    free = await freeBytes(root);
  } catch {
    // root gone: fall through to the text check
  }
  if (/No space left on device|more space needed on the|ENOSPC/i.test(text) || free < 1024 * 1024) {
    return new DomuError('ENVIRONMENT', `install target ${root} ran out of space (${formatMiB(free)} free)`, {
      hint: 'make the target larger (e.g. --size 2G) and run the same command again',
    });
  }
  return undefined;
}
