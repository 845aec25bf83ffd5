// Reading, writing and copying one file's xattrs with the real tools, on a name that is not UTF-8,
// and on a symlink (its own attributes, never its target's).

import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyXattrs, readXattrs, writeXattrs } from '../../src/sys/xattrs.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('sys-xattrs');
afterAll(() => scratch.cleanup());

const at = (name: Buffer) => Buffer.concat([Buffer.from(`${scratch.dir}/`), name]);
const names = (attrs: Array<[Buffer, Buffer]>) => attrs.map(([n, v]) => `${n.toString()}=${v.toString('hex')}`).sort();

describe('sys/xattrs', () => {
  it('writes, reads and copies the attributes of files whose names are not UTF-8', async () => {
    const a = at(Buffer.from([0x61, 0xe9, 0x80]));
    const b = at(Buffer.from([0x62, 0xff, 0x0a]));
    writeFileSync(a, 'a');
    writeFileSync(b, 'b');
    await writeXattrs(a, [[Buffer.from('user.one'), Buffer.from([0, 0xff])], [Buffer.from('user.two'), Buffer.from('x')]]);
    expect(names(await readXattrs(a))).toEqual(['user.one=00ff', 'user.two=78']);
    expect(await readXattrs(b)).toEqual([]);
    await copyXattrs(a, b);
    expect(names(await readXattrs(b))).toEqual(['user.one=00ff', 'user.two=78']);
  });

  it('reads a symlink\'s own attributes (none: user.* cannot be set on one), not its target\'s', async () => {
    const target = join(scratch.dir, 'target');
    writeFileSync(target, 't');
    execFileSync('setfattr', ['-n', 'user.t', '-v', '1', target]);
    const link = join(scratch.dir, 'link');
    symlinkSync(target, link);
    expect(await readXattrs(Buffer.from(link))).toEqual([]);
    expect(names(await readXattrs(Buffer.from(target)))).toEqual(['user.t=31']);
  });
});
