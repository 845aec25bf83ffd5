// Copying xattrs through one getfattr and one setfattr process (user.* attributes need no root).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quoteLikeGetfattr, XattrCopier } from '../../src/copy/xattrs.js';
import { hasTool } from '../../src/sys/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-cxattr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('quoteLikeGetfattr', () => {
  it('quotes control characters, DEL and the backslash as \\ooo, as getfattr does', () => {
    expect(quoteLikeGetfattr('/srv/a b')).toBe('/srv/a b');
    expect(quoteLikeGetfattr('a\nb\\c\x7f\t')).toBe('a\\012b\\134c\\177\\011');
    expect(quoteLikeGetfattr('caf\xe9')).toBe('caf\xe9');
  });

  it('matches what getfattr prints', () => {
    const name = 'we\\ird\nname';
    writeFileSync(join(dir, name), '');
    if (spawnSync('setfattr', ['-n', 'user.q', '-v', '1', join(dir, name)]).status !== 0) return;
    const out = spawnSync('getfattr', ['-d', '--absolute-names', join(dir, name)], { encoding: 'latin1' }).stdout;
    expect(out.split('\n')[0]).toBe(`# file: ${quoteLikeGetfattr(join(dir, name))}`);
  });
});

const canSet = hasTool('setfattr') && hasTool('getfattr') && (() => {
  writeFileSync(join(dir, 'probe'), '');
  return spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', join(dir, 'probe')]).status === 0;
})();

describe.skipIf(!canSet)('XattrCopier', () => {
  it('copies user.* xattrs of the entries it is given to the same paths in the target', async () => {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    for (const r of [src, dst]) {
      mkdirSync(join(r, 'd'), { recursive: true });
      for (const f of ['d/a', 'odd\nname', 'plain']) writeFileSync(join(r, f), '');
    }
    const set = (f: string, n: string, v: string) => expect(spawnSync('setfattr', ['-n', n, '-v', v, join(src, f)]).status).toBe(0);
    set('d/a', 'user.one', '0x0001ff');
    set('d/a', 'user.two', 'text');
    set('odd\nname', 'user.odd', 'y');
    set('d', 'user.dir', 'z');
    const c = new XattrCopier(src, dst);
    c.add(['d/a', 'odd\nname']);
    c.add(['plain', 'd']);
    expect(await c.finish()).toEqual([]);
    const dump = (f: string) => spawnSync('getfattr', ['-d', '-e', 'hex', '--absolute-names', join(dst, f)], { encoding: 'latin1' }).stdout.split('\n').slice(1).filter(Boolean).sort();
    expect(dump('d/a')).toEqual(['user.one=0x0001ff', 'user.two=0x74657874']);
    expect(dump('odd\nname')).toEqual(['user.odd=0x79']);
    expect(dump('d')).toEqual(['user.dir=0x7a']);
    expect(dump('plain')).toEqual([]);
    expect(c.attributesSet).toBeGreaterThanOrEqual(4);
  });
});
