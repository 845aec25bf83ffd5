// The guest's swap disk: a swap volume VG/LV-swap (lvcreate) or a sparse swap file, made with mkswap.
// Its removal goes on the cleanup stack, so a failed build leaves no swap behind.

import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import { runTool } from '../sys/exec.js';
import { MiB } from '../sys/size.js';

export type SwapSpec =
  | { kind: 'lvm'; vg: string; lv: string; path: string; size: number; label: string }
  | { kind: 'file'; path: string; size: number; label: string };

/** Make the swap disk; returns its path. `label` is cut to mkswap's 16 bytes. */
export async function makeSwap(s: SwapSpec, cleanup: CleanupStack): Promise<string> {
  if (s.kind === 'lvm') {
    await runTool('lvcreate', ['-y', '-W', 'y', '-L', `${Math.ceil(s.size / MiB)}m`, '-n', s.lv, s.vg]);
    cleanup.push(`remove swap volume ${s.path}`, async () => void (await runTool('lvremove', ['-f', '-y', s.path], { allowFailure: true })));
  } else {
    await mkdir(dirname(s.path), { recursive: true });
    await rm(s.path, { force: true });
    await runTool('truncate', ['-s', String(s.size), s.path]);
    cleanup.push(`remove swap file ${s.path}`, () => rm(s.path, { force: true }));
  }
  await runTool('mkswap', ['-L', s.label.slice(0, 16), s.path]);
  return s.path;
}
