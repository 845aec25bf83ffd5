// Existing block device targets: a new filesystem over the whole device, only with --force, and
// never on a device that is mounted, a swap area, held by device-mapper/md, or otherwise busy.

import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import type { DeviceSpec, OpenOptions, OpenedTarget } from './types.js';
import { checkFsType, checkLabel, makeFilesystem } from './mkfs.js';
import { MIN_SIZE, formatSize } from './size.js';
import { blockDeviceSize, blockDeviceUsers } from './system.js';
import { mountForPopulate } from './mounted.js';
import { fullTargetError } from './errors.js';

export async function openDevice(spec: DeviceSpec, opts: OpenOptions): Promise<OpenedTarget> {
  const { cleanup, signal, log } = opts;
  const fs = checkFsType(spec.fs);
  checkLabel(spec.label, fs);
  const device = resolve(spec.path);
  const st = await stat(device).catch((e: unknown) => {
    throw new DomuError('BAD_INPUT', `${device}: ${errnoCode(e) === 'ENOENT' ? 'no such device' : oneLine(e)}`);
  });
  if (!st.isBlockDevice()) throw new DomuError('BAD_INPUT', `${device} is not a block device`, { hint: 'for an image file, use --image' });
  const busy = await blockDeviceUsers(device);
  if (busy.length > 0) throw new DomuError('BAD_INPUT', `refusing to write on ${busy[0]}`);
  if (!spec.force) {
    throw new DomuError('BAD_INPUT', `writing ${fs} on ${device} destroys everything on it; add --force to do it`);
  }
  const size = await blockDeviceSize(device);
  if (size < MIN_SIZE[fs]) throw new DomuError('BAD_INPUT', `${device} holds ${formatSize(size)}; ${fs} needs at least ${formatSize(MIN_SIZE[fs])}`);
  const uuid = randomUUID();
  log?.(`making ${fs} on ${device} (${formatSize(size)})`);
  await makeFilesystem(fs, device, { label: spec.label, uuid, extra: spec.mkfsOptions, signal });
  const mounted = await mountForPopulate(device, fs, cleanup, signal);
  return {
    root: mounted.root,
    spec,
    hostPaths: [mounted.root],
    filesystem: { fs, uuid, ...(spec.label !== undefined ? { label: spec.label } : {}) },
    explainError: (e) => fullTargetError(e, `device ${device}`, size),
    close: async () => {
      await mounted.finish();
      return { kind: 'device', path: device, fs, size, uuid, ...(spec.label !== undefined ? { label: spec.label } : {}) };
    },
  };
}
