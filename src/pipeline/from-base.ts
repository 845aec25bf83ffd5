// A fleet guest's disk from the fleet's base image, two ways: a sparse copy (holes stay holes, only
// the data is written), or a qcow2 overlay whose backing file is the base (only the guest's own
// changes are written; opened read-write through qemu-storage-daemon's FUSE export, then a loop
// device). Either is grown to the guest's size, mounted for the guest's own stages, and renamed
// into place only when complete. Every step is on the CleanupStack.

import { chmod, mkdir, mkdtemp, open, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DomuError, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { processRuns } from '../sys/process.js';
import type { CleanupStack } from '../cleanup.js';
import type { OpenedTarget, TargetSummary } from '../targets/index.js';
import type { SpecFs } from '../spec/types.js';

export type FromBaseMethod = 'copy' | 'overlay';

export interface FromBaseOptions {
  base: string;
  /** copy: a standalone raw image; overlay: a qcow2 image backed by the base (which must then stay). */
  method?: FromBaseMethod;
  path: string;
  /** Bytes; at least the base's size. Default: the base's size. */
  size?: number;
  fs: SpecFs;
  cleanup: CleanupStack;
}

/** Copy a raw image keeping its holes (coreutils cp finds them with SEEK_DATA/SEEK_HOLE). */
export async function sparseCopy(from: string, to: string): Promise<void> {
  await runTool('cp', ['--sparse=always', '--', from, to]);
}

/** The filesystem's UUID and label, in one blkid run ("" when it has none). */
async function blkid(dev: string): Promise<{ uuid: string; label: string }> {
  const out = (await runTool('blkid', ['-p', '-o', 'export', dev], { allowFailure: true })).stdout.toString();
  const tag = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1]?.replace(/\\(.)/g, '$1') ?? '';
  return { uuid: tag('UUID'), label: tag('LABEL') };
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!processRuns(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new DomuError('INTERNAL', `qemu-storage-daemon ${pid} did not stop`);
}

/** A qcow2 image exposed as a raw file through a FUSE export; stop() flushes and releases it. */
async function exportQcow2(qcow2: string, exposed: string): Promise<{ stop: () => Promise<void> }> {
  const pidfile = `${exposed}.pid`;
  await writeFile(exposed, '');
  await runTool('qemu-storage-daemon', [
    '--blockdev', `driver=file,node-name=file0,filename=${qcow2.replace(/,/g, ',,')}`,
    '--blockdev', 'driver=qcow2,node-name=disk0,file=file0',
    '--export', `type=fuse,id=exp0,node-name=disk0,mountpoint=${exposed.replace(/,/g, ',,')},writable=on`,
    '--daemonize', '--pidfile', pidfile,
  ]);
  const pid = Number((await readFile(pidfile, 'utf8')).trim());
  let stopped = false;
  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // The FUSE mount outlives the daemon unless it is unmounted first; SIGTERM then flushes the qcow2.
      await runTool('umount', [exposed], { allowFailure: true });
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await waitGone(pid);
      await rm(exposed, { force: true });
      await rm(pidfile, { force: true });
    },
  };
}

export async function openFromBase(o: FromBaseOptions): Promise<OpenedTarget> {
  const baseSt = await stat(o.base).catch(() => undefined);
  if (!baseSt?.isFile()) throw new DomuError('INTERNAL', `the fleet's base image ${o.base} is missing`);
  const size = o.size ?? baseSt.size;
  if (size < baseSt.size) {
    throw new DomuError('BAD_INPUT', `${basename(o.path)}: size ${(size / 2 ** 20).toFixed(0)} MiB is smaller than the base image (${(baseSt.size / 2 ** 20).toFixed(0)} MiB)`);
  }
  await mkdir(dirname(o.path), { recursive: true });
  const method = o.method ?? 'copy';
  const partial = join(dirname(o.path), `.${basename(o.path)}.partial-${process.pid}`);
  const drops: Array<() => void> = [];
  drops.push(o.cleanup.push(`remove half-made ${partial}`, () => rm(partial, { force: true })));
  await rm(partial, { force: true });
  // the disk holds the guest's secrets (shadow, host keys): made 0600 before any byte is written,
  // since cp and qemu-img keep an existing file's mode and would otherwise create it 0644
  await (await open(partial, 'wx', 0o600)).close();
  let device: string;
  let stopExport: (() => Promise<void>) | undefined;
  if (method === 'copy') {
    await sparseCopy(o.base, partial);
    if (size > baseSt.size) await runTool('truncate', ['-s', String(size), partial]);
    device = partial;
  } else {
    await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', o.base, '-F', 'raw', partial, String(size)]);
    const exposed = join(dirname(o.path), `.${basename(o.path)}.raw-${process.pid}`);
    const exp = await exportQcow2(partial, exposed);
    stopExport = exp.stop;
    drops.push(o.cleanup.push(`stop the FUSE export ${exposed}`, exp.stop));
    device = exposed;
  }
  if (size > baseSt.size && o.fs !== 'xfs') {
    // ext: grow offline (the kernel refuses an online resize of a filesystem made without reserved
    // GDT blocks); resize2fs wants a freshly checked filesystem first. xfs grows online, below.
    await runTool('e2fsck', ['-f', '-p', device]);
    await runTool('resize2fs', [device]);
  }
  const loop = (await runTool('losetup', ['--find', '--show', device])).stdout.toString().trim();
  const detach = async () => void (await runTool('losetup', ['-d', loop], { allowFailure: true }));
  drops.push(o.cleanup.push(`detach ${loop}`, detach));
  const mnt = await mkdtemp(join(dirname(o.path), `.${basename(o.path)}.mnt-`));
  drops.push(o.cleanup.push(`remove ${mnt}`, () => rmdir(mnt).catch(() => undefined)));
  await runTool('mount', ['-t', o.fs, loop, mnt]);
  const umount = async () => void (await runTool('umount', [mnt], { allowFailure: true }));
  drops.push(o.cleanup.push(`unmount ${mnt}`, umount));
  if (size > baseSt.size && o.fs === 'xfs') await runTool('xfs_growfs', [mnt]);
  const { uuid, label } = await blkid(loop);
  return {
    root: mnt,
    spec: { kind: 'image', path: o.path, fs: o.fs, format: method === 'copy' ? 'raw' : 'qcow2', populate: 'mount' },
    filesystem: { fs: o.fs, uuid, ...(label ? { label } : {}) },
    hostPaths: [mnt, partial, o.path],
    explainError: (e) => (/No space left/.test(oneLine(e)) ? new DomuError('ENVIRONMENT', `${o.path} is full; give the guest a larger size`) : undefined),
    close: async (): Promise<TargetSummary> => {
      await runTool('sync', ['-f', mnt]);
      await runTool('umount', [mnt]);
      await rmdir(mnt);
      await runTool('losetup', ['-d', loop]);
      if (stopExport) await stopExport();
      await chmod(partial, 0o600);
      await rename(partial, o.path);
      for (const d of drops.splice(0)) d();
      const st = await stat(o.path);
      const du = st.blocks * 512; // what du -B1 says: the bytes allocated
      return { kind: 'image', path: o.path, fs: o.fs, uuid, size: method === 'copy' ? st.size : size, format: method === 'copy' ? 'raw' : 'qcow2', populate: 'mount', fileBytes: du, ...(label ? { label } : {}) };
    },
  };
}
