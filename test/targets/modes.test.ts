// Every disk domu-forge writes holds the guest's secrets (shadow, host keys, swapped-out memory):
// image files, swap files and fleet disks made from a base are 0600 whatever the umask (root).

import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/cleanup.js';
import { openFromBase } from '../../src/pipeline/from-base.js';
import { makeSwapFile, openTarget, type TargetSpec } from '../../src/targets/index.js';
import { MiB } from '../../src/targets/size.js';
import { sweep, tempDir } from './helpers.js';

let work: string;
let umask: number;
const mountPoints: string[] = [];

beforeAll(() => {
  work = tempDir('modes');
  umask = process.umask(0o022); // the usual umask, under which a plain create is 0644
});
afterAll(() => {
  process.umask(umask);
  sweep(work, mountPoints);
});

const mode = (p: string) => statSync(p).mode & 0o7777;

async function image(spec: TargetSpec): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    const t = await openTarget(spec, { cleanup });
    mountPoints.push(t.root);
    await t.close();
  } catch (e) {
    await cleanup.runAll();
    throw e;
  }
}

describe('disk files are 0600 (root)', () => {
  it('raw and qcow2 images', async () => {
    for (const format of ['raw', 'qcow2'] as const) {
      const path = join(work, `disk.${format}`);
      await image({ kind: 'image', path, fs: 'ext4', size: 32 * MiB, format, populate: 'mount' });
      expect(mode(path)).toBe(0o600);
    }
  });

  it('swap files, made with mkswap', async () => {
    const path = join(work, 'swap.img');
    await makeSwapFile(path, 16 * MiB, 'guest-swap');
    expect(mode(path)).toBe(0o600);
    expect(statSync(path).size).toBe(16 * MiB);
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', path]).toString().trim()).toBe('swap');
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'LABEL', path]).toString().trim()).toBe('guest-swap');
  });

  it('fleet disks from a base: the sparse copy and the qcow2 overlay, though the base is 0644', async () => {
    const base = join(work, 'base.img');
    await image({ kind: 'image', path: base, fs: 'ext4', size: 32 * MiB, format: 'raw', populate: 'mount' });
    execFileSync('chmod', ['0644', base]);
    for (const method of ['copy', 'overlay'] as const) {
      const cleanup = new CleanupStack();
      const path = join(work, `guest-${method}.img`);
      try {
        const t = await openFromBase({ base, method, path, fs: 'ext4', cleanup, size: 48 * MiB });
        mountPoints.push(t.root);
        await t.close();
      } catch (e) {
        await cleanup.runAll();
        throw e;
      }
      expect(mode(path)).toBe(0o600);
    }
  });
});
