// Image file targets on real files, loop devices and mounts: every filesystem, both ways of
// populating, qcow2/VMDK output, sizes, refusing to overwrite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CleanupStack } from '../../src/cleanup.js';
import { openTarget, type OpenedTarget, type TargetSpec } from '../../src/targets/index.js';
import { MiB } from '../../src/targets/size.js';
import { DomuError } from '../../src/errors.js';
import { fsck, loopsUnder, makeRichTree, rsyncDiff, sh, sweep, tempDir, withImageMounted } from './helpers.js';

let work: string;
let src: string;
const mountPoints: string[] = [];

beforeAll(() => {
  work = tempDir('image');
  src = join(work, 'src');
  mkdirSync(src);
  makeRichTree(src);
});

afterAll(() => sweep(work, mountPoints));

async function build(spec: TargetSpec, hint?: number): Promise<{ opened: OpenedTarget; cleanup: CleanupStack; summary: Awaited<ReturnType<OpenedTarget['close']>> }> {
  const cleanup = new CleanupStack();
  const log: string[] = [];
  try {
    const opened = await openTarget(spec, { cleanup, log: (l) => log.push(l), ...(hint !== undefined ? { sizeHint: async () => hint } : {}) });
    mountPoints.push(opened.root);
    expect(readdirSync(opened.root)).toEqual([]);
    execFileSync('cp', ['-a', `${src}/.`, opened.root]);
    const summary = await opened.close();
    expect(cleanup.size).toBe(0);
    return { opened, cleanup, summary };
  } catch (e) {
    await cleanup.runAll();
    throw e;
  }
}

function leftovers(): string[] {
  return readdirSync(work).filter((n) => n.includes('domu-forge'));
}

