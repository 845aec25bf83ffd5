// The first SIGINT/SIGTERM aborts the job (the process lives on to unwind its cleanup stack); the
// handlers go away when asked. Real signals, sent to this test process.
import { isMainThread } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { abortOnSignals } from '../../src/cli/signals.js';

const delivered = (sig: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    const probe = () => {
      process.off(sig, probe);
      resolve();
    };
    process.on(sig, probe);
    process.kill(process.pid, sig);
  });

// A signal goes to the whole process: only in a forked worker (vitest's default pool), never in a thread.
describe.skipIf(!isMainThread)('abortOnSignals', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} aborts the controller with a reason naming it`, async () => {
      const ac = new AbortController();
      const seen: string[] = [];
      const before = process.listenerCount(sig);
      const remove = abortOnSignals(ac, (s) => seen.push(s));
      expect(process.listenerCount(sig)).toBe(before + 1);
      await delivered(sig);
      expect(ac.signal.aborted).toBe(true);
      expect((ac.signal.reason as Error).message).toBe(`interrupted by ${sig}`);
      expect(seen).toEqual([sig]);
      remove();
      expect(process.listenerCount(sig)).toBe(before);
    });
  }

  it('once removed, a signal no longer reaches the controller', async () => {
    const ac = new AbortController();
    abortOnSignals(ac)();
    await delivered('SIGINT');
    expect(ac.signal.aborted).toBe(false);
  });
});
