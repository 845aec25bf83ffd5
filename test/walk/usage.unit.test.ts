// The one sizing rule: every entry one 4 KiB block, a regular file its data in whole blocks.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExcludeSet } from '../../src/walk/exclude.js';
import { entryUsage, estimateUsage, treeUsage, usageOfTotals, USAGE_BLOCK } from '../../src/walk/usage.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-usage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('entryUsage and usageOfTotals', () => {
  it('counts a file in whole blocks (none when empty), anything else as one block', () => {
    expect(USAGE_BLOCK).toBe(4096);
    expect(entryUsage('file', 0)).toBe(0);
    expect(entryUsage('file', 1)).toBe(4096);
    expect(entryUsage('file', 4096n)).toBe(4096);
    expect(entryUsage('file', 4097)).toBe(8192);
    expect(entryUsage('dir', 123456)).toBe(4096);
    expect(entryUsage('symlink', 10)).toBe(4096);
    expect(entryUsage('chardev', 0)).toBe(4096);
  });

  it('from totals: an upper bound of one block per entry on top of the data', () => {
    expect(usageOfTotals(10_000, 3)).toEqual({ bytes: 10_000 + 3 * 4096, inodes: 3 });
  });
});

describe('treeUsage', () => {
  const root = join(dir, 'tree');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'tmp', 'junk'), { recursive: true });
  writeFileSync(join(root, 'etc', 'a'), 'x'.repeat(5000));
  writeFileSync(join(root, 'etc', 'empty'), '');
  writeFileSync(join(root, 'tmp', 'junk', 'big'), Buffer.alloc(100_000));
  symlinkSync('etc/a', join(root, 'link'));

  it('sums the rule over the tree, the root included', () => {
    // root, etc, etc/a (2 blocks), etc/empty (0), tmp, tmp/junk, tmp/junk/big (25 blocks), link
    expect(treeUsage(root, { excludes: new ExcludeSet([]) })).toEqual({ bytes: (1 + 1 + 2 + 0 + 1 + 1 + 25 + 1) * 4096, inodes: 8 });
  });

  it('an excluded directory counts as itself (recreated empty), not its content', async () => {
    const want = { bytes: (1 + 1 + 2 + 0 + 1 + 1) * 4096, inodes: 6 };
    expect(treeUsage(root, { excludes: new ExcludeSet(['/tmp']) })).toEqual(want);
    expect(await estimateUsage(root, ['/tmp'], false)).toEqual(want);
  });
});
