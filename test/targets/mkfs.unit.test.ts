// Filesystem types, labels and the mkfs command line (the commands themselves run in the root tests).
import { describe, expect, it } from 'vitest';
import { checkFsType, checkLabel, FS_TYPES, isExt, LABEL_MAX, mkfsCommand } from '../../src/targets/mkfs.js';

describe('filesystem types and labels', () => {
  it('knows ext2, ext3, ext4 and xfs', () => {
    expect(FS_TYPES).toEqual(['ext2', 'ext3', 'ext4', 'xfs']);
    expect(FS_TYPES.filter(isExt)).toEqual(['ext2', 'ext3', 'ext4']);
    expect(checkFsType('xfs')).toBe('xfs');
    expect(() => checkFsType('btrfs')).toThrow(expect.objectContaining({ code: 'USAGE', message: '--fs "btrfs" is not one of ext2, ext3, ext4, xfs' }));
    expect(() => checkFsType(4, 'fs')).toThrow('fs 4 is not one of');
  });

  it('checks labels by their byte length per filesystem', () => {
    expect(LABEL_MAX).toEqual({ ext2: 16, ext3: 16, ext4: 16, xfs: 12 });
    expect(checkLabel(undefined, 'ext4')).toBeUndefined();
    expect(checkLabel('x'.repeat(16), 'ext4')).toBe('x'.repeat(16));
    expect(() => checkLabel('x'.repeat(13), 'xfs')).toThrow('--label "xxxxxxxxxxxxx" is 13 bytes; xfs labels hold at most 12');
    expect(() => checkLabel('é'.repeat(9), 'ext4')).toThrow(/is 18 bytes/);
    expect(() => checkLabel('', 'ext4')).toThrow('--label must not be empty');
    expect(() => checkLabel('a\nb', 'ext4')).toThrow('--label must not hold control characters');
  });
});

describe('mkfsCommand', () => {
  const uuid = '0b3c1c1e-2f6d-4e7f-9a10-1234567890ab';
  it('mke2fs for ext: forced, quiet, the UUID, then label, inodes, -d, extras, target', () => {
    expect(mkfsCommand('ext3', '/dev/loop7', { uuid })).toEqual({ tool: 'mke2fs', args: ['-F', '-q', '-t', 'ext3', '-U', uuid, '/dev/loop7'] });
    expect(mkfsCommand('ext4', '/srv/x.img', { uuid, label: 'root', inodes: 70000, fromDir: '/tmp/stage', extra: ['-O', '^metadata_csum'] })).toEqual({
      tool: 'mke2fs',
      args: ['-F', '-q', '-t', 'ext4', '-U', uuid, '-L', 'root', '-N', '70000', '-d', '/tmp/stage', '-O', '^metadata_csum', '/srv/x.img'],
    });
  });

  it('mkfs.xfs for xfs, which cannot be populated from a directory', () => {
    expect(mkfsCommand('xfs', '/dev/vg/lv', { uuid, label: 'data', inodes: 5, extra: ['-K'] })).toEqual({ tool: 'mkfs.xfs', args: ['-f', '-q', '-m', `uuid=${uuid}`, '-L', 'data', '-K', '/dev/vg/lv'] });
    expect(() => mkfsCommand('xfs', '/x', { uuid, fromDir: '/tmp/s' })).toThrow(expect.objectContaining({ code: 'USAGE', message: 'xfs cannot be populated without a mount here: use --populate mount' }));
  });
});
