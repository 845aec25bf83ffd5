// The mount table, from /proc/self/mountinfo. Read as latin1 so that a mount point whose name is
// not UTF-8 keeps every byte; the kernel's octal escapes (\040 for a space, ...) are undone.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export interface MountEntry {
  /** major:minor of the mounted filesystem's device */
  dev: string;
  /** latin1: one character per byte of the path */
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undo the octal escapes of mountinfo (\040 for space, \134 for backslash, ...). */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse the text of a mountinfo file (latin1-decoded). Malformed lines are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    out.push({ dev: f[2]!, mountPoint: unescapeMountField(f[4]!), fsType: f[sep + 1]!, source: unescapeMountField(f[sep + 2]!) });
  }
  return out;
}

export async function readMountInfo(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'latin1'));
}

/** Mounts at or below `dir` (a latin1 path string). */
export async function mountsAtOrUnder(dir: string): Promise<MountEntry[]> {
  const d = resolve(dir);
  return (await readMountInfo()).filter((m) => m.mountPoint === d || m.mountPoint.startsWith(`${d}/`));
}

/** The distinct mount points strictly below `dir`, deepest first (the order to unmount them in). */
export function mountPointsBelow(entries: readonly MountEntry[], dir: string): string[] {
  const d = resolve(dir);
  const points = entries.map((m) => m.mountPoint).filter((p) => p.startsWith(`${d}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}
