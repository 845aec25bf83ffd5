// The files of an uncompressed archive written by worker threads (src/tar/extract-writers.ts and
// extract.worker.ts): the same tree as the main thread alone makes, and as GNU tar makes, for
// what can follow a file in an archive while its data is still being written: a later entry of
// the same name, a hard link to it before that name is replaced, holes, set-id modes and owners.
// A worker that fails (no space left) fails the extraction, which removes what it made.

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTarball } from '../../src/tar/index.js';
import { rsyncDiff, scratchDir } from '../helpers/run.js';
import { rawTar, type RawEntry } from './tar-helpers.js';

const s = scratchDir('tar-writers');
afterAll(() => {
  spawnSync('umount', [join(s.dir, 'small')]);
  s.cleanup();
});

/** Deterministic bytes: no two files alike, none all zeros. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 16) & 0xff || 1;
  }
  return b;
}

function archive(): Buffer {
  const e: RawEntry[] = [{ name: './', type: '5', mode: 0o755 }];
  for (let d = 0; d < 6; d++) e.push({ name: `d${d}/`, type: '5', mode: 0o755 });
  for (let i = 0; i < 400; i++) {
    const mode = i % 7 === 0 ? 0o4755 : i % 3 === 0 ? 0o755 : 0o644;
    e.push({ name: `d${i % 6}/f${i}`, data: bytes(i % 5 === 0 ? 0 : (i * 37) % 9000, i), mode, uid: i % 4 === 0 ? 1234 : 0, gid: i % 6 === 0 ? 4321 : 0 });
  }
  // 3.5 MiB: data, a zero megabyte, half a megabyte of data, then a zero megabyte at the end
  const big = Buffer.concat([bytes(1 << 20, 7), Buffer.alloc(1 << 20), bytes(512 << 10, 8), Buffer.alloc(1 << 20)]);
  e.push({ name: 'd0/holes', data: big, mode: 0o600, uid: 77 });
  // a later entry of the same name replaces the first while the first may still be written
  e.push({ name: 'd1/dup', data: bytes(5000, 1), mode: 0o644 });
  e.push({ name: 'd1/hl', type: '1', linkname: 'd1/dup' });
  for (let i = 0; i < 50; i++) e.push({ name: `d2/g${i}`, data: bytes(3000, 100 + i) });
  e.push({ name: 'd1/dup', data: bytes(7000, 2), mode: 0o640, uid: 5 });
  e.push({ name: 'd3/link', type: '2', linkname: '../d1/dup' });
  return rawTar(e);
}

describe('extraction with file writers on worker threads', () => {
  const file = join(s.dir, 'a.tar');
  writeFileSync(file, archive());

  it('makes the tree the main thread alone makes, and GNU tar makes', async () => {
    const gnu = join(s.dir, 'gnu');
    mkdirSync(gnu);
    const t = spawnSync('tar', ['-C', gnu, '-xpf', file, '--numeric-owner'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    const one = await extractTarball(file, join(s.dir, 'one'), { writers: 0 });
    const two = await extractTarball(file, join(s.dir, 'two'), { writers: 2 });
    expect(two.files).toBe(one.files);
    expect(two.bytes).toBe(one.bytes);
    expect(rsyncDiff(join(s.dir, 'one'), join(s.dir, 'two'))).toBe('');
    // GNU tar sets a directory's times when it leaves it, and this archive goes back into them
    // later (ours sets them at the end, as the archive gives them): all else is alike
    expect(rsyncDiff(gnu, join(s.dir, 'two'), ['--omit-dir-times'])).toBe('');
  });

  it('leaves the later entry of a name, a hard link to the earlier one, and holes as holes', () => {
    const two = join(s.dir, 'two');
    expect(readFileSync(join(two, 'd1/dup'))).toEqual(bytes(7000, 2));
    expect(readFileSync(join(two, 'd1/hl'))).toEqual(bytes(5000, 1));
    const dup = lstatSync(join(two, 'd1/dup'));
    expect([dup.mode & 0o7777, dup.uid]).toEqual([0o640, 5]);
    expect(lstatSync(join(two, 'd1/hl')).nlink).toBe(1);
    const suid = lstatSync(join(two, 'd0/f0'));
    expect([suid.mode & 0o7777, suid.uid]).toEqual([0o4755, 1234]);
    // the zero megabytes at 1 MiB and at 3 MiB are holes; the half-zero one at 2 MiB is written
    const holes = lstatSync(join(two, 'd0/holes'));
    expect(holes.size).toBe(3.5 * (1 << 20));
    expect(holes.blocks * 512).toBeLessThanOrEqual(2 * (1 << 20) + 64 * 1024);
    expect(holes.blocks).toBe(lstatSync(join(s.dir, 'one', 'd0/holes')).blocks);
  });

  it('fails whole when a worker runs out of space, and removes what it made', async () => {
    const small = join(s.dir, 'small');
    mkdirSync(small);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { encoding: 'utf8' });
    expect(m.status, m.stderr).toBe(0);
    const target = join(small, 't');
    const err = await extractTarball(file, target, { writers: 2 }).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(err?.code).toBe('ENVIRONMENT');
    expect(err?.message).toMatch(/no space left/);
    expect(existsSync(target)).toBe(false);
  });
});
