// Where the boot test's cached Dom0 is looked for: --cache-dir, else DOMU_FORGE_CACHE_DIR (as every
// install), else /var/cache/domu-forge. A Dom0 found there is taken as it is, nothing built.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR, dom0Key, ensureDom0 } from '../../src/boot/dom0.js';

const work = mkdtempSync(join(tmpdir(), 'df-dom0-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A cached Dom0 as ensureDom0 leaves one: its manifest and its four files. */
function plantDom0(cacheDir: string): string {
  const key = dom0Key({ suite: 'bookworm', mirror: DEFAULT_MIRROR, securityMirror: DEFAULT_SECURITY_MIRROR, xenVersion: '4.17' });
  const dir = join(cacheDir, 'xen-dom0', key);
  mkdirSync(dir, { recursive: true });
  for (const f of ['xen', 'vmlinuz', 'initrd.img', 'dom0.img']) writeFileSync(join(dir, f), f);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ versions: { xen: 'planted' }, buildSeconds: 1 }));
  return dir;
}

describe('ensureDom0 cache folder', () => {
  it('is DOMU_FORGE_CACHE_DIR when no cacheDir is given', async () => {
    const fromEnv = join(work, 'env');
    const dir = plantDom0(fromEnv);
    const before = process.env.DOMU_FORGE_CACHE_DIR;
    process.env.DOMU_FORGE_CACHE_DIR = fromEnv;
    try {
      const d = await ensureDom0();
      expect(d.dir).toBe(dir);
      expect(d.built).toBe(false);
      expect(d.versions).toEqual({ xen: 'planted' });
    } finally {
      if (before === undefined) delete process.env.DOMU_FORGE_CACHE_DIR;
      else process.env.DOMU_FORGE_CACHE_DIR = before;
    }
  });

  it('is cacheDir when given, whatever the environment says', async () => {
    const given = join(work, 'given');
    const dir = plantDom0(given);
    const before = process.env.DOMU_FORGE_CACHE_DIR;
    process.env.DOMU_FORGE_CACHE_DIR = join(work, 'elsewhere');
    try {
      expect((await ensureDom0({ cacheDir: given })).dir).toBe(dir);
    } finally {
      if (before === undefined) delete process.env.DOMU_FORGE_CACHE_DIR;
      else process.env.DOMU_FORGE_CACHE_DIR = before;
    }
  });
});
