// A worker task for verify: byte-compare a batch of regular files of equal size, with synchronous
// reads into one reused buffer (no thread-pool round trip per call). Returns plain data; errors
// cross the thread boundary as { rel, message }.

import { closeSync, constants, openSync, readSync } from 'node:fs';

export interface CompareBatch {
  source: string;
  target: string;
  /** [rel (latin1), size] pairs. */
  items: Array<[string, number]>;
}

export interface CompareResult {
  different: string[];
  errors: Array<{ rel: string; message: string }>;
  bytes: number;
}

const CHUNK = 1 << 20;
let bufA: Buffer | undefined;
let bufB: Buffer | undefined;

function pathIn(root: string, rel: string): Buffer {
  return Buffer.from(root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`, 'latin1');
}

function same(a: Buffer, b: Buffer): boolean {
  bufA ??= Buffer.allocUnsafe(CHUNK);
  bufB ??= Buffer.allocUnsafe(CHUNK);
  // O_NOFOLLOW: an entry that turned into a symlink since the walk is not followed
  const fa = openSync(a, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const fb = openSync(b, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for (;;) {
        const na = readSync(fa, bufA, 0, CHUNK, null);
        let nb = 0;
        while (nb < na) {
          const n = readSync(fb, bufB, nb, na - nb, null);
          if (n === 0) break;
          nb += n;
        }
        if (na !== nb) return false;
        if (na === 0) return readSync(fb, bufB, 0, 1, null) === 0;
        if (bufA.compare(bufB, 0, nb, 0, na) !== 0) return false;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

export default function compareBatch(batch: CompareBatch): CompareResult {
  const result: CompareResult = { different: [], errors: [], bytes: 0 };
  for (const [rel, size] of batch.items) {
    try {
      if (!same(pathIn(batch.source, rel), pathIn(batch.target, rel))) result.different.push(rel);
    } catch (e) {
      result.errors.push({ rel, message: (e as Error).message.split('\n')[0]! });
    }
    result.bytes += size;
  }
  return result;
}
