// A freshly made ext4 filesystem on a loop file for each timed run. Reusing a filesystem after
// rm -rf skews timings badly on this machine's journal-less root ext4, so every run gets a new one.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface FreshFs {
  mountpoint: string;
  dispose(): void;
}

export function benchDir(): string {
  const dir = process.env.BENCH_DIR || '/var/tmp/domu-forge-bench';
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `directIo`: attach the loop device with --direct-io=on, as the image targets do. */
export function makeFreshFs(sizeGiB: number, fs = 'ext4', directIo = false): FreshFs {
  const dir = mkdtempSync(join(benchDir(), 'fs-'));
  const image = join(dir, 'image');
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint);
  execFileSync('truncate', ['-s', `${sizeGiB}G`, image]);
  // ext: the inode tables and journal zeroed now (untimed), not by ext4lazyinit in the background
  // of the first seconds after the mount, where it would write beside whichever run came first
  execFileSync(`mkfs.${fs}`, fs.startsWith('ext') ? ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image] : ['-q', '-f', image]);
  const loop = execFileSync('losetup', [...(directIo ? ['--direct-io=on'] : []), '--find', '--show', image]).toString().trim();
  execFileSync('mount', [loop, mountpoint]);
  return {
    mountpoint,
    dispose() {
      try {
        execFileSync('umount', [mountpoint]);
      } finally {
        execFileSync('losetup', ['-d', loop]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export function dropCaches(): void {
  execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);
}

/** Write back what is dirty and let the disk go quiet, so one timed run does not pay for the last. */
export function settle(): void {
  execFileSync('sync');
  execFileSync('sleep', ['2']);
}

const DIRTY_KNOBS = ['vm.dirty_background_ratio', 'vm.dirty_ratio'] as const;

/**
 * Let a run's writes stay in memory (background writeback from 50% of RAM, throttling from 70%)
 * instead of being throttled to the host disk's write speed, which on a shared machine varies
 * from run to run and would drown the differences between the tools. Returns the restore call.
 */
export function holdWriteback(): () => void {
  const before = DIRTY_KNOBS.map((k) => execFileSync('sysctl', ['-n', k]).toString().trim());
  execFileSync('sysctl', ['-q', '-w', `${DIRTY_KNOBS[0]}=50`, `${DIRTY_KNOBS[1]}=70`]);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    execFileSync('sysctl', ['-q', '-w', ...DIRTY_KNOBS.map((k, i) => `${k}=${before[i]}`)]);
  };
  process.once('exit', restore);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { restore(); process.exit(130); });
  return restore;
}
