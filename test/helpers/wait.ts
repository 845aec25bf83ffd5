// Small waits the service tests share: a free loopback port, and polling until a condition holds.
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 now (for a server the test starts). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** Poll `cond` every 200 ms until it holds; after `limitMs`, fail naming `what`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, limitMs = 120_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
