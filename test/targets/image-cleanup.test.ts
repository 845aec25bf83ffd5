// Cleanup, always: an image run killed part-way (SIGTERM, SIGINT) or failing on a full disk
// leaves no mount, no loop device, no half-made image and no staging tree behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { CleanupStack } from '../../src/cleanup.js';
import { openTarget, type TargetSpec } from '../../src/targets/index.js';
import { MiB } from '../../src/targets/size.js';
import { DomuError } from '../../src/errors.js';
import { loopsUnder, sweep, tempDir } from './helpers.js';

const fixture = new URL('./fixtures/hold-target.mjs', import.meta.url).pathname;
let work: string;
const roots: string[] = [];

beforeAll(() => {
  work = tempDir('cleanup');
});
afterAll(() => sweep(work, roots));

function mounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'latin1').split('\n').some((l) => l.split(' ')[4] === dir);
}

/** Run the fixture, wait until it has written into the target, signal it, and return what it left. */
async function interrupt(spec: TargetSpec, signal: 'SIGTERM' | 'SIGINT'): Promise<{ status: number | null; root: string; stderr: string }> {
  const child = spawn(process.execPath, [fixture, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const root = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (stdout.includes('\n')) resolve((JSON.parse(stdout.split('\n')[0]!) as { root: string }).root);
    });
    child.on('exit', () => reject(new Error(`the fixture exited early: ${stderr}`)));
  });
  roots.push(root);
  // part-way: wait until the tree has files in it
  for (let i = 0; i < 200 && readdirSync(root).length < 3; i++) await new Promise((r) => setTimeout(r, 25));
  expect(readdirSync(root).length).toBeGreaterThanOrEqual(3);
  child.kill(signal);
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, root, stderr };
}

describe('image cleanup on signals and a full disk (root, loop)', () => {
  const cases: Array<[string, TargetSpec, 'SIGTERM' | 'SIGINT']> = [
    ['a loop-mounted ext4 image, SIGTERM', { kind: 'image', path: '', fs: 'ext4', size: 128 * MiB, format: 'raw', populate: 'mount' }, 'SIGTERM'],
    ['a loop-mounted xfs image to be qcow2, SIGINT', { kind: 'image', path: '', fs: 'xfs', format: 'qcow2', populate: 'mount' }, 'SIGINT'],
    ['a staged mke2fs -d image, SIGTERM', { kind: 'image', path: '', fs: 'ext4', format: 'raw', populate: 'mkfs-d' }, 'SIGTERM'],
  ];
  for (const [name, base, signal] of cases) {
    it(`${name}: nothing is left behind`, async () => {
      const path = join(work, `${name.replace(/\W+/g, '-')}.img`);
      const { status, root, stderr } = await interrupt({ ...base, path } as TargetSpec, signal);
      expect(stderr).toBe('');
      expect(status, stderr).toBe(130);
      expect(mounted(root)).toBe(false);
      expect(existsSync(root)).toBe(false);
      expect(loopsUnder(work)).toEqual([]);
      expect(readdirSync(work)).toEqual([]);
    });
  }

  it('a full image mid-copy (ENOSPC) gives one clear line, and the cleanup leaves nothing', async () => {
    const cleanup = new CleanupStack();
    const path = join(work, 'tiny.img');
    const opened = await openTarget({ kind: 'image', path, fs: 'ext4', size: 8 * MiB, format: 'raw', populate: 'mount' }, { cleanup });
    roots.push(opened.root);
    let caught: unknown;
    try {
      for (let i = 0; i < 64; i++) writeFileSync(join(opened.root, `f${i}`), Buffer.alloc(MiB, 1));
    } catch (e) {
      caught = e;
    }
    expect((caught as NodeJS.ErrnoException).code).toBe('ENOSPC');
    const err = opened.explainError(caught);
    expect(err).toBeInstanceOf(DomuError);
    expect(err!.code).toBe('ENVIRONMENT');
    expect(err!.message).toBe(`image ${path} is full: the tree needs more than its 8 MiB`);
    expect(err!.hint).toBe('give a larger --size, or leave --size out to have it worked out from the tree');
    expect(opened.explainError(new Error('something else'))).toBeUndefined();
    expect(await cleanup.runAll()).toEqual([]);
    expect(mounted(opened.root)).toBe(false);
    expect(loopsUnder(work)).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  });

  it('a staged tree too big for the given --size fails at close with the same clear line, leaving nothing', async () => {
    const cleanup = new CleanupStack();
    const path = join(work, 'tiny-staged.img');
    const opened = await openTarget({ kind: 'image', path, fs: 'ext4', size: 8 * MiB, format: 'raw', populate: 'mkfs-d' }, { cleanup });
    for (let i = 0; i < 12; i++) writeFileSync(join(opened.root, `f${i}`), Buffer.alloc(MiB, 1));
    const err = await opened.close().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomuError);
    expect((err as DomuError).message).toBe(`image ${path} is full: the tree needs more than its 8 MiB`);
    expect(await cleanup.runAll()).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  });
});
