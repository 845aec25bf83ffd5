// Sizes: parsing xen-create-image style sizes, and the estimate from a tree's usage.
import { describe, expect, it } from 'vitest';
import { estimateImageSize, ext2InodesFor, formatSize, GiB, MiB, parseSize } from '../../src/targets/size.js';

describe('sizes', () => {
  it('parses K/M/G/T with optional b, B or iB; a bare number is MiB; rounds up to a MiB', () => {
    expect(parseSize('4G')).toBe(4 * GiB);
    expect(parseSize('4Gb')).toBe(4 * GiB);
    expect(parseSize('4GiB')).toBe(4 * GiB);
    expect(parseSize('512m')).toBe(512 * MiB);
    expect(parseSize('4096')).toBe(4096 * MiB);
    expect(parseSize('1.5G')).toBe(1536 * MiB);
    expect(parseSize('1T')).toBe(1024 * GiB);
    expect(parseSize('1500K')).toBe(2 * MiB);
  });

  it('refuses what is not a size, zero, and absurd sizes', () => {
    expect(() => parseSize('4X')).toThrow('--size "4X" is not a size');
    expect(() => parseSize('-1G')).toThrow('is not a size');
    expect(() => parseSize('0')).toThrow('--size must be more than zero');
    expect(() => parseSize('100T')).toThrow('--size 100T is more than 64 TiB');
  });

  it('estimates usage plus headroom, rounded to 64 MiB, never under the minimum', () => {
    expect(estimateImageSize(0, 'ext4')).toBe(128 * MiB);
    expect(estimateImageSize(0, 'xfs')).toBe(300 * MiB);
    const oneGiB = estimateImageSize(GiB, 'ext4');
    expect(oneGiB % (64 * MiB)).toBe(0);
    // a quarter free for the guest, plus the 5% reserve, inode tables and journal
    expect(oneGiB).toBeGreaterThanOrEqual(1.25 * GiB / 0.95);
    expect(oneGiB).toBeLessThan(1.6 * GiB);
    expect(estimateImageSize(GiB, 'ext2')).toBeLessThanOrEqual(oneGiB);
  });

  it('asks for more inodes when a tree of many small files needs them', () => {
    expect(ext2InodesFor(GiB, 1000)).toBeUndefined();
    expect(ext2InodesFor(GiB, 200_000)).toBe(251_024);
    const many = estimateImageSize({ bytes: 200 * MiB, inodes: 500_000 }, 'ext4');
    expect(many).toBeGreaterThan(estimateImageSize({ bytes: 200 * MiB }, 'ext4'));
  });

  it('formats sizes for messages', () => {
    expect(formatSize(64 * MiB)).toBe('64 MiB');
    expect(formatSize(1.5 * GiB)).toBe('1.5 GiB');
    expect(formatSize(512)).toBe('512 B');
  });
});
