// touch's date argument for a nanosecond time, before and after the epoch.

import { describe, expect, it } from 'vitest';
import { splitNs, touchDate } from '../../src/sys/times.js';

describe('touchDate', () => {
  it('keeps all nine digits', () => {
    expect(touchDate(1_700_000_000_123_456_789n)).toBe('@1700000000.123456789');
    expect(touchDate(5n)).toBe('@0.000000005');
    expect(touchDate(0n)).toBe('@0.000000000');
  });
  it('writes a time before 1970 as a signed decimal, as touch reads it (@-1.25 is 1.25 s before the epoch)', () => {
    expect(touchDate(-1n)).toBe('@-0.000000001');
    expect(touchDate(-1_250_000_000n)).toBe('@-1.250000000');
  });
});

describe('splitNs', () => {
  it('floors the seconds, before 1970 too, and keeps 0 <= nsec < 1e9', () => {
    expect(splitNs(1_700_000_000_123_456_789n)).toEqual({ sec: 1_700_000_000n, nsec: 123_456_789n });
    expect(splitNs(0n)).toEqual({ sec: 0n, nsec: 0n });
    expect(splitNs(-1n)).toEqual({ sec: -1n, nsec: 999_999_999n });
    expect(splitNs(-1_500_000_000n)).toEqual({ sec: -2n, nsec: 500_000_000n });
    expect(splitNs(-2_000_000_000n)).toEqual({ sec: -2n, nsec: 0n });
  });
});
