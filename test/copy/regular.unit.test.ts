// Copying one regular file by size class (small read/write, large in the kernel, sparse through cp),
// on real files, and noticing a source that changed since its lstat.
import { appendFileSync, closeSync, ftruncateSync, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyRegular, SMALL_FILE_LIMIT } from '../../src/copy/regular.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-regular-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ctx = { fresh: true, umask: 0o022 };
let n = 0;
const paths = () => {
  n++;
  return { src: join(dir, `s${n}`), dst: join(dir, `d${n}`) };
};
const st = (p: string) => lstatSync(p, { bigint: true });
const T = 1_600_000_000;

describe('copyRegular', () => {
  for (const [what, size] of [['empty', 0], ['small', 1000], ['at the small limit', SMALL_FILE_LIMIT], ['large', SMALL_FILE_LIMIT * 4 + 1]] as const) {
    it(`copies a ${what} file with its content, mode and times`, () => {
      const { src, dst } = paths();
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
      writeFileSync(src, data, { mode: 0o751 });
      utimesSync(src, T, T + 0.25);
      expect(copyRegular(Buffer.from(src), Buffer.from(dst), st(src), ctx)).toBeUndefined();
      expect(readFileSync(dst).equals(data)).toBe(true);
      const a = st(src);
      const b = st(dst);
      expect([b.mode, b.uid, b.gid, b.mtimeNs]).toEqual([a.mode, a.uid, a.gid, a.mtimeNs]);
    });
  }

  it('keeps the holes of a sparse file', () => {
    const { src, dst } = paths();
    const fd = openSync(src, 'w');
    writeSync(fd, Buffer.from('head'), 0, 4, 0);
    writeSync(fd, Buffer.from('tail'), 0, 4, 64 << 20);
    ftruncateSync(fd, (64 << 20) + 4);
    closeSync(fd);
    utimesSync(src, T, T);
    const s = st(src);
    expect(s.blocks * 512n).toBeLessThan(s.size);
    expect(copyRegular(Buffer.from(src), Buffer.from(dst), s, ctx)).toBeUndefined();
    const d = st(dst);
    expect(d.size).toBe(s.size);
    expect(d.blocks * 512n).toBeLessThan(1n << 20n);
    expect(d.mtimeNs).toBe(s.mtimeNs);
    const back = readFileSync(dst);
    expect(back.subarray(0, 4).toString()).toBe('head');
    expect(back.subarray(64 << 20).toString()).toBe('tail');
  });

  it('copies a sparse file whose name is not UTF-8', () => {
    const src = Buffer.concat([Buffer.from(join(dir, 'sp')), Buffer.from([0xe9, 0x0a])]);
    const dst = Buffer.concat([Buffer.from(join(dir, 'dp')), Buffer.from([0xe9, 0x0a])]);
    writeFileSync(src, '');
    truncateSync(src, 8 << 20);
    const s = lstatSync(src, { bigint: true });
    expect(copyRegular(src, dst, s, ctx)).toBeUndefined();
    expect(lstatSync(dst, { bigint: true }).size).toBe(8n << 20n);
  });

  it('says when the source grew or shrank since its lstat, copying what the lstat said', () => {
    const small = paths();
    writeFileSync(small.src, 'abc');
    const before = st(small.src);
    appendFileSync(small.src, 'def');
    expect(copyRegular(Buffer.from(small.src), Buffer.from(small.dst), before, ctx)).toBe('grew');
    expect(readFileSync(small.dst, 'utf8')).toBe('abc');
    const shrunk = paths();
    writeFileSync(shrunk.src, 'abcdef');
    const was = st(shrunk.src);
    writeFileSync(shrunk.src, 'ab');
    expect(copyRegular(Buffer.from(shrunk.src), Buffer.from(shrunk.dst), was, ctx)).toBe('shrank');
    const large = paths();
    writeFileSync(large.src, Buffer.alloc(SMALL_FILE_LIMIT * 2, 1));
    utimesSync(large.src, T, T);
    const old = st(large.src);
    utimesSync(large.src, T, T + 60); // same size, touched: modified
    expect(copyRegular(Buffer.from(large.src), Buffer.from(large.dst), old, ctx)).toBe('modified');
  });

  it('never overwrites an existing target', () => {
    const { src, dst } = paths();
    writeFileSync(src, 'new');
    writeFileSync(dst, 'old');
    expect(() => copyRegular(Buffer.from(src), Buffer.from(dst), st(src), ctx)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(dst, 'utf8')).toBe('old');
  });
});
