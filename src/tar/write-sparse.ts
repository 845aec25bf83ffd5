// Files with holes, for the writer: where the data lies (4 KiB blocks that are not all zeros,
// merged into segments), as GNU sparse 1.0 stores it. Node has no SEEK_DATA, so the file is read.

import { readSync } from 'node:fs';
import { sparseMap } from './format.js';

const CHUNK = 1 << 20;
const SPARSE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);
const ZERO_CHUNK = Buffer.alloc(CHUNK);

export interface SparseLayout {
  /** The map as GNU sparse 1.0 writes it, padded to whole blocks. */
  map: Buffer;
  /** [offset, size] of each data segment, in order. */
  segments: Array<[number, number]>;
  /** Bytes stored for the entry: the map and the data. */
  stored: number;
}

/** Whether a file of this size and these 512-byte blocks is worth looking at for holes. */
export function mayHaveHoles(size: bigint, blocks: bigint): boolean {
  return size >= 65536n && blocks * 512n < size;
}

/**
 * The data segments of the open file `fd` of `size` bytes, and a last empty segment at the end
 * when the file ends in a hole (as GNU tar writes it). Undefined when it has no holes after all.
 */
export function sparseLayout(fd: number, size: number): SparseLayout | undefined {
  const segments: Array<[number, number]> = [];
  const buf = Buffer.allocUnsafe(CHUNK);
  let at = 0;
  let start = -1;
  while (at < size) {
    const want = Math.min(CHUNK, size - at);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, buf, got, want - got, at + got);
      if (n === 0) break;
      got += n;
    }
    if (got < want) buf.fill(0, got, want); // shrank meanwhile: the copy lists it
    if (buf.compare(ZERO_CHUNK, 0, want, 0, want) === 0) {
      // a whole chunk of zeros (the common case in a hole): one comparison instead of 256
      if (start >= 0) {
        segments.push([start, at - start]);
        start = -1;
      }
      at += want;
      continue;
    }
    for (let off = 0; off < want; off += SPARSE_BLOCK) {
      const len = Math.min(SPARSE_BLOCK, want - off);
      const zero = buf.compare(ZERO_BLOCK, 0, len, off, off + len) === 0;
      if (!zero && start < 0) start = at + off;
      if (zero && start >= 0) {
        segments.push([start, at + off - start]);
        start = -1;
      }
    }
    at += want;
  }
  if (start >= 0) segments.push([start, size - start]);
  const dataBytes = segments.reduce((a, [, n]) => a + n, 0);
  if (dataBytes === size) return undefined;
  const last = segments[segments.length - 1];
  if (!last || last[0] + last[1] < size) segments.push([size, 0]);
  const map = sparseMap(segments);
  return { map, segments, stored: map.length + dataBytes };
}
