// The walker's one rule set (judgeEntry: excludes and --one-file-system) and the one sizing rule,
// as pure functions.

import { describe, expect, it } from 'vitest';
import { ExcludeSet } from '../../src/walk/exclude.js';
import { judgeEntry } from '../../src/walk/walk.js';
import { entryUsage, usageOfTotals, USAGE_BLOCK } from '../../src/walk/usage.js';

describe('judgeEntry', () => {
  const rules = { excludes: new ExcludeSet(['/var', '*.log', 'cache/']) };

  it('prunes an excluded directory (kept, not entered) and drops any other excluded entry', () => {
    expect(judgeEntry('var', 'var', 'dir', 1n, rules)).toBe('excluded');
    expect(judgeEntry('var', 'var', 'file', 1n, rules)).toBe('drop');
    expect(judgeEntry('srv/a.log', 'a.log', 'file', 1n, rules)).toBe('drop');
    expect(judgeEntry('srv/a.log', 'a.log', 'dir', 1n, rules)).toBe('excluded');
  });

  it('applies a directory-only rule to directories alone', () => {
    expect(judgeEntry('x/cache', 'cache', 'dir', 1n, rules)).toBe('excluded');
    expect(judgeEntry('x/cache', 'cache', 'file', 1n, rules)).toBe('keep');
    expect(judgeEntry('x/cache', 'cache', 'symlink', 1n, rules)).toBe('keep');
  });

  it('prunes a directory on another device only under --one-file-system (rootDev given)', () => {
    expect(judgeEntry('srv', 'srv', 'dir', 2n, rules)).toBe('keep');
    expect(judgeEntry('srv', 'srv', 'dir', 2n, { ...rules, rootDev: 1n })).toBe('other-filesystem');
    expect(judgeEntry('srv', 'srv', 'dir', 1n, { ...rules, rootDev: 1n })).toBe('keep');
    // a file's device is its filesystem's too, but only directories are mount points to prune
    expect(judgeEntry('srv/f', 'f', 'file', 2n, { ...rules, rootDev: 1n })).toBe('keep');
    // excluded wins over another filesystem: the directory is pruned as excluded
    expect(judgeEntry('var', 'var', 'dir', 2n, { ...rules, rootDev: 1n })).toBe('excluded');
  });
});

describe('the sizing rule', () => {
  it('gives a file its data in whole blocks and every other entry one block', () => {
    expect(USAGE_BLOCK).toBe(4096);
    expect(entryUsage('file', 0)).toBe(0);
    expect(entryUsage('file', 1)).toBe(4096);
    expect(entryUsage('file', 4096n)).toBe(4096);
    expect(entryUsage('file', 4097n)).toBe(8192);
    for (const k of ['dir', 'symlink', 'chardev', 'blockdev', 'fifo', 'socket'] as const) expect(entryUsage(k, 123)).toBe(4096);
  });

  it('bounds the same rule from totals: never less than the per-entry sum', () => {
    const sizes = [0, 1, 4095, 4096, 4097, 10_000, 1 << 20];
    const exact = sizes.reduce((t, s) => t + entryUsage('file', s), 0) + entryUsage('dir', 0);
    const total = sizes.reduce((t, s) => t + s, 0);
    const bound = usageOfTotals(total, sizes.length + 1);
    expect(bound.inodes).toBe(sizes.length + 1);
    expect(bound.bytes).toBeGreaterThanOrEqual(exact);
    expect(bound.bytes - exact).toBeLessThan((sizes.length + 1) * 4096);
  });
});
