// Parsing /proc/self/mountinfo text: octal escapes undone byte for byte, optional fields skipped,
// the mount points below a directory deepest first.

import { describe, expect, it } from 'vitest';
import { mountPointsBelow, parseMountInfo, unescapeMountField } from '../../src/sys/mountinfo.js';

const TEXT = [
  '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '40 22 0:5 / /srv/g\\040one/proc rw,nosuid shared:12 master:3 - proc proc rw',
  // a mount point whose name is latin1 0xe9 (not UTF-8): the kernel writes the byte as is
  '41 22 0:6 / /srv/g\\040one/caf\u00e9 rw - tmpfs tmp\\134fs rw',
  '42 40 0:7 / /srv/g\\040one/proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw',
  '43 22 0:8 / /srv/g\\040onex rw - tmpfs tmpfs rw',
  'garbage line',
  '',
].join('\n');

describe('parseMountInfo', () => {
  it('reads device, mount point, type and source past the optional fields', () => {
    const m = parseMountInfo(TEXT);
    expect(m).toHaveLength(5);
    expect(m[1]).toEqual({ dev: '0:5', mountPoint: '/srv/g one/proc', fsType: 'proc', source: 'proc' });
    expect(m[2]).toEqual({ dev: '0:6', mountPoint: '/srv/g one/caf\u00e9', fsType: 'tmpfs', source: 'tmp\\fs' });
    expect(Buffer.from(m[2]!.mountPoint, 'latin1').at(-1)).toBe(0xe9);
  });
  it('undoes \\ooo escapes only', () => {
    expect(unescapeMountField('a\\040b\\011c\\134\\x')).toBe('a b\tc\\\\x');
  });
});

describe('mountPointsBelow', () => {
  it('lists what is strictly below, deepest first, never a sibling sharing the prefix', () => {
    expect(mountPointsBelow(parseMountInfo(TEXT), '/srv/g one')).toEqual([
      '/srv/g one/proc/sys/fs/binfmt_misc',
      '/srv/g one/proc',
      '/srv/g one/caf\u00e9',
    ]);
    expect(mountPointsBelow(parseMountInfo(TEXT), '/srv/g one/proc/sys/fs/binfmt_misc')).toEqual([]);
  });
});
