// Regular files: content (sparse files keep their holes), then owner, mode, times, all on the
// open descriptor of a file we created with O_EXCL, so nothing in the target is ever followed.

import {
  closeSync, constants, copyFileSync, fchmodSync, fchownSync, fstatSync, futimesSync,
  lstatSync, openSync, readSync, writeSync, type BigIntStats,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { utimeArg } from './times.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY } = constants;
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** Files up to this size are read into memory and written in one go; larger ones use copy_file_range. */
export const SMALL_FILE_LIMIT = 256 * 1024;

let buffer = Buffer.allocUnsafe(SMALL_FILE_LIMIT + 1);

export type ContentChange = 'grew' | 'shrank' | 'modified' | undefined;

export interface CopyContext {
  /** The target was empty at the start: a new file is owned by root:root until chowned. */
  fresh: boolean;
  /** The process umask, which open() applies to the mode of a new file. */
  umask: number;
  /** The nanosecond pass will set this file's times: skip setting them here. */
  timesLater?: boolean;
}

/**
 * Owner, mode and times on the open target. Skips the calls that would change nothing: chown to
 * root:root of a file root just made, chmod when open() already gave the exact mode.
 */
function applyMeta(fd: number, st: BigIntStats, ctx: CopyContext, createdMode: number): void {
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const mode = Number(st.mode) & 0o7777;
  if (!(ctx.fresh && uid === 0 && gid === 0)) {
    fchownSync(fd, uid, gid);
    createdMode &= ~0o6000; // chown clears setuid/setgid (and file capabilities, restored with the xattrs)
  }
  if (createdMode !== mode) fchmodSync(fd, mode);
  if (!ctx.timesLater) futimesSync(fd, utimeArg(st.atimeNs), utimeArg(st.mtimeNs));
}

/**
 * Copy the regular file `src` (whose lstat is `st`) to the new path `dst`.
 * Returns how the source changed while we copied it, if it did.
 */
export function copyRegular(src: string | Buffer, dst: string | Buffer, st: BigIntStats, ctx: CopyContext): ContentChange {
  const size = Number(st.size);
  const sparse = size > 0 && st.blocks * 512n < st.size;
  if (size <= SMALL_FILE_LIMIT && !sparse) return copySmall(src, dst, st, size, ctx);
  if (sparse) return copySparse(src, dst, st, size, ctx);
  return copyLarge(src, dst, st, size, ctx);
}

function copySmall(src: string | Buffer, dst: string | Buffer, st: BigIntStats, size: number, ctx: CopyContext): ContentChange {
  if (buffer.length < size + 1) buffer = Buffer.allocUnsafe(size + 1);
  const sfd = openSync(src, O_RDONLY | O_NOFOLLOW);
  let got = 0;
  try {
    // Ask for one byte more than expected, to notice a file that grew. A regular file returns
    // what it has in one read; only a short read (it shrank, or a special filesystem) reads on.
    for (;;) {
      const n = readSync(sfd, buffer, got, size + 1 - got, null);
      got += n;
      if (n === 0 || got >= size) break;
    }
  } finally {
    closeSync(sfd);
  }
  const perm = Number(st.mode) & 0o777;
  const dfd = openSync(dst, CREATE_FLAGS, perm);
  try {
    const len = Math.min(got, size);
    let off = 0;
    while (off < len) off += writeSync(dfd, buffer, off, len - off);
    applyMeta(dfd, st, ctx, perm & ~ctx.umask);
  } finally {
    closeSync(dfd);
  }
  if (got > size) return 'grew';
  if (got < size) return 'shrank';
  return undefined;
}

function copyLarge(src: string | Buffer, dst: string | Buffer, st: BigIntStats, size: number, ctx: CopyContext): ContentChange {
  // copyFileSync runs in the kernel (copy_file_range or sendfile); COPYFILE_EXCL means O_EXCL.
  copyFileSync(src, dst, constants.COPYFILE_EXCL);
  const dfd = openSync(dst, O_WRONLY | O_NOFOLLOW);
  let copied: number;
  try {
    copied = fstatSync(dfd).size;
    applyMeta(dfd, st, ctx, Number(st.mode) & 0o7777); // copyFileSync set the source's mode
  } finally {
    closeSync(dfd);
  }
  if (copied > size) return 'grew';
  if (copied < size) return 'shrank';
  const after = lstatSync(src, { bigint: true, throwIfNoEntry: false });
  if (!after) return 'modified';
  if (after.mtimeNs !== st.mtimeNs || after.size !== st.size) return 'modified';
  return undefined;
}

/**
 * Sparse files: Node has no lseek(SEEK_DATA/SEEK_HOLE), so GNU cp, which walks the data extents,
 * writes the content, holes kept; names go through xargs -0 so any bytes survive. Sparse files
 * are rare in a root tree, so this is one process per such file, not per file.
 */
function copySparse(src: string | Buffer, dst: string | Buffer, st: BigIntStats, size: number, ctx: CopyContext): ContentChange {
  const r = spawnSync('xargs', ['-0', '-n', '2', 'cp', '--sparse=always', '--no-dereference', '--'], {
    input: Buffer.concat([Buffer.from(src), Buffer.from([0]), Buffer.from(dst), Buffer.from([0])]),
  });
  if (r.status !== 0) {
    const err = new Error(`cp --sparse failed: ${r.stderr?.toString().trim() || r.error?.message}`) as NodeJS.ErrnoException;
    err.code = /No space/.test(r.stderr?.toString() ?? '') ? 'ENOSPC' : 'EIO';
    throw err;
  }
  const dfd = openSync(dst, O_WRONLY | O_NOFOLLOW);
  let copied: number;
  try {
    const cur = fstatSync(dfd);
    copied = cur.size;
    applyMeta(dfd, st, ctx, cur.mode & 0o7777);
  } finally {
    closeSync(dfd);
  }
  if (copied > size) return 'grew';
  if (copied < size) return 'shrank';
  return undefined;
}
