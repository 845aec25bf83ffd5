// Existing block device targets on real loop devices: --force required, mounted devices and
// devices with a mounted partition refused, a forced write fsck-clean and identical.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CleanupStack } from '../../src/cleanup.js';
import { openTarget } from '../../src/targets/index.js';
import { DomuError } from '../../src/errors.js';
import { fsck, makeRichTree, rsyncDiff, sh, sweep, tempDir, withImageMounted } from './helpers.js';

let work: string;
let src: string;
const loops: string[] = [];
const mounts: string[] = [];

function loopFile(name: string, mib: number, partitioned = false): string {
  const file = join(work, name);
  sh(`truncate -s ${mib}M '${file}'`);
  if (partitioned) sh(`printf 'label: dos\\n,16M,L\\n,,L\\n' | sfdisk -q '${file}'`);
  const dev = sh(`losetup --find --show ${partitioned ? '-P' : ''} '${file}'`).trim();
  loops.push(dev);
  // the partition scan of losetup -P may not have happened (yet): ask for it
  if (partitioned) sh(`partx -a ${dev} 2>/dev/null || true; for i in $(seq 50); do [ -b ${dev}p1 ] && break; sleep 0.1; done; [ -b ${dev}p1 ]`);
  return dev;
}

async function refusal(spec: Parameters<typeof openTarget>[0]): Promise<string> {
  const cleanup = new CleanupStack();
  const err = await openTarget(spec, { cleanup }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomuError);
  expect((err as DomuError).code).toBe('BAD_INPUT');
  expect(cleanup.size).toBe(0);
  return (err as Error).message;
}

beforeAll(() => {
  work = tempDir('device');
  src = join(work, 'src');
  mkdirSync(src);
  makeRichTree(src);
});

afterAll(() => {
  for (const m of mounts.reverse()) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  for (const l of loops) execFileSync('losetup', ['-d', l], { stdio: 'ignore' });
  sweep(work);
});

describe('block device targets (root, loop)', () => {
  it('refuses a regular file, and a device without --force, leaving it untouched', async () => {
    const file = join(work, 'plain');
    writeFileSync(file, 'x');
    expect(await refusal({ kind: 'device', path: file, fs: 'ext4', force: true })).toBe(`${file} is not a block device`);
    const dev = loopFile('unforced', 32);
    sh(`mkfs.ext2 -q -L keepme ${dev}`);
    expect(await refusal({ kind: 'device', path: dev, fs: 'ext4', force: false })).toBe(
      `writing ext4 on ${dev} destroys everything on it; add --force to do it`,
    );
    expect(sh(`blkid -o value -s LABEL ${dev}`).trim()).toBe('keepme');
  });

  it('refuses a mounted device even with --force', async () => {
    const dev = loopFile('mounted', 32);
    sh(`mkfs.ext4 -q ${dev}`);
    const mnt = join(work, 'mnt-whole');
    mkdirSync(mnt);
    sh(`mount ${dev} '${mnt}'`);
    mounts.push(mnt);
    expect(await refusal({ kind: 'device', path: dev, fs: 'ext4', force: true })).toBe(`refusing to write on ${dev} is mounted on ${mnt}`);
    sh(`umount '${mnt}'`);
    mounts.pop();
  });

  it('refuses a whole disk one of whose partitions is mounted', async () => {
    const dev = loopFile('parted', 48, true);
    const part = `${dev}p1`;
    sh(`mkfs.ext4 -q ${part}`);
    const mnt = join(work, 'mnt-part');
    mkdirSync(mnt);
    sh(`mount ${part} '${mnt}'`);
    mounts.push(mnt);
    expect(await refusal({ kind: 'device', path: dev, fs: 'ext4', force: true })).toBe(
      `refusing to write on ${dev} (partition ${part.slice(5)}) is mounted on ${mnt}`,
    );
    sh(`umount '${mnt}'`);
    mounts.pop();
  });

  it('with --force, makes the filesystem over the whole device: fsck-clean and identical', async () => {
    const dev = loopFile('forced', 64);
    sh(`mkfs.xfs -q -f ${dev} 2>/dev/null || mkfs.ext2 -q ${dev}`);
    const cleanup = new CleanupStack();
    const opened = await openTarget({ kind: 'device', path: dev, fs: 'ext4', label: 'dev-root', force: true }, { cleanup });
    mounts.push(opened.root);
    execFileSync('cp', ['-a', `${src}/.`, opened.root]);
    const summary = await opened.close();
    mounts.pop();
    expect(cleanup.size).toBe(0);
    expect(summary).toMatchObject({ kind: 'device', path: dev, fs: 'ext4', label: 'dev-root', size: 64 * 1024 * 1024 });
    expect(fsck(dev, 'ext4').status).toBe(0);
    expect(sh(`blkid -o value -s UUID ${dev}`).trim()).toBe(summary.uuid);
    await withImageMounted(join(work, 'forced'), (root) => expect(rsyncDiff(src, root)).toBe(''), 'ext4');
  });
});
