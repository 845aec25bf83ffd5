// Metadata for tarballs: ACL text to the kernel's xattr, names looked up in the guest's own tables,
// and setfattr --restore blocks, checked byte for byte and applied with the real tools to files the
// test owns (no root needed for user.* xattrs and ACLs on one's own files).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aclTextToXattr, idResolverFrom, setfattrBlock } from '../../src/tar/metadata.js';
import { hasTool } from '../../src/sys/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-tarmeta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = idResolverFrom('root:x:0:0::/root:/bin/sh\nalice:x:1500:1500::/:/bin/sh\nalice:x:9:9::/:/bin/sh\nbroken\n', 'root:x:0:\nstaff:x:50:\n');

/** The xattr value as (tag, perm, id) triples after the version word. */
function entries(b: Buffer): Array<[number, number, number]> {
  expect(b.readUInt32LE(0)).toBe(2);
  const out: Array<[number, number, number]> = [];
  for (let i = 4; i < b.length; i += 8) out.push([b.readUInt16LE(i), b.readUInt16LE(i + 2), b.readUInt32LE(i + 4)]);
  return out;
}
const U = 0xffffffff;

describe('aclTextToXattr', () => {
  it('encodes GNU tar\'s text, sorted by tag then id, names looked up in the guest\'s tables', () => {
    const v = aclTextToXattr('user::rw-\nuser:alice:r-x\nuser:1234:rwx\ngroup::r--\ngroup:staff:rw-\nmask::rwx\nother::---\n', ids);
    expect(entries(v)).toEqual([[0x01, 6, U], [0x02, 7, 1234], [0x02, 5, 1500], [0x04, 4, U], [0x08, 6, 50], [0x10, 7, U], [0x20, 0, U]]);
  });

  it('takes the short tags, commas, comments and star\'s numeric fourth field', () => {
    const v = aclTextToXattr('u::rwx,g::r-x,o::r--,m::r-x, u:bob:r--:2001 # star\n', ids);
    expect(entries(v)).toEqual([[0x01, 7, U], [0x02, 4, 2001], [0x04, 5, U], [0x10, 5, U], [0x20, 4, U]]);
  });

  it('refuses what it cannot encode', () => {
    expect(() => aclTextToXattr('user:nobody-here:r--', ids)).toThrow('ACL names unknown user "nobody-here"');
    expect(() => aclTextToXattr('group:wheel:r--', ids)).toThrow('ACL names unknown group "wheel"');
    expect(() => aclTextToXattr('user::rwz', ids)).toThrow('malformed ACL permissions "user::rwz"');
    expect(() => aclTextToXattr('user', ids)).toThrow('malformed ACL entry "user"');
    expect(() => aclTextToXattr('class::r--', ids)).toThrow('malformed ACL tag "class::r--"');
  });

  it.skipIf(!hasTool('setfattr') || !hasTool('getfacl'))('is a value the kernel takes, and getfacl reads back', () => {
    const f = join(dir, 'acl');
    writeFileSync(f, '');
    const v = aclTextToXattr('user::rw-\nuser:1234:r--\ngroup::r--\nmask::r--\nother::---\n', ids);
    const set = spawnSync('setfattr', ['-n', 'system.posix_acl_access', '-v', `0x${v.toString('hex')}`, f], { encoding: 'utf8' });
    if (set.status !== 0 && /Operation not supported/.test(set.stderr)) return; // a filesystem without ACLs
    expect(set.stderr).toBe('');
    const got = spawnSync('getfacl', ['-n', '-p', '-E', f], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(got).toEqual(['user::rw-', 'user:1234:r--', 'group::r--', 'mask::r--', 'other::---']);
  });
});

describe('idResolverFrom', () => {
  it('the first entry of a name wins; broken lines are skipped', () => {
    expect(ids.user('alice')).toBe(1500);
    expect(ids.user('root')).toBe(0);
    expect(ids.user('broken')).toBeUndefined();
    expect(ids.group('staff')).toBe(50);
    expect(ids.group('alice')).toBeUndefined();
  });
});

describe('setfattrBlock', () => {
  it('writes the restore format, values in hex, odd names quoted', () => {
    const b = setfattrBlock(Buffer.from('/t/a\nb'), [[Buffer.from('user.x'), Buffer.from([0, 0xff])], [Buffer.from('user.y'), Buffer.alloc(0)]]);
    expect(b.toString('latin1')).toBe('# file: /t/a\\012b\nuser.x=0x00ff\nuser.y=0x\n\n');
  });

  it.skipIf(!hasTool('setfattr') || !hasTool('getfattr'))('setfattr --restore applies it to a real file, odd name and all', () => {
    const f = Buffer.concat([Buffer.from(join(dir, 'odd\n')), Buffer.from([0xff])]);
    writeFileSync(f, '');
    const block = setfattrBlock(f, [[Buffer.from('user.k'), Buffer.from('v\x00w', 'latin1')]]);
    const r = spawnSync('setfattr', ['--restore=-'], { input: block });
    if (r.status !== 0 && /Operation not supported/.test(r.stderr.toString())) return;
    expect(r.stderr.toString()).toBe('');
    const all = spawnSync('sh', ['-c', `getfattr -d -e hex --absolute-names -- "${dir}"/odd*`], { encoding: 'latin1' }).stdout;
    expect(all).toContain('user.k=0x760077');
  });
});
