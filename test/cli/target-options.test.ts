// The shared target flags: which target they name, their defaults, and the exact usage errors.
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { addTargetOptions, targetSpecFromOptions } from '../../src/cli/target-options.js';
import { DomuError } from '../../src/errors.js';

const MiB = 1024 * 1024;

function parse(argv: string[], dir?: string) {
  const cmd = addTargetOptions(new Command('t').exitOverride().argument('[dir]'));
  cmd.parse(argv, { from: 'user' });
  return targetSpecFromOptions(dir ?? (cmd.args[0] as string | undefined), cmd.opts());
}

function usage(argv: string[], dir?: string): string {
  try {
    parse(argv, dir);
  } catch (e) {
    expect(e).toBeInstanceOf(DomuError);
    expect((e as DomuError).code).toBe('USAGE');
    return (e as Error).message;
  }
  throw new Error('no usage error');
}

describe('target options', () => {
  it('names each kind of target, with defaults', () => {
    expect(parse(['out/dom0'])).toEqual({ kind: 'dir', path: 'out/dom0' });
    expect(parse(['--image', 'x.img', '--size', '4G'])).toEqual({
      kind: 'image', path: 'x.img', size: 4096 * MiB, fs: 'ext4', format: 'raw', populate: 'mount', force: false,
    });
    expect(parse(['--image', 'x.qcow2', '--fs', 'xfs', '--label', 'root', '--force'])).toEqual({
      kind: 'image', path: 'x.qcow2', fs: 'xfs', label: 'root', format: 'qcow2', populate: 'mount', force: true,
    });
    expect(parse(['--image', 'x.vmdk', '--format', 'raw', '--populate', 'mkfs-d', '--fs', 'ext3', '--mkfs-options', '-O ^metadata_csum  -m 1'])).toEqual({
      kind: 'image', path: 'x.vmdk', fs: 'ext3', format: 'raw', populate: 'mkfs-d', force: false, mkfsOptions: ['-O', '^metadata_csum', '-m', '1'],
    });
    expect(parse(['--lvm', 'scotland/malcom', '--size', '4096'])).toEqual({
      kind: 'lvm', vg: 'scotland', lv: 'malcom', size: 4096 * MiB, fs: 'ext4', force: false,
    });
    expect(parse(['--lvm', '/dev/vg0/web'])).toMatchObject({ kind: 'lvm', vg: 'vg0', lv: 'web' });
    expect(parse(['--device', '/dev/xvdb', '--force', '--fs', 'ext2'])).toEqual({ kind: 'device', path: '/dev/xvdb', fs: 'ext2', force: true });
    expect(parse(['--tar', 'root.tar.zst'])).toEqual({ kind: 'tar', path: 'root.tar.zst', compression: 'zstd', force: false });
    expect(parse(['--tar', 'root.tgz'])).toMatchObject({ compression: 'gzip' });
    expect(parse(['--tar', 'root.tar.xz'])).toMatchObject({ compression: 'xz' });
    expect(parse(['--tar', 'root.tar', '--compress', 'gzip'])).toMatchObject({ compression: 'gzip' });
  });

  it('refuses conflicting and misplaced flags with exact messages', () => {
    expect(usage([])).toBe('name a target: a directory, --image FILE, --lvm VG/LV, --device DEV or --tar FILE');
    expect(usage(['--image', 'a.img', '--tar', 'b.tar'])).toBe('give one target, not --image and --tar');
    expect(usage(['--image', 'a.img'], 'out')).toBe('give one target, not the directory out and --image');
    expect(usage(['--size', '4G'], 'out')).toBe('--size does not apply to a directory target');
    expect(usage(['--tar', 'a.tar', '--fs', 'xfs'])).toBe('--fs does not apply to a tarball');
    expect(usage(['--image', 'a.img', '--compress', 'xz'])).toBe('--compress does not apply to a filesystem target (it is for --tar)');
    expect(usage(['--device', '/dev/sdz', '--size', '4G'])).toBe('--size does not apply to a device (the filesystem fills it)');
    expect(usage(['--lvm', 'vg/lv', '--format', 'qcow2'])).toBe('--format does not apply to a volume or device (it is for --image)');
    expect(usage(['--lvm', 'vg'])).toBe('--lvm takes VG/LV (volume group and new volume name), not "vg"');
    expect(usage(['--lvm', 'vg/-lv'])).toBe('--lvm: "-lv" is not a valid volume name (letters, digits, + _ . -)');
    expect(usage(['--image', 'a.img', '--fs', 'xfs', '--populate', 'mkfs-d'])).toBe('--populate mkfs-d makes ext2, ext3 or ext4 only; use --populate mount for xfs');
    expect(usage(['--image', 'a.img', '--fs', 'xfs', '--label', 'thirteen-char'])).toBe('--label "thirteen-char" is 13 bytes; xfs labels hold at most 12');
    expect(usage(['--image', 'a.img', '--size', '4X'])).toBe('--size "4X" is not a size: use a number with K, M, G or T (4G, 512M; a bare number is MiB)');
  });

  it('lets commander refuse unknown choices', () => {
    expect(() => parse(['--image', 'a.img', '--fs', 'btrfs'])).toThrow(/Allowed choices are ext2, ext3, ext4, xfs/);
  });
});
