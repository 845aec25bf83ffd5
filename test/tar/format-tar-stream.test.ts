// Archives written by another implementation: tar-stream (npm), the JavaScript tar writer many Node
// tools build rootfs tarballs with (and that domu-forge's own reader and writer replaced). Its ustar
// with pax extended headers where it writes them (long names and link targets as path/linkpath, xattrs
// given as SCHILY.xattr records), non-ASCII names, ids too big for ustar's field as tar-stream writes
// them, hard links, symlinks and fifos (devices need --trusted: tar-in.test.ts), extracted by GNU tar
// and by unpack and compared with rsync -aHAXc.

import { afterAll, describe, expect, it } from 'vitest';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { scratchDir } from '../helpers/run.js';
import { compareWithGnuTarJson } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-tarstream');
afterAll(() => scratch.cleanup());

const mtime = new Date('2004-05-06T07:08:09.250Z');

async function write(archive: string, entries: Array<[tar.Headers, Buffer?]>): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(archive));
  for (const [h, body] of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (body) pack.entry(h, body, cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await done;
}

describe("tar-stream's archives (root)", () => {
  it('ustar with pax headers: long and non-ASCII names, big ids, xattrs, links and a fifo', async () => {
    const archive = join(scratch.dir, 'pax.tar');
    const deep = `usr/${'long-directory-name-'.repeat(6)}/${'file-'.repeat(30)}end`;
    const body = Buffer.from('payload\n'.repeat(1000));
    await write(archive, [
      // the root's own entry, as a tree packed from its top has it (without it, the target's own time is the extraction's)
      [{ name: './', type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 }],
      [{ name: 'usr', type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 }],
      [{ name: `usr/${'long-directory-name-'.repeat(6)}`, type: 'directory', mode: 0o750, mtime, uid: 0, gid: 0 }],
      [{ name: deep, type: 'file', mode: 0o644, mtime, uid: 3_000_000, gid: 3_000_001, size: body.length }, body],
      [{ name: 'usr/caf\u00e9-na\u00efve', type: 'file', mode: 0o600, mtime, uid: 1234, gid: 2345, size: 3 }, Buffer.from('abc')],
      [{ name: 'usr/noted', type: 'file', mode: 0o640, mtime, uid: 0, gid: 0, size: 2, pax: { 'SCHILY.xattr.user.note': 'from tar-stream' } }, Buffer.from('ok')],
      [{ name: 'usr/setuid', type: 'file', mode: 0o4755, mtime, uid: 0, gid: 0, size: 1 }, Buffer.from('x')],
      [{ name: 'usr/hard', type: 'link', linkname: deep, mode: 0o644, mtime, uid: 3_000_000, gid: 3_000_001 }],
      [{ name: 'usr/sym', type: 'symlink', linkname: `../${'x'.repeat(150)}`, mode: 0o777, mtime, uid: 0, gid: 0 }],
      [{ name: 'usr/pipe', type: 'fifo', mode: 0o600, mtime, uid: 0, gid: 0 }],
    ]);
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-pax'));
    expect(r.gnuStatus, r.gnuStderr).toBe(0);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
  });

  it('a directory entry after its files, and an empty file given no body', async () => {
    const archive = join(scratch.dir, 'order.tar');
    await write(archive, [
      [{ name: './', type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 }],
      [{ name: 'etc/hostname', type: 'file', mode: 0o644, mtime, uid: 0, gid: 0, size: 5 }, Buffer.from('host\n')],
      [{ name: 'etc/empty', type: 'file', mode: 0o644, mtime, uid: 0, gid: 0, size: 0 }, Buffer.alloc(0)],
      [{ name: 'etc', type: 'directory', mode: 0o711, mtime, uid: 0, gid: 0 }],
    ]);
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-order'));
    expect(r.gnuStatus, r.gnuStderr).toBe(0);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
  });
});
