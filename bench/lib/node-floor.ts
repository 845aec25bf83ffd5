// The Node floor of a row: the same system calls a domu-forge command makes, from a bare loop in
// one Node process with nothing else (no parsing, no checks, no owners, modes, times or xattrs, no
// worker threads). What it costs is what the runtime itself costs for the work; compare.ts times
// it beside GNU tar to show how much of a gap is Node's and how much is ours.
//
//   node node-floor.js pack SRC OUT    every entry lstat'ed, a 512-byte header and each file's
//                                      bytes written into OUT (sync calls, 1 MiB writes)
//   node node-floor.js copy SRC DST    every directory, symlink and file made again under DST,
//                                      each file's bytes read and written (sync calls)

import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const BUF = Buffer.allocUnsafe(1 << 20);

function pack(src: string, out: string): void {
  const fd = openSync(out, 'wx');
  let used = 0;
  const flush = () => {
    if (used > 0) writeSync(fd, BUF, 0, used);
    used = 0;
  };
  const put = (n: number) => {
    if (used + n > BUF.length) flush();
    BUF.fill(0, used, used + n);
    used += n;
  };
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const st = lstatSync(p);
      put(512);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && st.size > 0) {
        const f = openSync(p, 'r');
        try {
          for (;;) {
            if (used === BUF.length) flush();
            const n = readSync(f, BUF, used, BUF.length - used, null);
            if (n === 0) break;
            used += n;
          }
        } finally {
          closeSync(f);
        }
        put((512 - (st.size % 512)) % 512);
      }
    }
  };
  walk(src);
  put(1024);
  flush();
  closeSync(fd);
}

function copy(src: string, dst: string): void {
  mkdirSync(dst);
  const walk = (from: string, to: string) => {
    for (const e of readdirSync(from, { withFileTypes: true })) {
      const a = join(from, e.name);
      const b = join(to, e.name);
      if (e.isDirectory()) {
        mkdirSync(b);
        walk(a, b);
      } else if (e.isSymbolicLink()) symlinkSync(readlinkSync(a), b);
      else if (e.isFile()) {
        const r = openSync(a, 'r');
        const w = openSync(b, 'wx');
        try {
          for (;;) {
            const n = readSync(r, BUF, 0, BUF.length, null);
            if (n === 0) break;
            writeSync(w, BUF, 0, n);
          }
        } finally {
          closeSync(r);
          closeSync(w);
        }
      }
    }
  };
  walk(src, dst);
}

const [mode, a, b] = process.argv.slice(2);
if (!a || !b || (mode !== 'pack' && mode !== 'copy')) {
  console.error('usage: node-floor.js pack SRC OUT | copy SRC DST');
  process.exit(2);
}
(mode === 'pack' ? pack : copy)(a, b);
