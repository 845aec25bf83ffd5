// withLoopMount on a real ext4 image: the use sees the filesystem, a read-only attach stays
// read-only, and the loop device and mount point are released on success, on failure, and by the
// cleanup stack when the use is interrupted before it returns.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/cleanup.js';
import { withLoopMount } from '../../src/sys/loop-mount.js';
import { scratchDir, sh } from '../helpers/run.js';

function loopsOf(file: string): string {
  return sh(`losetup -j '${file}'`).trim();
}

describe('withLoopMount (root, loop devices)', () => {
  const s = scratchDir('loop-mount');
  let image: string;

  beforeAll(() => {
    const tree = join(s.dir, 'tree');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc', 'hostname'), 'looped\n');
    image = join(s.dir, 'fs.img');
    execFileSync('truncate', ['-s', '32M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, image]);
  });
  afterAll(() => s.cleanup());

  it('mounts the image for the use and releases it after', async () => {
    const cleanup = new CleanupStack();
    let seen = '';
    let mnt = '';
    const out = await withLoopMount(image, { type: 'ext4', options: 'ro', readOnly: true, prefix: 'df-loop-test-' }, cleanup, async (m) => {
      mnt = m;
      seen = readFileSync(join(m, 'etc', 'hostname'), 'utf8');
      expect(loopsOf(image)).toMatch(/^\/dev\/loop\d+: /);
      expect(() => writeFileSync(join(m, 'new'), 'x')).toThrow(/EROFS|read-only/i);
      return 42;
    });
    expect(out).toBe(42);
    expect(seen).toBe('looped\n');
    expect(existsSync(mnt)).toBe(false);
    expect(loopsOf(image)).toBe('');
    expect(cleanup.size).toBe(0);
  });

  it('releases everything when the use throws, and passes the error on', async () => {
    const cleanup = new CleanupStack();
    let mnt = '';
    await expect(
      withLoopMount(image, { type: 'ext4', prefix: 'df-loop-test-' }, cleanup, async (m) => {
        mnt = m;
        writeFileSync(join(m, 'written'), 'yes');
        throw new Error('use failed');
      }),
    ).rejects.toThrow('use failed');
    expect(existsSync(mnt)).toBe(false);
    expect(loopsOf(image)).toBe('');
    // the write went into the image (a writable attach)
    expect(sh(`debugfs -R 'cat /written' '${image}' 2>/dev/null`)).toBe('yes');
  });

  it('a mount type that does not fit fails with the loop device detached', async () => {
    const cleanup = new CleanupStack();
    await expect(withLoopMount(image, { type: 'xfs', prefix: 'df-loop-test-' }, cleanup, async () => 1)).rejects.toThrow(/mount/);
    expect(loopsOf(image)).toBe('');
  });
});
