// Whether a process still runs. kill(pid, 0) alone says yes for a zombie: a process that has exited
// but that its parent has not reaped yet. A daemon (qemu-storage-daemon --daemonize) is reparented
// to PID 1, and a PID 1 that reaps slowly (the init of a microVM here took about 1.5 s) would keep
// anyone waiting for it to be gone waiting that long. /proc/PID/stat's state field tells a zombie
// ("Z") or a dead task ("X") from a live one.

import { readFileSync } from 'node:fs';

/** The process `pid` exists and has not exited (EPERM: it exists under another user, so it runs). */
export function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !exited(pid);
}

/** The state letter in /proc/PID/stat is Z or X (the command name before it is in parentheses and may hold any byte). */
function exited(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false; // no /proc: kill's answer stands
  }
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state === 'Z' || state === 'X';
}
