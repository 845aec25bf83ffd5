// The same copy of files and symlinks as the synchronous path, with asynchronous fs calls and many
// in flight on libuv's thread pool (shared by all workers: UV_THREADPOOL_SIZE). Kept so the two
// can be compared (bench/clone.ts, `--io async`); on the reference machine sync measured faster warm.

import { constants } from 'node:fs';
import { lchown, lstat, lutimes, open, readlink, symlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import pLimit from 'p-limit';
import { copyRegular, SMALL_FILE_LIMIT } from './regular.js';
import { utimeArg } from './times.js';
import { needsExactTime } from './exact-times.js';
import { joinRoot } from '../walk/walk.js';
import { newResult, type BatchResult, type CopyBatch } from './types.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY } = constants;

async function copyFileAsync(src: Buffer, dst: Buffer, st: BigIntStats, batch: CopyBatch): Promise<string | undefined> {
  const size = Number(st.size);
  const sparse = size > 0 && st.blocks * 512n < st.size;
  if (size > SMALL_FILE_LIMIT || sparse) return copyRegular(src, dst, st, { fresh: batch.mode === 'fresh', umask: batch.umask });
  const buf = Buffer.allocUnsafe(size + 1);
  const sfh = await open(src, O_RDONLY | O_NOFOLLOW);
  let got = 0;
  try {
    for (;;) {
      const { bytesRead } = await sfh.read(buf, got, size + 1 - got, null);
      got += bytesRead;
      if (bytesRead === 0 || got >= size) break;
    }
  } finally {
    await sfh.close();
  }
  const perm = Number(st.mode) & 0o777;
  const dfh = await open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, perm);
  try {
    await dfh.write(buf, 0, Math.min(got, size));
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    let created = perm & ~batch.umask;
    if (!(batch.mode === 'fresh' && uid === 0 && gid === 0)) {
      await dfh.chown(uid, gid);
      created &= ~0o6000;
    }
    if (created !== (Number(st.mode) & 0o7777)) await dfh.chmod(Number(st.mode) & 0o7777);
    await dfh.utimes(utimeArg(st.atimeNs), utimeArg(st.mtimeNs));
  } finally {
    await dfh.close();
  }
  return got > size ? 'grew' : got < size ? 'shrank' : undefined;
}

/** Fresh targets only: the update checks stay on the synchronous path. */
export async function copyEntriesAsync(batch: CopyBatch, inFlight: number, out = newResult()): Promise<BatchResult> {
  const limit = pLimit(inFlight);
  await Promise.all(batch.rels.map((rel) => limit(async () => {
    const src = joinRoot(batch.source, rel);
    const dst = joinRoot(batch.target, rel);
    try {
      const st = await lstat(src, { bigint: true }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (!st) {
        out.changed.push({ path: rel, code: 'VANISHED', message: 'vanished before it was copied' });
        return;
      }
      if (st.isFile()) {
        if (st.nlink > 1n) {
          out.deferred.push({ rel, key: `${st.dev}:${st.ino}` });
          return;
        }
        const change = await copyFileAsync(src, dst, st, batch);
        if (change) out.changed.push({ path: rel, code: change.toUpperCase(), message: `${change} while being copied` });
        out.copied.file += 1;
        out.bytes += Number(st.size);
        if (needsExactTime(st.mtimeNs)) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
      } else if (st.isSymbolicLink()) {
        await symlink(await readlink(src, { encoding: 'buffer' }), dst);
        if (st.uid !== 0n || st.gid !== 0n) await lchown(dst, Number(st.uid), Number(st.gid));
        await lutimes(dst, utimeArg(st.atimeNs), utimeArg(st.mtimeNs));
        out.copied.symlink += 1;
        if (needsExactTime(st.mtimeNs)) out.exactTimes.push(rel, String(st.atimeNs), String(st.mtimeNs));
      } else {
        out.changed.push({ path: rel, code: 'CHANGED_KIND', message: 'changed kind during the run' });
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      out.errors.push({ path: rel, code: err.code ?? 'EIO', message: (err.message ?? String(e)).split('\n')[0]! });
    }
  })));
  return out;
}
