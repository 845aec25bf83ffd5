// fixup/mountpoints: the directories the kernel and init mount over (/proc, /sys, /dev, /run) and
// /tmp, which a copy that excluded them lacks (the seed: "You must mkdir /sys and /proc").

import { defineStage } from './context.js';

/** Each mount point, the mode it is created with, and the modes accepted on an existing one. */
export const MOUNTPOINTS: ReadonlyArray<{ path: string; mode: number; accept: number[] }> = [
  // the mounted proc and sys show 0555; the directory under them is 0555 or 0755 by distribution
  { path: '/proc', mode: 0o555, accept: [0o555, 0o755] },
  { path: '/sys', mode: 0o555, accept: [0o555, 0o755] },
  { path: '/dev', mode: 0o755, accept: [0o755] },
  { path: '/run', mode: 0o755, accept: [0o755] },
  // /tmp is used before any tmpfs is mounted on it: it must be world-writable and sticky
  { path: '/tmp', mode: 0o1777, accept: [0o1777] },
];

export const mountpointsStage = defineStage('mountpoints', 'create /proc, /sys, /dev, /run and /tmp with their modes', async (ctx, p) => {
  for (const { path, mode, accept } of MOUNTPOINTS) {
    const kind = await ctx.view.kind(path, false);
    if (kind === undefined) await p.ensureDir(path, mode);
    else if (kind === 'dir') {
      const st = (await ctx.view.canonical(path, false)).stat;
      if (st && !accept.includes(Number(st.mode & 0o7777n))) await p.chmodDir(path, mode);
    }
    else p.note(`${path} is not a directory in the guest (${kind}); left alone`);
  }
});
