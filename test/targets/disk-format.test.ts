// Importing VMDK and qcow2 disks as raw images with the real qemu-img, and refusing disks that would
// make qemu-img read other files on the host (backing files, external data files, VMDK extents).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CleanupStack } from '../../src/cleanup.js';
import { importDisk } from '../../src/targets/disk-format.js';
import { DomuError } from '../../src/errors.js';
import { sh, sweep, tempDir } from './helpers.js';

let work: string;
let raw: string;
let parted: string;

beforeAll(() => {
  work = tempDir('disk');
  raw = join(work, 'fs.raw');
  // a bare ext4 filesystem with some content, made without a mount
  sh(`mkdir '${work}/tree' && head -c 2000000 /dev/urandom > '${work}/tree/data' && truncate -s 40M '${raw}' && mke2fs -q -t ext4 -d '${work}/tree' '${raw}'`);
  parted = join(work, 'disk.raw');
  sh(`truncate -s 20M '${parted}' && printf 'label: dos\\n,,L\\n' | sfdisk -q '${parted}'`);
});

afterAll(() => sweep(work));

async function refused(input: string, message: string, output = join(work, 'refused.img')): Promise<void> {
  const cleanup = new CleanupStack();
  const err = await importDisk({ input, output, cleanup }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomuError);
  expect((err as Error).message).toContain(message);
  expect(cleanup.size).toBe(0);
  expect(sh(`ls -A '${work}' | grep -c domu-forge || true`).trim()).toBe('0');
}

describe('import-disk (qemu-img)', () => {
  for (const format of ['vmdk', 'qcow2'] as const) {
    it(`imports a ${format} disk as a sparse raw image byte-identical to the original`, async () => {
      const disk = join(work, `fs.${format}`);
      sh(`qemu-img convert -f raw -O ${format} '${raw}' '${disk}'`);
      const output = join(work, `imported-${format}.img`);
      const cleanup = new CleanupStack();
      const s = await importDisk({ input: disk, output, cleanup });
      expect(s).toMatchObject({ inputFormat: format, output, virtualSize: 40 * 1024 * 1024, layout: 'ext' });
      expect(cleanup.size).toBe(0);
      expect(readFileSync(output).equals(readFileSync(raw))).toBe(true);
      expect(statSync(output).blocks * 512).toBeLessThan(40 * 1024 * 1024);
      expect(sh(`e2fsck -fn '${output}' >/dev/null 2>&1; echo $?`).trim()).toBe('0');
    });
  }

  it('tells a partitioned disk from a bare filesystem', async () => {
    const disk = join(work, 'parted.vmdk');
    sh(`qemu-img convert -f raw -O vmdk '${parted}' '${disk}'`);
    const s = await importDisk({ input: disk, output: join(work, 'parted.img') });
    expect(s.layout).toBe('mbr');
  });

  it('refuses a raw input, a missing input, and an existing output without --force', async () => {
    await refused(raw, `${raw} is already a raw image; Xen can use it as it is`);
    await refused(join(work, 'missing.vmdk'), 'no such file');
    const disk = join(work, 'again.qcow2');
    sh(`qemu-img convert -f raw -O qcow2 '${raw}' '${disk}'`);
    const out = join(work, 'taken.img');
    writeFileSync(out, 'keep');
    await refused(disk, `${out} exists; add --force to replace it`, out);
    expect(readFileSync(out, 'latin1')).toBe('keep');
    await importDisk({ input: disk, output: out, force: true });
    expect(readFileSync(out).equals(readFileSync(raw))).toBe(true);
  });

  it('refuses a qcow2 with a backing file (it would read that file from this host)', async () => {
    const over = join(work, 'over.qcow2');
    sh(`qemu-img create -q -f qcow2 -b '${raw}' -F raw '${over}'`);
    await refused(over, 'refers to a backing file');
  });

  it('refuses a qcow2 with an external data file (CVE-2024-32498)', async () => {
    const ext = join(work, 'ext.qcow2');
    sh(`qemu-img create -q -f qcow2 -o data_file='${join(work, 'ext.data')}' '${ext}' 16M`);
    await refused(ext, 'keeps its data in an external file');
  });

  it('refuses a VMDK whose extent is another file on the host (CVE-2024-32498)', async () => {
    const secret = join(work, 'host-secret');
    writeFileSync(secret, Buffer.alloc(4096, 0x41));
    const desc = join(work, 'evil.vmdk');
    writeFileSync(desc, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 FLAT "${secret}" 0\n\nddb.virtualHWVersion = "4"\n`);
    await refused(desc, 'is a VMDK whose data lives in other files');
  });
});
