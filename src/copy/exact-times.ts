// Nanosecond timestamps. Node's utimes keeps microseconds (libuv truncates), so entries whose mtime
// has digits below the microsecond get their exact times from one python3 process for the whole run
// (os.utime, i.e. utimensat with AT_SYMLINK_NOFOLLOW), fed NUL-separated records on stdin while the
// copy goes on: files and symlinks as their batches finish, directories after their metadata, last.
// dpkg-installed files have whole-second mtimes, so on a Dom0 this is mostly directories.

import { spawn, type ChildProcess } from 'node:child_process';
import { python3 } from '../sys/exec.js';

const SCRIPT = `
import os, sys
root = os.fsencode(sys.argv[1]).rstrip(b'/') + b'/'
inp = sys.stdin.buffer
buf = b''
bad = 0
while True:
    chunk = inp.read1(1 << 16)
    if not chunk:
        break
    parts = (buf + chunk).split(b'\\0')
    n = (len(parts) - 1) // 3 * 3
    for i in range(0, n, 3):
        try:
            os.utime(root + parts[i], ns=(int(parts[i + 1]), int(parts[i + 2])), follow_symlinks=False)
        except OSError as e:
            bad += 1
            if bad <= 20:
                sys.stderr.write('utime %r: %s\\n' % (parts[i], e.strerror))
    buf = b'\\0'.join(parts[n:])
`;

/** Whether this timestamp loses digits when set through Node's utimes. */
export function needsExactTime(ns: bigint): boolean {
  return ns % 1000n !== 0n;
}

export class ExactTimes {
  private readonly child: ChildProcess;
  private readonly done: Promise<string[]>;
  private missing = false;
  count = 0;
  /** python3 is there: the workers may leave sub-microsecond times to this pass. */
  readonly available = python3() !== null;

  constructor(root: string) {
    this.child = spawn(python3() ?? 'python3', ['-c', SCRIPT, root], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr!.setEncoding('latin1');
    this.child.stderr!.on('data', (s: string) => (stderr += s));
    this.child.stdin!.on('error', () => undefined);
    this.done = new Promise((resolve) => {
      this.child.on('error', () => {
        this.missing = true;
        resolve([]);
      });
      this.child.on('close', (code) => {
        const lines = stderr.split('\n').filter(Boolean).map((l) => `exact times: ${l}`);
        if (code !== 0 && lines.length === 0) lines.push(`exact times: python3 exited with status ${code}`);
        resolve(lines);
      });
    });
  }

  /** Queue flat records: rel (latin1), atime ns, mtime ns, ... */
  add(records: readonly string[]): void {
    if (records.length === 0) return;
    this.count += records.length / 3;
    let text = '';
    for (const r of records) text += `${r}\0`;
    this.child.stdin!.write(text, 'latin1');
  }

  /** Close the input and wait; returns warnings (python3 missing: times kept to the microsecond). */
  async finish(): Promise<string[]> {
    this.child.stdin!.end();
    const warnings = await this.done;
    if (this.missing) return [`python3 is not installed: ${this.count} timestamps kept to the microsecond only (apt-get install python3)`];
    return warnings;
  }

  kill(): void {
    this.child.kill();
  }
}
