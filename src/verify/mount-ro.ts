// Opening the target side of a comparison read-only: a directory as is; an image file through a
// read-only loop device and a read-only mount (no journal replay); an LVM volume or block device
// by a read-only mount. qcow2 and VMDK images are first converted to a temporary raw file.
// Every mount, loop device and temporary file goes on the CleanupStack and is released by close().

import { mkdtemp, open, rm, rmdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CleanupStack } from '../cleanup.js';
import { DomuError, errnoCode } from '../errors.js';
import { runTool } from '../sys/exec.js';

export interface OpenedTree {
  root: string;
  /** What was opened: "directory", "image file", "block device". */
  kind: 'directory' | 'image file' | 'block device';
  close(): Promise<void>;
}

async function imageFormat(file: string): Promise<'raw' | 'qcow2' | 'vmdk'> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    if (b.equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) return 'qcow2';
    if (b.toString('latin1') === 'KDMV') return 'vmdk';
    return 'raw';
  } finally {
    await fh.close();
  }
}

async function blkidValue(dev: string, tag: 'TYPE' | 'PTTYPE'): Promise<string> {
  const r = await runTool('blkid', ['-p', '-o', 'value', '-s', tag, dev], { allowFailure: true });
  return r.stdout.toString().trim();
}

/** Resolve "VG/LV" to /dev/VG/LV when it names an existing volume. */
export function resolveVolume(target: string): string {
  if (!target.startsWith('/') && !existsSync(target) && /^[A-Za-z0-9+_.-]+\/[A-Za-z0-9+_.-]+$/.test(target)) {
    const dev = `/dev/${target}`;
    if (existsSync(dev)) return dev;
  }
  return target;
}

/**
 * Open `target` for reading. Pass a CleanupStack to share one with a pipeline; otherwise a private
 * one is used. close() releases everything this call set up, newest first.
 */
export async function openReadOnly(target: string, cleanup = new CleanupStack()): Promise<OpenedTree> {
  const path = resolveVolume(target);
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new DomuError('BAD_INPUT', `${target}: ${errnoCode(e) === 'ENOENT' ? 'no such file, directory or volume' : (e as Error).message}`);
  }
  if (st.isDirectory()) return { root: path, kind: 'directory', close: async () => undefined };
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new DomuError('BAD_INPUT', `${target} is not a directory, an image file or a block device`);
  }
  if (process.getuid?.() !== 0) throw new DomuError('ENVIRONMENT', `mounting ${target} needs root`);

  const undo: Array<() => void> = [];
  const steps: Array<() => Promise<void>> = [];
  const track = (label: string, run: () => Promise<void>) => {
    undo.push(cleanup.push(label, run));
    steps.push(run);
  };
  const close = async () => {
    for (const drop of undo.splice(0)) drop();
    const todo = steps.splice(0).reverse();
    const failures: string[] = [];
    for (const run of todo) {
      try {
        await run();
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (failures.length > 0) throw new DomuError('INTERNAL', `releasing ${target}: ${failures.join('; ')}`);
  };

  try {
    const work = await mkdtemp(join(tmpdir(), 'domu-forge-verify-'));
    track(`remove ${work}`, () => rm(work, { recursive: true, force: true }));
    let dev = path;
    if (st.isFile()) {
      let raw = path;
      const format = await imageFormat(path);
      if (format !== 'raw') {
        raw = join(work, 'image.raw');
        await runTool('qemu-img', ['convert', '-f', format, '-O', 'raw', path, raw]);
      }
      const r = await runTool('losetup', ['--find', '--show', '--read-only', '--partscan', raw]);
      const loop = r.stdout.toString().trim();
      track(`detach ${loop}`, async () => {
        await runTool('losetup', ['-d', loop]);
      });
      dev = loop;
    }
    let fsType = await blkidValue(dev, 'TYPE');
    if (fsType === '' && (await blkidValue(dev, 'PTTYPE')) !== '') {
      // A partitioned disk: the root filesystem is taken to be the first partition.
      const part = /\d$/.test(dev) ? `${dev}p1` : `${dev}1`;
      for (let i = 0; i < 20 && !existsSync(part); i++) await new Promise((r) => setTimeout(r, 100));
      dev = part;
      fsType = await blkidValue(dev, 'TYPE');
    }
    if (fsType === '') throw new DomuError('BAD_INPUT', `${target} holds no filesystem that blkid recognises`);
    const mnt = join(work, 'mnt');
    await runTool('mkdir', [mnt]);
    // Mount without replaying a journal, so the check writes nothing to the image.
    const opts = fsType === 'xfs' ? 'ro,norecovery' : fsType.startsWith('ext') ? 'ro,noload' : 'ro';
    await runTool('mount', ['-t', fsType, '-o', opts, dev, mnt]);
    track(`unmount ${mnt}`, async () => {
      await runTool('umount', [mnt]);
      await rmdir(mnt);
    });
    return { root: mnt, kind: st.isFile() ? 'image file' : 'block device', close };
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
}
