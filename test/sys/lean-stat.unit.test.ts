// lstatLean against lstatSync on real entries of every kind a user can make without root, and on
// names that are not UTF-8: the same fields, the same kinds, the same errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kindOfMode, leanOf, leanStatIsRaw, lstatLean } from '../../src/sys/lean-stat.js';
import { kindOfStats } from '../../src/walk/walk.js';

let dir: string;
const odd = Buffer.from([0x62, 0xff, 0x6e]).toString('latin1'); // "b\xffn": not UTF-8

beforeAll(() => {
  dir = mkdtempSync('/tmp/lean-stat-test-');
  mkdirSync(join(dir, 'd'), { mode: 0o2750 });
  writeFileSync(join(dir, 'f'), 'x'.repeat(12345), { mode: 0o4711 });
  linkSync(join(dir, 'f'), join(dir, 'f2'));
  symlinkSync('/nowhere/at/all', join(dir, 'l'));
  execFileSync('mkfifo', [join(dir, 'p')]);
  execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(dir, 's'))})`]);
  writeFileSync(Buffer.from(join(dir, odd), 'latin1'), 'odd');
  // a time with all nine digits of nanoseconds, and one before 1970
  execFileSync('touch', ['-h', '-d', '@1700000000.123456789', join(dir, 'f')]);
  execFileSync('touch', ['-h', '-d', '@-1000.25', join(dir, 'p')]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lstatLean', () => {
  it('takes the raw path on this Node (20)', () => {
    expect(leanStatIsRaw).toBe(true);
  });

  it('gives the fields lstatSync gives, for every kind, and kindOfMode the kind kindOfStats gives', () => {
    const paths = ['d', 'f', 'f2', 'l', 'p', 's', odd].map((n) => Buffer.from(join(dir, n), 'latin1'));
    paths.push(Buffer.from('/dev/null'), Buffer.from('/'));
    for (const p of paths) {
      const full = lstatSync(p, { bigint: true });
      expect(lstatLean(p)).toEqual(leanOf(full));
      expect(lstatLean(p.toString('latin1') === p.toString() ? p.toString() : p)).toEqual(leanOf(full));
      expect(kindOfMode(full.mode)).toBe(kindOfStats(full));
    }
    expect(lstatLean(join(dir, 'f')).mtimeNs).toBe(1_700_000_000_123_456_789n);
    expect(lstatLean(join(dir, 'f')).nlink).toBe(2n);
    expect(lstatLean(join(dir, 'p')).mtimeNs).toBe(-1_000_250_000_000n);
    expect(lstatLean(join(dir, 'f')).mode & 0o7777n).toBe(0o4711n);
  });

  it('throws what lstatSync throws', () => {
    const missing = join(dir, 'missing');
    const grab = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        return [err.code, err.message, err.syscall];
      }
      return undefined;
    };
    expect(grab(() => lstatLean(missing))).toEqual(grab(() => lstatSync(missing)));
    expect(grab(() => lstatLean(join(dir, 'f', 'x')))).toEqual(grab(() => lstatSync(join(dir, 'f', 'x'))));
    expect(grab(() => lstatLean(missing))?.[0]).toBe('ENOENT');
  });
});
