// ustar archives (root): GNU tar's and bsdtar's --format=ustar, and hand-made headers with the
// numbers other tars write (one leading NUL, leading spaces, base-256, negative times), read as GNU
// tar 1.34 reads them; a hard link whose target is replaced later keeps the archive's time.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/run.js';
import { rawHeader, rawTar, type RawEntry } from './tar-helpers.js';
import { compareWithGnuTar, compareWithGnuTarJson, makeCorpusTree } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-ustar');
const src = join(scratch.dir, 'src');
afterAll(() => scratch.cleanup());
beforeAll(() => makeCorpusTree(src));

/** A header with one field's bytes replaced, its checksum made right again. */
function withField(e: RawEntry, at: number, bytes: Buffer): Buffer {
  const b = rawHeader(e);
  b.fill(0, at, at + bytes.length);
  bytes.copy(b, at);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}
const pad = (d: Buffer) => Buffer.concat([d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
const root = rawTar([{ name: './', type: '5', mode: 0o755 }], { end: false });
const END = Buffer.alloc(1024);
let n = 0;

function compareRaw(bytes: Buffer) {
  n += 1;
  const archive = join(scratch.dir, `raw-${n}.tar`);
  writeFileSync(archive, bytes);
  const work = join(scratch.dir, `w-raw-${n}`);
  return { ...compareWithGnuTarJson(archive, work), ours: join(work, 'ours'), gnu: join(work, 'gnu') };
}

describe('ustar made by the real tools (root)', () => {
  it('GNU tar --format=ustar', () => {
    const archive = join(scratch.dir, 'gnu-ustar.tar');
    execFileSync('tar', ['--format=ustar', '--numeric-owner', '-cf', archive, '-C', src, '.']);
    const r = compareWithGnuTar(archive, join(scratch.dir, 'w-gnu'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.diff).toBe('');
  });
});

describe('numeric fields as GNU tar reads them (root)', () => {
  it('a size with leading NULs: GNU tar skips one NUL and reads 0 (the file is empty, the next entry read)', () => {
    const zero = withField({ name: 'empty', size: 0 }, 124, Buffer.from('\0\0\0\0\0\0\0\0\0016\0', 'latin1'));
    const r = compareRaw(Buffer.concat([root, zero, rawTar([{ name: 'next', data: 'after\n' }])]));
    expect(r.status, r.stderr).toBe(0);
    expect(r.gnuStatus).toBe(0);
    expect(r.diff).toBe('');
    expect(lstatSync(join(r.ours, 'empty')).size).toBe(0);
    expect(readFileSync(join(r.ours, 'next'), 'utf8')).toBe('after\n');
  });
  it('numbers with leading spaces and a trailing space (old tars)', () => {
    const data = Buffer.from('fourteen bytes');
    const h = withField({ name: 'spaced', size: 14 }, 124, Buffer.from('        016 ', 'latin1'));
    const r = compareRaw(Buffer.concat([root, h, pad(data), END]));
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(readFileSync(join(r.ours, 'spaced'), 'utf8')).toBe('fourteen bytes');
  });
  it('base-256 size, uid and gid, and a negative base-256 mtime (before 1970)', () => {
    const data = Buffer.from('base-256\n');
    const b256 = (v: bigint, len: number) => {
      const out = Buffer.alloc(len);
      let x = BigInt.asUintN(len * 8, v);
      for (let i = len - 1; i >= 0; i--) {
        out[i] = Number(x & 0xffn);
        x >>= 8n;
      }
      out[0] = v < 0n ? out[0]! | 0x80 : 0x80;
      return out;
    };
    const e: RawEntry = { name: 'b256', size: data.length };
    let h = rawHeader(e);
    for (const [at, len, v] of [[124, 12, BigInt(data.length)], [108, 8, 3000000n], [116, 8, 3000001n], [136, 12, -86400n]] as const) {
      b256(v, len).copy(h, at);
    }
    h = withField(e, 0, h.subarray(0, 148)); // re-checksummed
    const r = compareRaw(Buffer.concat([root, h, pad(data), END]));
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    const st = lstatSync(join(r.ours, 'b256'));
    expect([st.uid, st.gid, st.mtimeMs]).toEqual([3000000, 3000001, -86400000]);
  });
  it('refuses a negative base-256 size, and a size that is not a number, with the reason', () => {
    const neg = rawHeader({ name: 'neg', rawSize: -1024n });
    let r = compareRaw(Buffer.concat([root, neg, END]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry neg has an invalid \(negative or malformed\) size: -1024/);
    const junk = withField({ name: 'junk' }, 124, Buffer.from('12x4\0\0\0\0\0\0\0\0', 'latin1'));
    r = compareRaw(Buffer.concat([root, junk, END]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry junk: the header's size field holds "12x4" where a number is expected/);
    expect(r.gnuStderr).toMatch(/Archive contains .*12x4.* where numeric off_t value expected/);
  });
  it('accepts the signed checksum old Sun tars wrote (bytes above 0x7f counted negative)', () => {
    const e: RawEntry = { name: Buffer.from('caf\xe9', 'latin1'), data: 'x' };
    const h = rawHeader(e);
    h.fill(0x20, 148, 156);
    let signed = 0;
    for (const byte of h) signed += byte >= 0x80 ? byte - 256 : byte;
    h.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const r = compareRaw(Buffer.concat([root, h, pad(Buffer.from('x')), END]));
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
  });
});

describe('hard links, whatever order the archive gives (root)', () => {
  it('a hard link whose target is replaced later keeps the archive\'s mtime, as GNU tar leaves it', () => {
    const bytes = Buffer.concat([
      root,
      rawHeader({ name: 'target', size: 4 }), pad(Buffer.from('old\n')),
      rawHeader({ name: 'link', type: '1', linkname: 'target' }),
      rawHeader({ name: 'target', size: 4 }), pad(Buffer.from('new\n')),
      END,
    ]);
    const r = compareRaw(bytes);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(readFileSync(join(r.ours, 'link'), 'utf8')).toBe('old\n');
    expect(readFileSync(join(r.ours, 'target'), 'utf8')).toBe('new\n');
    expect(lstatSync(join(r.ours, 'link')).mtimeMs).toBe(1600000000 * 1000);
    expect(lstatSync(join(r.ours, 'link')).ino).not.toBe(lstatSync(join(r.ours, 'target')).ino);
  });
});
