// The one size parser and formatter: the rules every command and the spec share.
import { describe, expect, it } from 'vitest';
import { formatSize, readSize, sizeBytes, sizeMiB, MiB, GiB, MAX_SIZE } from '../../src/sys/size.js';
import { parseSize } from '../../src/targets/size.js';
import { parseMiB } from '../../src/xen/options.js';
import { parseSpecSize } from '../../src/spec/check.js';

describe('sizes', () => {
  it('reads units, fractions and bare MiB, rounding up to a whole MiB', () => {
    expect(sizeBytes('4G')).toBe(4 * GiB);
    expect(sizeBytes('512M')).toBe(512 * MiB);
    expect(sizeBytes('512Mb')).toBe(512 * MiB);
    expect(sizeBytes('1.5GiB')).toBe(1536 * MiB);
    expect(sizeBytes('4096')).toBe(4096 * MiB);
    expect(sizeBytes(4096)).toBe(4096 * MiB);
    expect(sizeBytes('100k')).toBe(MiB);
    expect(sizeBytes('1t')).toBe(1024 * GiB);
  });
  it('refuses what is not a size', () => {
    expect(readSize('4X')).toEqual({ problem: 'not-a-size' });
    expect(readSize('0')).toEqual({ problem: 'zero' });
    expect(readSize('65T')).toEqual({ problem: 'too-big' });
    expect(sizeBytes('-1G')).toBeUndefined();
    expect(sizeBytes(true)).toBeUndefined();
    expect(sizeBytes(MAX_SIZE / MiB)).toBe(MAX_SIZE);
  });
  it('is the same parser for the spec, --size and xen-config --memory (1.5G everywhere)', () => {
    expect(parseSpecSize('1.5G')).toBe(1536 * MiB);
    expect(parseSize('1.5G')).toBe(1536 * MiB);
    expect(parseMiB('1.5G', 'memory')).toBe(1536);
    expect(sizeMiB('1.5G')).toBe(1536);
    expect(() => parseMiB('lots', 'memory')).toThrow('memory: "lots" is not a size (512M, 1G, or MiB)');
    expect(() => parseSize('4X')).toThrow('--size "4X" is not a size: use a number with K, M, G or T (4G, 512M; a bare number is MiB)');
  });
  it('formats sizes for messages', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(64 * MiB)).toBe('64 MiB');
    expect(formatSize(1536 * MiB)).toBe('1.5 GiB');
    expect(formatSize(300 * GiB + 1)).toBe('300 GiB');
  });
});
