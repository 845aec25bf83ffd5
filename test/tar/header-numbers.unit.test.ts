// Numeric header fields and checksums as GNU tar 1.34 reads them (list.c from_header, tar_checksum).

import { describe, expect, it } from 'vitest';
import { checksumOk, parseNumericField } from '../../src/tar/format.js';
import { rawHeader } from './tar-helpers.js';

const f = (s: string) => Buffer.from(s, 'latin1');

describe('parseNumericField', () => {
  it('octal with NUL or space terminators, leading spaces, one leading NUL', () => {
    expect(parseNumericField(f('00000000016\0'))).toEqual({ value: 14n });
    expect(parseNumericField(f('        016 '))).toEqual({ value: 14n });
    expect(parseNumericField(f('\x0000000016\0 '))).toEqual({ value: 14n });
    // GNU skips one NUL only: the next NUL ends the number, which is 0 (not the 16 after it)
    expect(parseNumericField(f('\0\0\0\0\0\0\0\0\x0016\0'))).toEqual({ value: 0n });
    expect(parseNumericField(f('\0\0\0\0\0\0\0\0\0\0\0\0'))).toEqual({ value: 0n });
  });
  it('base-256, positive and negative', () => {
    const pos = Buffer.alloc(12);
    pos[0] = 0x80;
    pos.writeUInt32BE(0x12345678, 8);
    expect(parseNumericField(pos)).toEqual({ value: 0x12345678n });
    expect(parseNumericField(Buffer.alloc(12, 0xff))).toEqual({ value: -1n });
    const neg = Buffer.alloc(12, 0xff);
    neg.writeInt32BE(-1024, 8);
    expect(parseNumericField(neg)).toEqual({ value: -1024n });
  });
  it('anything else is not a number, with the field quoted', () => {
    expect(parseNumericField(f('12x4\0\0\0\0\0\0\0\0'))).toEqual({ error: '"12x4" where a number is expected' });
    expect(parseNumericField(f('            '))).toEqual({ error: 'blanks where a number is expected' });
    expect(parseNumericField(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 1]), 64, true)).toHaveProperty('error');
  });
});

describe('checksumOk', () => {
  it('takes the unsigned sum, or the signed one old Sun tars wrote; refuses a wrong one', () => {
    const h = rawHeader({ name: f('caf\xe9'), data: 'x' });
    expect(checksumOk(h)).toBe(true);
    h.fill(0x20, 148, 156);
    let signed = 0;
    for (const b of h) signed += b >= 0x80 ? b - 256 : b;
    h.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(checksumOk(h)).toBe(true);
    h.write('000001\0 ', 148, 'latin1');
    expect(checksumOk(h)).toBe(false);
  });
});
