// Timestamps through Node's utimes: the double utimeArg() gives lands exactly on the microsecond,
// checked on a real file (lstat with bigint gives the nanoseconds the kernel stored).
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sameMicros, utimeArg } from '../../src/copy/times.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-times-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const floorMicros = (ns: bigint) => (ns % 1000n < 0n ? ns - (ns % 1000n) - 1000n : ns - (ns % 1000n));

describe('utimeArg', () => {
  it('passes whole seconds as integers', () => {
    expect(utimeArg(0n)).toBe(0);
    expect(utimeArg(1_700_000_000n * 1_000_000_000n)).toBe(1_700_000_000);
    expect(utimeArg(-5n * 1_000_000_000n)).toBe(-5);
  });

  it('gives the middle of the microsecond otherwise', () => {
    expect(utimeArg(1_000_000_001n)).toBeCloseTo(1.0000005, 9);
    expect(utimeArg(1_999_999_999n)).toBeCloseTo(1.9999995, 9);
  });

  const cases: bigint[] = [
    1_700_000_000_000_000_000n, // whole second
    1_700_000_000_123_456_789n, // sub-microsecond digits (lost: kept to the microsecond)
    1_700_000_000_999_999_999n, // just below the next second
    1_700_000_000_000_001_000n, // one microsecond
    4_102_444_800_654_321_000n, // 2100, microseconds exact
    1_000n,
    999_999_000n,
  ];
  for (const ns of cases) {
    it(`a real file gets ${ns} ns to the microsecond`, () => {
      const f = join(dir, `f${ns}`);
      writeFileSync(f, '');
      utimesSync(f, utimeArg(ns), utimeArg(ns));
      const st = statSync(f, { bigint: true });
      expect(st.mtimeNs).toBe(floorMicros(ns));
      expect(st.atimeNs).toBe(floorMicros(ns));
      expect(sameMicros(st.mtimeNs, ns)).toBe(true);
    });
  }
});

describe('sameMicros', () => {
  it('compares at microsecond precision, flooring negative times', () => {
    expect(sameMicros(1_000_000_123n, 1_000_000_999n)).toBe(true);
    expect(sameMicros(1_000_000_999n, 1_000_001_000n)).toBe(false);
    expect(sameMicros(-1n, -999n)).toBe(true);
    expect(sameMicros(-1n, 0n)).toBe(false);
    expect(sameMicros(-1000n, -1001n)).toBe(false);
  });
});
