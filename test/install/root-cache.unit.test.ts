// The root cache's key and lookup (packing and unpacking with tar run in install/debian.test.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRoot, rootCacheKey } from '../../src/install/root-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-rootcache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rootCacheKey', () => {
  it('is 32 hex digits, independent of key order, different for different inputs', () => {
    const a = rootCacheKey({ suite: 'bookworm', mirror: 'http://deb.debian.org/debian', packages: ['a', 'b'] });
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(rootCacheKey({ packages: ['a', 'b'], mirror: 'http://deb.debian.org/debian', suite: 'bookworm' })).toBe(a);
    expect(rootCacheKey({ suite: 'bookworm', mirror: 'http://deb.debian.org/debian', packages: ['b', 'a'] })).not.toBe(a);
    expect(rootCacheKey({ suite: 'trixie', mirror: 'http://deb.debian.org/debian', packages: ['a', 'b'] })).not.toBe(a);
  });
});

describe('findRoot', () => {
  it('finds an entry only when both the tarball and its metadata are there and readable', async () => {
    const roots = join(dir, 'roots');
    mkdirSync(roots);
    expect(await findRoot(dir, 'k1')).toBeUndefined();
    writeFileSync(join(roots, 'k1.tar.zst.json'), JSON.stringify({ created: 'x' }));
    expect(await findRoot(dir, 'k1')).toBeUndefined();
    writeFileSync(join(roots, 'k1.tar.zst'), '');
    expect(await findRoot(dir, 'k1')).toEqual({ key: 'k1', tarball: join(roots, 'k1.tar.zst'), meta: { created: 'x' } });
    writeFileSync(join(roots, 'k2.tar.zst'), '');
    writeFileSync(join(roots, 'k2.tar.zst.json'), '{broken');
    expect(await findRoot(dir, 'k2')).toBeUndefined();
  });
});
