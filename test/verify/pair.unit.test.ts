// One directory of the source against the same directory of the target, on real trees: every kind of
// difference the walk can see, and what it hands on to the next batch.
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareContents, majorMinor, sameContent, walkBatch, type WalkBatch } from '../../src/verify/pair.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-pair-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function pair(build: (root: string, side: 'src' | 'dst') => void): { source: string; target: string } {
  const base = join(dir, `p${n++}`);
  const source = join(base, 'src');
  const target = join(base, 'dst');
  for (const [root, side] of [[source, 'src'], [target, 'dst']] as const) {
    mkdirSync(root, { recursive: true });
    build(root, side);
  }
  return { source, target };
}
const batch = (p: { source: string; target: string }, dirs: WalkBatch['dirs'] = [['', 'both']], excludes: string[] = []): WalkBatch => ({ op: 'walk', ...p, dirs, excludes, ignoreLostFound: true });
const T = 1_600_000_000;

describe('walkBatch', () => {
  it('finds nothing between equal trees and hands on the subdirectories', () => {
    const p = pair((r) => {
      mkdirSync(join(r, 'etc'));
      writeFileSync(join(r, 'a'), 'same');
      symlinkSync('a', join(r, 'l'));
      for (const f of ['a', 'etc']) utimesSync(join(r, f), T, T);
    });
    const out = walkBatch(batch(p));
    expect(out.differences).toEqual([]);
    expect(out.next).toEqual([['etc', 'both']]);
    expect(out.entries).toEqual([3, 3]);
    expect(out.both.sort()).toEqual(['a', 'etc', 'l']);
    expect(out.bytes).toBe(4);
  });

  it('reports missing, extra, type, size, content, mode and symlink differences', () => {
    const p = pair((r, side) => {
      const s = side === 'src';
      writeFileSync(join(r, 'content'), s ? 'aaaa' : 'aaab');
      writeFileSync(join(r, 'size'), s ? 'a' : 'ab');
      writeFileSync(join(r, 'mode'), '');
      chmodSync(join(r, 'mode'), s ? 0o644 : 0o600);
      symlinkSync(s ? 'one' : 'two', join(r, 'link'));
      if (s) writeFileSync(join(r, 'only-src'), '');
      else writeFileSync(join(r, 'only-dst'), '');
      if (s) mkdirSync(join(r, 'was-dir'));
      else writeFileSync(join(r, 'was-dir'), '');
      if (!s) mkdirSync(join(r, 'lost+found'));
    });
    const out = walkBatch(batch(p));
    expect(out.differences.sort()).toEqual([
      ['content', 'content', undefined, undefined],
      ['extra', 'only-dst', undefined, 'file'],
      ['missing', 'only-src', 'file', undefined],
      ['mode', 'mode', '0644', '0600'],
      ['size', 'size', '1', '2'],
      ['symlink', 'link', 'one', 'two'],
      ['type', 'was-dir', 'dir', 'file'],
    ].sort());
    // the children of the source's directory that the target has as a file are reported missing next
    expect(out.next).toEqual([['was-dir', 'src-report'], ['lost+found', 'dst-silent']]);
  });

  it('a src-report batch lists each child missing and hands its subdirectories on silently', () => {
    const p = pair((r, side) => {
      if (side === 'src') {
        mkdirSync(join(r, 'd', 'sub'), { recursive: true });
        writeFileSync(join(r, 'd', 'f'), '');
      }
    });
    const out = walkBatch(batch(p, [['d', 'src-report']]));
    expect(out.differences.sort()).toEqual([['missing', 'd/f', 'file', undefined], ['missing', 'd/sub', 'dir', undefined]]);
    expect(out.next).toEqual([['d/sub', 'src-silent']]);
  });

  it('an excluded directory must be empty in the target; its mtime is not compared', () => {
    const p = pair((r, side) => {
      mkdirSync(join(r, 'tmp'));
      writeFileSync(join(r, 'tmp', side === 'src' ? 'live' : 'leftover'), '');
      utimesSync(join(r, 'tmp'), side === 'src' ? T : T + 5, T);
    });
    const out = walkBatch(batch(p, [['', 'both']], ['/tmp']));
    expect(out.differences).toEqual([['not-empty', 'tmp', 'empty', '1 entries']]);
    expect(out.mtimes).toEqual([]);
    expect(out.next).toEqual([]);
  });

  it('collects mtime differences, the precision seen, and hard-linked files for the caller', () => {
    const p = pair((r, side) => {
      writeFileSync(join(r, 'f'), 'x');
      utimesSync(join(r, 'f'), T, side === 'src' ? T : T + 0.5);
      writeFileSync(join(r, 'h1'), 'yy');
      linkSync(join(r, 'h1'), join(r, 'h2'));
      for (const f of ['h1']) utimesSync(join(r, f), T, T);
      utimesSync(r, T, T);
    });
    const out = walkBatch(batch(p));
    expect(out.mtimes).toEqual([['f', BigInt(T) * 1_000_000_000n, BigInt(T) * 1_000_000_000n + 500_000_000n]]);
    expect(out.precision).toEqual([1_000_000_000n, 1_000_000n]);
    expect(out.linkChecks.sort()).toEqual(['h1', 'h2']);
    expect(out.linkedContent.map((l) => [l[0], l[1]]).sort()).toEqual([['h1', 2], ['h2', 2]]);
    expect(out.links.filter((l) => l[0] === 0).map((l) => l[1]).sort()).toEqual(['h1', 'h2']);
  });
});

describe('contents', () => {
  it('sameContent compares whole files, past the first chunk', () => {
    const a = join(dir, 'ca');
    const b = join(dir, 'cb');
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 1);
    writeFileSync(a, big);
    writeFileSync(b, big);
    expect(sameContent(Buffer.from(a), Buffer.from(b), big.length)).toBe(true);
    big[big.length - 1] = 2;
    writeFileSync(b, big);
    expect(sameContent(Buffer.from(a), Buffer.from(b), big.length)).toBe(false);
    writeFileSync(b, Buffer.concat([big, Buffer.from('grew')]));
    expect(sameContent(Buffer.from(a), Buffer.from(b), big.length)).toBe(false);
  });

  it('compareContents lists the different and the unreadable', () => {
    const p = pair((r, side) => {
      writeFileSync(join(r, 'same'), 'abc');
      writeFileSync(join(r, 'diff'), side === 'src' ? 'abc' : 'abd');
      if (side === 'src') symlinkSync('same', join(r, 'link'));
      else writeFileSync(join(r, 'link'), 'abc');
    });
    const r = compareContents({ op: 'content', ...p, items: [['same', 3], ['diff', 3], ['link', 3]] });
    expect(r.different).toEqual(['diff']);
    expect(r.errors.map((e) => e[0])).toEqual(['link']);
    expect(r.bytes).toBe(9);
  });

  it('majorMinor splits dev_t as glibc does', () => {
    expect(majorMinor(0x0801n)).toEqual([8, 1]);
    expect(majorMinor((202n << 8n) | 17n)).toEqual([202, 17]);
    // the kernel's dev_t (12-bit major, 20-bit minor), encoded as stat() reports it
    const makedev = (ma: bigint, mi: bigint) => ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
    for (const [ma, mi] of [[259n, 0n], [4095n, 0xfffffn], [254n, 0x12345n], [1n, 3n]] as const) {
      expect(majorMinor(makedev(ma, mi))).toEqual([Number(ma), Number(mi)]);
    }
    expect(majorMinor(0x5612378n)).toEqual([0x123, 0x5678]);
  });
});
