// The file writers of an extraction (extract-writers.ts): each task is a batch of files the main
// thread has already created (the open that checks the name and never follows a symlink is its),
// given as open descriptors, which threads of one process share. The worker reads each file's data
// from the archive at its offset, writes it (all-zero megabytes left as holes, as the main thread
// does), sets the owner, then the mode (chown clears set-id bits), and closes the file.

import { closeSync, fchmodSync, fchownSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import type { WriteBatch, WriteBatchResult } from './extract-writers.js';

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);
let buf: Buffer | undefined;

export default function writeBatch(batch: WriteBatch): WriteBatchResult {
  buf ??= Buffer.allocUnsafe(CHUNK);
  let failure: WriteBatchResult['error'];
  for (const f of batch.files) {
    try {
      if (failure === undefined) writeOne(batch.archive, f, buf);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      failure = { code: err.code ?? 'EIO', message: err.message };
    } finally {
      try {
        closeSync(f.fd);
      } catch {
        /* closed: nothing more to do with it */
      }
    }
  }
  return failure ? { error: failure } : {};
}

function writeOne(archive: number, f: WriteBatch['files'][number], b: Buffer): void {
  let pos = 0;
  let holes = false;
  while (pos < f.size) {
    const want = Math.min(f.size - pos, CHUNK);
    let got = 0;
    while (got < want) {
      const n = readSync(archive, b, got, want - got, f.at + pos + got);
      if (n === 0) throw Object.assign(new Error('the archive is truncated (it ends inside an entry, or it changed after it was checked)'), { code: 'TRUNCATED' });
      got += n;
    }
    const chunk = b.subarray(0, want);
    if (chunk.equals(ZEROS.subarray(0, want))) holes = true;
    else {
      let off = 0;
      while (off < want) off += writeSync(f.fd, chunk, off, want - off, pos + off);
    }
    pos += want;
  }
  if (holes) ftruncateSync(f.fd, pos);
  fchownSync(f.fd, f.uid, f.gid);
  fchmodSync(f.fd, f.mode);
}
