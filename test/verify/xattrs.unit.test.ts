// Reading xattrs for verify: getfattr's dump parsed (escaped names), and read from a real tree
// (user.* attributes need no root).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGetfattr, readXattrs, streamXattrs, unescapeGetfattr } from '../../src/verify/xattrs.js';
import { hasTool } from '../../src/sys/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-vxattr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseGetfattr', () => {
  it('reads files and their hex values; ./ and . become relative paths', () => {
    const dump = '# file: .\nuser.root=0x01\n\n# file: ./etc/a\\012b\nuser.x=0x6869\nsecurity.capability=0x0100\n\n# file: ./plain\n';
    const m = parseGetfattr(Buffer.from(dump, 'latin1'));
    expect([...m.keys()]).toEqual(['', 'etc/a\nb', 'plain']);
    expect(Object.fromEntries(m.get('etc/a\nb')!)).toEqual({ 'user.x': '0x6869', 'security.capability': '0x0100' });
    expect(m.get('')!.get('user.root')).toBe('0x01');
    expect(m.get('plain')!.size).toBe(0);
  });

  it('unescapes \\ooo and leaves the rest', () => {
    expect(unescapeGetfattr('a\\134b\\011c')).toBe('a\\b\tc');
    expect(unescapeGetfattr('caf\\351')).toBe('caf\xe9');
    expect(unescapeGetfattr('no\\escape')).toBe('no\\escape');
  });
});

const canSet = hasTool('setfattr') && hasTool('getfattr') && (() => {
  writeFileSync(join(dir, 'probe'), '');
  return spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', join(dir, 'probe')]).status === 0;
})();

describe.skipIf(!canSet)('reading a real tree (user.* xattrs)', () => {
  const root = join(dir, 'tree');
  mkdirSync(join(root, 'd'), { recursive: true });
  for (const f of ['d/one', '-dash', 'none']) writeFileSync(join(root, f), '');
  const set = (f: string, n: string, v: string) => expect(spawnSync('setfattr', ['-n', n, '-v', v, '--', join(root, f)]).status).toBe(0);

  it('readXattrs and streamXattrs agree, names starting with "-" included', async () => {
    set('d/one', 'user.a', 'hi');
    set('-dash', 'user.b', '0x00ff');
    const rels = ['d/one', '-dash', 'none', 'd'];
    const m = await readXattrs(root, rels, 3);
    expect(m.get('d/one')?.get('user.a')).toBe('0x6869');
    expect(m.get('-dash')?.get('user.b')).toBe('0x00ff');
    expect(m.has('none')).toBe(false);
    const s = streamXattrs(root);
    s.add(rels.slice(0, 2));
    s.add([]);
    s.add(rels.slice(2));
    const m2 = await s.finish();
    expect([...m2.entries()].map(([k, v]) => [k, Object.fromEntries(v)]).sort()).toEqual([...m.entries()].map(([k, v]) => [k, Object.fromEntries(v)]).sort());
  });

  it('a vanished path does not fail the read', async () => {
    const m = await readXattrs(root, ['d/one', 'gone'], 1);
    expect(m.get('d/one')?.get('user.a')).toBe('0x6869');
  });
});
