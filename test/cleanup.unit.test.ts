// The cleanup stack: undo steps run newest first, a failing step does not stop the others, a dropped
// step does not run, and concurrent runs share one pass.
import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../src/cleanup.js';

describe('CleanupStack', () => {
  it('runs the steps newest first and empties itself', async () => {
    const s = new CleanupStack();
    const ran: string[] = [];
    s.push('unmount', () => void ran.push('unmount'));
    s.push('detach', async () => {
      await new Promise((r) => setImmediate(r));
      ran.push('detach');
    });
    s.push('remove', () => void ran.push('remove'));
    expect(s.size).toBe(3);
    expect(await s.runAll()).toEqual([]);
    expect(ran).toEqual(['remove', 'detach', 'unmount']);
    expect(s.size).toBe(0);
    expect(await s.runAll()).toEqual([]);
    expect(ran).toHaveLength(3);
  });

  it('a failing step is reported with its label and the rest still run', async () => {
    const s = new CleanupStack();
    const ran: string[] = [];
    s.push('first', () => void ran.push('first'));
    s.push('detach /dev/loop9', () => {
      throw new Error('device busy');
    });
    s.push('reject', () => Promise.reject('plain string'));
    s.push('last', () => void ran.push('last'));
    expect(await s.runAll()).toEqual(['reject: plain string', 'detach /dev/loop9: device busy']);
    expect(ran).toEqual(['last', 'first']);
  });

  it('a dropped step does not run; dropping twice is harmless and drops only that step', async () => {
    const s = new CleanupStack();
    const ran: string[] = [];
    const run = (n: string) => () => void ran.push(n);
    s.push('a', run('a'));
    const dropB = s.push('b', run('b'));
    s.push('c', run('c'));
    dropB();
    dropB();
    expect(s.size).toBe(2);
    await s.runAll();
    expect(ran).toEqual(['c', 'a']);
  });

  it('concurrent calls share one run; steps pushed while running are run too', async () => {
    const s = new CleanupStack();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    s.push('late', () => void calls++);
    s.push('slow', async () => {
      calls++;
      s.push('pushed during run', () => void calls++);
      await gate;
    });
    const a = s.runAll();
    const b = s.runAll();
    expect(b).toBe(a);
    release();
    expect(await a).toEqual([]);
    expect(calls).toBe(3);
    // after the shared run is over, a new call starts a new one
    s.push('again', () => void calls++);
    await s.runAll();
    expect(calls).toBe(4);
  });
});
