// Read-ahead for cold caches: helper threads read the files of the batches waiting for a copy
// worker, so more reads are in flight than the workers' own synchronous ones (Node has no
// posix_fadvise; a plain read puts the data in the page cache). Each helper reads the first
// 256 KiB of a file (a small file whole) into a scratch buffer and throws it away. When the cache
// is warm the reads return at once; after a run of fast reads a helper skips the rest of its list,
// so a warm copy pays for a few reads a batch only.

import { Worker } from 'node:worker_threads';
import { joinRoot } from '../walk/walk.js';

const HELPER = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync, constants } = require('node:fs');
const buf = Buffer.allocUnsafe(256 * 1024);
const FAST_NS = 30000n;
const WARM_AFTER = 16;
parentPort.on('message', (u8) => {
  const all = Buffer.from(u8.buffer, u8.byteOffset, u8.length);
  const paths = [];
  for (let i = 0, j; i < all.length; i = j + 1) {
    j = all.indexOf(0, i);
    if (j < 0) j = all.length;
    paths.push(all.subarray(i, j));
  }
  let fast = 0;
  for (const p of paths) {
    const t0 = process.hrtime.bigint();
    try {
      const fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try { readSync(fd, buf, 0, buf.length, 0); } finally { closeSync(fd); }
    } catch { /* vanished, a symlink, unreadable: the copy reports it */ }
    if (process.hrtime.bigint() - t0 < FAST_NS) { if (++fast >= WARM_AFTER) break; } else fast = 0;
  }
});
`;

export class ReadAhead {
  private readonly helpers: Worker[];
  private next = 0;

  constructor(private readonly source: string, threads: number) {
    this.helpers = Array.from({ length: threads }, () => {
      const w = new Worker(HELPER, { eval: true });
      w.unref();
      w.on('error', () => undefined); // a helper that fails only stops reading ahead
      return w;
    });
  }

  /** Queue the regular files among a batch's names (kinds: 'f' file, 'l' symlink) for reading. */
  read(rels: readonly string[], kinds: string): void {
    if (this.helpers.length === 0) return;
    const parts: Buffer[] = [];
    const nul = Buffer.from([0]);
    for (let i = 0; i < rels.length; i++) if (kinds[i] === 'f') parts.push(joinRoot(this.source, rels[i]!), nul);
    if (parts.length === 0) return;
    const all = Buffer.concat(parts);
    const w = this.helpers[this.next++ % this.helpers.length]!;
    w.postMessage(all, [all.buffer as ArrayBuffer]);
  }

  async close(): Promise<void> {
    await Promise.all(this.helpers.map((w) => w.terminate()));
  }
}
