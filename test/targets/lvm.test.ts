// LVM volume targets in a volume group made on a loop device and removed afterwards. Creating a
// volume needs the kernel's device-mapper; where the kernel has none (this CI host), the test checks
// the clear refusal instead, and the full write-and-compare test says it is skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CleanupStack } from '../../src/cleanup.js';
import { openTarget } from '../../src/targets/index.js';
import { hasDeviceMapper } from '../../src/targets/system.js';
import { MiB } from '../../src/targets/size.js';
import { DomuError } from '../../src/errors.js';
import { fsck, makeRichTree, rsyncDiff, sh, sweep, tempDir } from './helpers.js';

const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };
const dm = await hasDeviceMapper();
const vg = `dftest${process.pid}`;
let work: string;
let src: string;
let pv = '';
const mounts: string[] = [];

function lvm(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { env, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Add a volume to the group's metadata only (vgcfgbackup, edit, vgcfgrestore): the way to have an
 * existing volume where device-mapper is missing and lvcreate cannot run.
 */
function addVolumeToMetadata(lv: string): void {
  const file = join(work, 'vg.backup');
  lvm(['vgcfgbackup', '-q', '-f', file, vg]);
  const text = readFileSync(file, 'latin1');
  const at = text.indexOf('\n\t}\n', text.indexOf('physical_volumes {')) + 4;
  const block = `
\tlogical_volumes {
\t\t${lv} {
\t\t\tid = "abcdef-ghij-klmn-opqr-stuv-wxyz-012345"
\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]
\t\t\tflags = []
\t\t\tsegment_count = 1
\t\t\tsegment1 {
\t\t\t\tstart_extent = 0
\t\t\t\textent_count = 2
\t\t\t\ttype = "striped"
\t\t\t\tstripe_count = 1
\t\t\t\tstripes = [
\t\t\t\t\t"pv0", 0
\t\t\t\t]
\t\t\t}
\t\t}
\t}
`;
  writeFileSync(file, text.slice(0, at) + block + text.slice(at));
  spawnSync('vgcfgrestore', ['-f', file, vg], { env });
  expect(lvm(['lvs', '--noheadings', '-o', 'lv_name', `${vg}/${lv}`]).trim()).toBe(lv);
}

beforeAll(() => {
  work = tempDir('lvm');
  src = join(work, 'src');
  mkdirSync(src);
  makeRichTree(src);
  sh(`truncate -s 256M '${work}/pv.img'`);
  pv = sh(`losetup --find --show '${work}/pv.img'`).trim();
  lvm(['pvcreate', '-q', pv]);
  lvm(['vgcreate', '-q', vg, pv]);
});

afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  spawnSync('vgremove', ['-f', vg], { env });
  if (pv) {
    spawnSync('pvremove', ['-q', pv], { env });
    spawnSync('losetup', ['-d', pv]);
  }
  sweep(work);
});

async function refusal(spec: Parameters<typeof openTarget>[0]): Promise<DomuError> {
  const cleanup = new CleanupStack();
  const err = await openTarget(spec, { cleanup }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomuError);
  expect(cleanup.size).toBe(0);
  return err as DomuError;
}

describe('LVM volume targets (root, loop, lvm)', () => {
  it('refuses a volume group that does not exist', async () => {
    const err = await refusal({ kind: 'lvm', vg: `${vg}-none`, lv: 'x', fs: 'ext4', size: 32 * MiB });
    expect(err.message).toBe(`volume group ${vg}-none not found`);
    expect(err.code).toBe('BAD_INPUT');
  });

  it('refuses an existing volume without --force', async () => {
    addVolumeToMetadata('old');
    const err = await refusal({ kind: 'lvm', vg, lv: 'old', fs: 'ext4', size: 32 * MiB });
    expect(err.message).toBe(`volume ${vg}/old exists; add --force to replace it (its data is lost)`);
    // still there
    expect(lvm(['lvs', '--noheadings', '-o', 'lv_name', `${vg}/old`]).trim()).toBe('old');
  });

  it.skipIf(dm)('says clearly that LVM needs device-mapper when the kernel has none, keeping an existing volume', async () => {
    const err = await refusal({ kind: 'lvm', vg, lv: 'old', fs: 'ext4', size: 32 * MiB, force: true });
    expect(err.code).toBe('ENVIRONMENT');
    expect(err.message).toBe(`cannot create ${vg}/old: this kernel has no device-mapper, which LVM volumes need`);
    expect(lvm(['lvs', '--noheadings', '-o', 'lv_name', `${vg}/old`]).trim()).toBe('old');
  });

  it.skipIf(!dm)('creates the volume, makes the filesystem, and the tree is fsck-clean and identical; --force replaces it', async () => {
    for (const force of [false, true]) {
      const cleanup = new CleanupStack();
      const opened = await openTarget({ kind: 'lvm', vg, lv: 'web', fs: 'ext4', size: 64 * MiB, label: 'web-root', force }, { cleanup });
      mounts.push(opened.root);
      execFileSync('cp', ['-a', `${src}/.`, opened.root]);
      const summary = await opened.close();
      mounts.pop();
      expect(cleanup.size).toBe(0);
      expect(summary).toMatchObject({ kind: 'lvm', path: `/dev/${vg}/web`, fs: 'ext4', size: 64 * MiB, label: 'web-root' });
      expect(fsck(`/dev/${vg}/web`, 'ext4').status).toBe(0);
      const mnt = join(work, 'ro');
      mkdirSync(mnt, { recursive: true });
      sh(`mount -o ro /dev/${vg}/web '${mnt}'`);
      try {
        expect(rsyncDiff(src, mnt)).toBe('');
      } finally {
        sh(`umount '${mnt}'`);
      }
    }
  });

  it.skipIf(!dm)('removes a half-made volume when the run fails', async () => {
    const cleanup = new CleanupStack();
    const opened = await openTarget({ kind: 'lvm', vg, lv: 'half', fs: 'ext4', size: 32 * MiB }, { cleanup });
    expect(lvm(['lvs', '--noheadings', '-o', 'lv_name', `${vg}/half`]).trim()).toBe('half');
    expect(await cleanup.runAll()).toEqual([]);
    expect(spawnSync('lvs', [`${vg}/half`], { env }).status).not.toBe(0);
    expect(readFileSync('/proc/self/mountinfo', 'latin1')).not.toContain(opened.root);
  });
});