describe('image targets (root, loop)', () => {
  for (const fs of ['ext2', 'ext3', 'ext4', 'xfs'] as const) {
    it(`${fs} through a loop mount is fsck-clean and identical to the source, to the nanosecond`, async () => {
      const path = join(work, `mount-${fs}.img`);
      const size = fs === 'xfs' ? 320 * MiB : 96 * MiB;
      const { summary, opened } = await build({ kind: 'image', path, fs, size, label: `t-${fs}`, format: 'raw', populate: 'mount' });
      expect(summary).toMatchObject({ kind: 'image', path, fs, size, sizeEstimated: false, label: `t-${fs}`, format: 'raw', populate: 'mount' });
      expect(summary.uuid).toBe(opened.filesystem?.uuid);
      // what a clone of the host must leave out: the image, its temporary files, the mount point
      expect(opened.hostPaths).toEqual(expect.arrayContaining([path, opened.root, join(work, `.mount-${fs}.img.domu-forge-*`)]));
      expect(statSync(path).size).toBe(size);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(fsck(path, fs).status, fsck(path, fs).output).toBe(0);
      expect(sh(`blkid -o value -s TYPE '${path}'`).trim()).toBe(fs);
      expect(sh(`blkid -o value -s LABEL '${path}'`).trim()).toBe(`t-${fs}`);
      expect(sh(`blkid -o value -s UUID '${path}'`).trim()).toBe(summary.uuid);
      await withImageMounted(path, (root) => {
        expect(rsyncDiff(src, root, true, fs === 'xfs')).toBe('');
        // ext keeps a lost+found as mke2fs makes it; xfs has none
        if (fs === 'xfs') expect(existsSync(join(root, 'lost+found'))).toBe(false);
        else expect(lstatSync(join(root, 'lost+found')).mode & 0o7777).toBe(0o700);
      }, fs);
      expect(existsSync(opened.root)).toBe(false);
      expect(loopsUnder(work)).toEqual([]);
      expect(leftovers()).toEqual([]);
    });
  }

  it('ext3 is what the seed makes with mke2fs -j: a journal, no extents', async () => {
    const path = join(work, 'seed-ext3.img');
    await build({ kind: 'image', path, fs: 'ext3', size: 32 * MiB, format: 'raw', populate: 'mount' });
    const features = sh(`dumpe2fs -h '${path}' 2>/dev/null | grep -i '^Filesystem features'`);
    expect(features).toContain('has_journal');
    expect(features).not.toContain('extent');
  });

  it('mkfs-d is fsck-clean and identical to whole seconds; sub-second times are lost (mke2fs 1.47.0), the root keeps its own', async () => {
    const path = join(work, 'mkfs-d.img');
    const { summary } = await build({ kind: 'image', path, fs: 'ext4', label: 'staged', format: 'raw', populate: 'mkfs-d' });
    expect(summary.sizeEstimated).toBe(true);
    expect(fsck(path, 'ext4').status).toBe(0);
    await withImageMounted(path, (root) => {
      expect(rsyncDiff(src, root, false)).toBe('');
      const ns = rsyncDiff(src, root, true).split('\n').filter(Boolean);
      // this is why mount is the default: every entry but the root differs below the second
      expect(ns).not.toContain('.d..t...... ./');
      expect(ns.some((l) => l.includes(' f1'))).toBe(true);
      const st = statSync(root, { bigint: true });
      expect(st.mtimeNs).toBe(statSync(src, { bigint: true }).mtimeNs);
      expect(st.mode & 0o7777n).toBe(0o751n);
      expect([st.uid, st.gid]).toEqual([5n, 6n]);
    }, 'ext4');
    expect(leftovers()).toEqual([]);
  });

  for (const format of ['qcow2', 'vmdk'] as const) {
    it(`converts to ${format}, which converts back to a clean, identical filesystem`, async () => {
      const path = join(work, `out.${format}`);
      const { summary } = await build({ kind: 'image', path, fs: 'ext4', size: 64 * MiB, format, populate: 'mount' });
      expect(summary.format).toBe(format);
      expect(JSON.parse(sh(`qemu-img info --output=json '${path}'`))).toMatchObject({ format, 'virtual-size': 64 * MiB });
      const back = join(work, `back-${format}.img`);
      sh(`qemu-img convert -f ${format} -O raw '${path}' '${back}'`);
      expect(fsck(back, 'ext4').status).toBe(0);
      await withImageMounted(back, (root) => expect(rsyncDiff(src, root)).toBe(''), 'ext4');
      expect(leftovers()).toEqual([]);
    });
  }

  it('works out the size from the hint plus headroom when no --size is given, and logs it', async () => {
    const cleanup = new CleanupStack();
    const log: string[] = [];
    const path = join(work, 'estimated.img');
    const opened = await openTarget({ kind: 'image', path, fs: 'ext4', format: 'raw', populate: 'mount' }, {
      cleanup, log: (l) => log.push(l), sizeHint: async () => ({ bytes: 300 * MiB, inodes: 100 }),
    });
    mountPoints.push(opened.root);
    // the headroom is real: 300 MiB of data fits
    for (let i = 0; i < 30; i++) writeFileSync(join(opened.root, `f${i}`), Buffer.alloc(10 * MiB, i));
    const summary = await opened.close();
    expect(summary.sizeEstimated).toBe(true);
    expect(summary.size).toBeGreaterThan(300 * MiB);
    expect(summary.size! % (64 * MiB)).toBe(0);
    expect(log.join('\n')).toMatch(/image size \d+ MiB \(300 MiB of data plus headroom\)/);
    expect(fsck(path, 'ext4').status).toBe(0);
  });

  it('refuses an existing image without --force and keeps it; replaces it with --force', async () => {
    const path = join(work, 'existing.img');
    writeFileSync(path, 'precious');
    const cleanup = new CleanupStack();
    const spec = { kind: 'image', path, fs: 'ext4', size: 16 * MiB, format: 'raw', populate: 'mount' } as const;
    await expect(openTarget(spec, { cleanup })).rejects.toThrow(`${path} exists; add --force to replace it`);
    expect(cleanup.size).toBe(0);
    expect(sh(`cat '${path}'`)).toBe('precious');
    // with --force, the old file stays until the new image is complete
    const opened = await openTarget({ ...spec, force: true }, { cleanup });
    mountPoints.push(opened.root);
    expect(sh(`cat '${path}'`)).toBe('precious');
    await opened.close();
    expect(statSync(path).size).toBe(16 * MiB);
    expect(fsck(path, 'ext4').status).toBe(0);
  });

  it('checks the host disk: refuses a tree that cannot fit, warns when the sparse image could outgrow it', async () => {
    const small = join(work, 'small-host');
    mkdirSync(small);
    sh(`mount -t tmpfs -o size=48m tmpfs '${small}'`);
    mountPoints.push(small);
    try {
      const cleanup = new CleanupStack();
      const path = join(small, 'x.img');
      const err = await openTarget({ kind: 'image', path, fs: 'ext4', format: 'raw', populate: 'mount' }, {
        cleanup, sizeHint: async () => 100 * MiB,
      }).catch((e: unknown) => e);
      expect((err as DomuError).code).toBe('ENVIRONMENT');
      expect((err as Error).message).toBe(`the disk holding ${small} has 48 MiB free; the tree needs about 100 MiB`);
      expect(cleanup.size).toBe(0);
      expect(readdirSync(small)).toEqual([]);
      const log: string[] = [];
      const opened = await openTarget({ kind: 'image', path, fs: 'ext4', size: 64 * MiB, format: 'raw', populate: 'mount' }, { cleanup, log: (l) => log.push(l) });
      mountPoints.push(opened.root);
      expect(log).toContain(`warning: the disk holding ${small} has 48 MiB free; the sparse image can grow to 64 MiB`);
      execFileSync('cp', ['-a', `${src}/.`, opened.root]);
      await opened.close();
      expect(fsck(path, 'ext4').status).toBe(0);
    } finally {
      sh(`umount '${small}'`);
    }
  });

  it('refuses bad input with clear messages before touching anything', async () => {
    const cleanup = new CleanupStack();
    const base = { kind: 'image', fs: 'ext4', format: 'raw', populate: 'mount' } as const;
    const cases: Array<[TargetSpec, string]> = [
      [{ ...base, path: join(work, 'no-such-dir', 'x.img'), size: 16 * MiB }, 'is not an existing directory'],
      [{ ...base, path: work, size: 16 * MiB }, 'is a directory; --image takes a file name'],
      [{ ...base, path: join(work, 'x.img') }, 'give --size for'],
      [{ ...base, path: join(work, 'x.img'), fs: 'xfs', size: 100 * MiB }, '--size 100 MiB is too small for xfs: the least is 300 MiB'],
      [{ ...base, path: join(work, 'x.img'), fs: 'xfs', populate: 'mkfs-d', size: 400 * MiB }, '--populate mkfs-d makes ext2, ext3 or ext4 only'],
      [{ ...base, path: join(work, 'x.img'), size: 16 * MiB, label: 'a-label-longer-than-16' }, 'ext4 labels hold at most 16'],
    ];
    for (const [spec, message] of cases) {
      const err = await openTarget(spec, { cleanup }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomuError);
      expect((err as Error).message).toContain(message);
      expect(cleanup.size).toBe(0);
    }
    expect(existsSync(join(work, 'x.img'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
