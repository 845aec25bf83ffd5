// Nanosecond timestamps on a path. Node's utimes takes seconds as a double, which cannot hold
// nanoseconds, so `touch -d @SEC.NSEC` sets them (one call for mtime, one for atime).

import { runTool, type ToolArg } from './exec.js';

/** A time in nanoseconds as whole seconds (floored, also before 1970) and the nanoseconds after them. */
export function splitNs(ns: bigint): { sec: bigint; nsec: bigint } {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return { sec, nsec };
}

/**
 * touch's date for a time in nanoseconds since the epoch: "@SEC.NNNNNNNNN". touch reads the whole
 * string as one signed decimal, so a time before 1970 is written "-" and its magnitude.
 */
export function touchDate(ns: bigint): string {
  const abs = ns < 0n ? -ns : ns;
  return `@${ns < 0n ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/**
 * Set a path's atime and mtime to the nanosecond. `noDereference`: a symlink's own times (touch -h);
 * otherwise the times of what it points at. A missing path is left missing (touch -c).
 */
export async function setTimesNs(path: ToolArg, atimeNs: bigint, mtimeNs: bigint, options: { noDereference?: boolean } = {}): Promise<void> {
  const h = options.noDereference ? ['-h'] : [];
  await runTool('touch', [...h, '-c', '-m', '-d', touchDate(mtimeNs), '--', path]);
  await runTool('touch', [...h, '-c', '-a', '-d', touchDate(atimeNs), '--', path]);
}
