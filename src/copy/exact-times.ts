// Nanosecond timestamps. Node's utimes keeps microseconds (libuv truncates), so entries whose mtime
// has digits below the microsecond get their exact times in one last pass by python3's os.utime
// (utimensat with AT_SYMLINK_NOFOLLOW), fed NUL-separated records on stdin: one process per run.
// dpkg-installed files have whole-second mtimes, so on a Dom0 this is mostly directories.

import { spawn } from 'node:child_process';

const SCRIPT = `
import os, sys
root = os.fsencode(sys.argv[1]).rstrip(b'/') + b'/'
f = sys.stdin.buffer.read().split(b'\\0')
bad = 0
for i in range(0, len(f) - 2, 3):
    p = root + f[i]
    try:
        os.utime(p, ns=(int(f[i + 1]), int(f[i + 2])), follow_symlinks=False)
    except OSError as e:
        bad += 1
        if bad <= 20:
            sys.stderr.write('utime %r: %s\\n' % (f[i], e.strerror))
`;

/** Whether this timestamp loses digits when set through Node's utimes. */
export function needsExactTime(ns: bigint): boolean {
  return ns % 1000n !== 0n;
}

/**
 * Set exact atime and mtime on each record's path (relative to `root`, latin1). Returns warnings;
 * without python3 the microsecond times stay and one warning says so.
 */
export function setExactTimes(root: string, records: readonly string[]): Promise<string[]> {
  if (records.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', SCRIPT, root], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('latin1');
    child.stderr.on('data', (s: string) => (stderr += s));
    child.on('error', () => resolve([`python3 is not installed: ${records.length / 3} timestamps kept to the microsecond only (apt-get install python3)`]));
    child.on('close', (code) => {
      const lines = stderr.split('\n').filter(Boolean).map((l) => `exact times: ${l}`);
      if (code !== 0 && lines.length === 0) lines.push(`exact times: python3 exited with status ${code}`);
      resolve(lines);
    });
    child.stdin.on('error', () => undefined);
    const parts: Buffer[] = [];
    for (let i = 0; i < records.length; i++) parts.push(Buffer.from(records[i]!, 'latin1'), Buffer.from([0]));
    child.stdin.end(Buffer.concat(parts));
  });
}
