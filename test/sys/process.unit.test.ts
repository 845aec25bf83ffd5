import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processRuns } from '../../src/sys/process.js';

/** A child's own child that has exited and is never reaped: `sleep 30` (exec'd over the shell) is its parent. */
async function zombie(): Promise<{ pid: number; stop: () => void }> {
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  // the shell's child runs `sleep 0`; wait until it has exited and stays a zombie
  for (let i = 0; i < 200; i++) {
    let state = '';
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      /* not there yet */
    }
    if (state.charAt(state.lastIndexOf(')') + 2) === 'Z') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid, stop: () => void parent.kill() };
}

describe('processRuns', () => {
  it('is true for this process and a running child, false once the child has exited', async () => {
    expect(processRuns(process.pid)).toBe(true);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    expect(processRuns(child.pid!)).toBe(true);
    child.kill();
    await once(child, 'exit');
    expect(processRuns(child.pid!)).toBe(false);
  });

  it('is false for a zombie, which kill(pid, 0) still finds', async () => {
    const z = await zombie();
    try {
      expect(() => process.kill(z.pid, 0)).not.toThrow();
      expect(processRuns(z.pid)).toBe(false);
    } finally {
      z.stop();
    }
  });

  it('is false for pids that cannot be a process', () => {
    expect(processRuns(0)).toBe(false);
    expect(processRuns(-1)).toBe(false);
    expect(processRuns(Number.NaN)).toBe(false);
  });
});
