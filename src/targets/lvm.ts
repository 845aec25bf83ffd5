// LVM volume targets (the seed's `lvcreate -L 4096 -n malcom scotland`): create the volume in a
// named volume group, then make and populate a filesystem on it as on an image. A half-made volume
// is removed on error. Works without udev: the device node is checked (and made with vgmknodes).

import { access } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomuError, oneLine } from '../errors.js';
import { runTool, type ToolResult } from '../sys/exec.js';
import type { LvmSpec, OpenOptions, OpenedTarget } from './types.js';
import { checkFsType, checkLabel, makeFilesystem } from './mkfs.js';
import { MiB, checkSizeForFs, estimateImageSize, ext2InodesFor, formatSize, normalizeHint } from './size.js';
import { blockDeviceSize, blockDeviceUsers, hasDeviceMapper } from './system.js';
import { mountForPopulate } from './mounted.js';
import { fullTargetError } from './errors.js';

// LVM warns about every inherited descriptor; the warnings are noise here
const LVM_ENV = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };

function lvm(tool: string, args: string[], signal?: AbortSignal): Promise<ToolResult> {
  return runTool(tool, args, { env: LVM_ENV, allowFailure: true, ...(signal ? { signal } : {}) });
}

/** Names LVM accepts for a VG or LV (lvm(8): letters, digits and + _ . -, not starting with -). */
const LVM_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;

/** xen-tools' volume names for a guest: NAME-disk (root) and NAME-swap. */
export function guestVolumeNames(name: string): { disk: string; swap: string } {
  return { disk: `${name}-disk`, swap: `${name}-swap` };
}

/** The swap volume that goes with a root volume: NAME-disk -> NAME-swap (any other LV: LV-swap). */
export function swapVolumeOf(lv: string): string {
  return /-disk$/.test(lv) ? `${lv.slice(0, -5)}-swap` : `${lv}-swap`;
}

export function checkLvmNames(vg: string, lv: string): void {
  for (const [what, name] of [['volume group', vg], ['volume', lv]] as const) {
    if (!LVM_NAME.test(name) || name === '.' || name === '..') {
      throw new DomuError('USAGE', `--lvm: ${JSON.stringify(name)} is not a valid ${what} name (letters, digits, + _ . -)`);
    }
  }
}

/** Whether VG/LV exists, and whether it is open (mounted or otherwise in use). */
async function volumeState(vg: string, lv: string): Promise<{ exists: boolean; open: boolean }> {
  const r = await lvm('lvs', ['--noheadings', '-o', 'lv_name,lv_attr', `${vg}/${lv}`]);
  if (r.status !== 0) return { exists: false, open: false };
  const attr = r.stdout.toString().trim().split(/\s+/)[1] ?? '';
  return { exists: true, open: attr[5] === 'o' };
}

async function removeVolume(vg: string, lv: string): Promise<void> {
  const r = await lvm('lvremove', ['-f', `${vg}/${lv}`]);
  if (r.status !== 0 && (await volumeState(vg, lv)).exists) {
    throw new DomuError('INTERNAL', `lvremove ${vg}/${lv} failed: ${oneLine(r.stderr)}`);
  }
}

export async function openLvm(spec: LvmSpec, opts: OpenOptions): Promise<OpenedTarget> {
  const { cleanup, signal, log } = opts;
  const fs = checkFsType(spec.fs);
  checkLabel(spec.label, fs);
  checkLvmNames(spec.vg, spec.lv);
  if (spec.size !== undefined) checkSizeForFs(spec.size, fs);
  const name = `${spec.vg}/${spec.lv}`;
  const vgs = await lvm('vgs', ['--noheadings', '-o', 'vg_name', spec.vg]);
  if (vgs.status !== 0) {
    throw new DomuError('BAD_INPUT', `volume group ${spec.vg} not found`, { hint: 'list them with: vgs' });
  }
  const state = await volumeState(spec.vg, spec.lv);
  if (state.exists && !spec.force) throw new DomuError('BAD_INPUT', `volume ${name} exists; add --force to replace it (its data is lost)`);
  if (state.exists && state.open) throw new DomuError('BAD_INPUT', `volume ${name} is in use (mounted or open); not replacing it`);
  if (!(await hasDeviceMapper())) {
    throw new DomuError('ENVIRONMENT', `cannot create ${name}: this kernel has no device-mapper, which LVM volumes need`, {
      hint: 'load it with: modprobe dm_mod (or use --image)',
    });
  }

  let size = spec.size;
  let sizeEstimated = false;
  let inodes: number | undefined;
  if (size === undefined) {
    if (!opts.sizeHint) throw new DomuError('USAGE', `give --size for ${name}: there is nothing to estimate it from`);
    const usage = normalizeHint(await opts.sizeHint());
    size = estimateImageSize(usage, fs);
    sizeEstimated = true;
    inodes = fs === 'xfs' ? undefined : ext2InodesFor(size, usage.inodes);
    log?.(`volume size ${formatSize(size)} (${formatSize(usage.bytes)} of data plus headroom)`);
  }

  if (state.exists) {
    log?.(`removing the existing volume ${name} (--force)`);
    await removeVolume(spec.vg, spec.lv);
  }
  // -Wn -Zn: wiping and zeroing want udev to settle; mkfs overwrites what matters anyway
  const created = await lvm('lvcreate', ['-y', '-Wn', '-Zn', '-L', `${size / MiB}m`, '-n', spec.lv, spec.vg], signal);
  if (created.status !== 0) {
    if ((await volumeState(spec.vg, spec.lv)).exists) await removeVolume(spec.vg, spec.lv);
    const why = oneLine(created.stderr);
    if (/insufficient free space|Insufficient suitable/i.test(why)) {
      throw new DomuError('ENVIRONMENT', `volume group ${spec.vg} has no room for ${formatSize(size)}: ${why}`);
    }
    throw new DomuError('INTERNAL', `lvcreate ${name} failed: ${why}`);
  }
  const dropVolume = cleanup.push(`remove half-made volume ${name}`, () => removeVolume(spec.vg, spec.lv));
  const device = `/dev/${spec.vg}/${spec.lv}`;
  if (!(await waitForNode(device))) {
    await lvm('vgmknodes', [spec.vg]);
    if (!(await waitForNode(device))) throw new DomuError('ENVIRONMENT', `${device} did not appear after lvcreate (no udev, and vgmknodes did not make it)`);
  }
  const busy = await blockDeviceUsers(device);
  if (busy.length > 0) throw new DomuError('INTERNAL', `the new volume is already in use: ${busy[0]}`);
  const uuid = randomUUID();
  log?.(`making ${fs} on ${device} (${formatSize(size)})`);
  await makeFilesystem(fs, device, { label: spec.label, uuid, inodes, extra: spec.mkfsOptions, signal });
  const mounted = await mountForPopulate(device, fs, cleanup, signal);
  // lvcreate rounds up to whole extents
  const finalSize = await blockDeviceSize(device);
  return {
    root: mounted.root,
    spec,
    hostPaths: [mounted.root],
    filesystem: { fs, uuid, ...(spec.label !== undefined ? { label: spec.label } : {}) },
    explainError: (e) => fullTargetError(e, `volume ${name}`, finalSize),
    close: async () => {
      await mounted.finish();
      dropVolume();
      return {
        kind: 'lvm',
        path: device,
        fs,
        size: finalSize,
        sizeEstimated,
        uuid,
        ...(spec.label !== undefined ? { label: spec.label } : {}),
      };
    },
  };
}

async function waitForNode(device: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if (await access(device).then(() => true, () => false)) return true;
    await sleep(50);
  }
  return false;
}
