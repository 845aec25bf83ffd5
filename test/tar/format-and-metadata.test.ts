// The pieces the tarball writer and reader share, checked against the real tools (root).

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePaxRecords, encodePaxRecord, formatPaxTime, parsePaxTime, xattrNameFromPaxKey, xattrPaxKey } from '../../src/tar/format.js';
import { aclTextToXattr, idResolverFrom, parseGetfattrDump, quoteAttrName, setfattrBlock, unquoteAttrName } from '../../src/tar/metadata.js';
import { printable } from '../../src/tar/types.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('tar-common');
afterAll(() => scratch.cleanup());

describe('ACL text to xattr, against setfacl and getfattr (root)', () => {
  const ids = idResolverFrom('root:x:0:0::/root:/bin/sh\nalice:x:1500:1500::/:/bin/sh\n', 'root:x:0:\nstaff:x:50:\n');
  const cases: Array<[string, string]> = [
    ['u:1234:rwx,g:55:r,u:0:rx', 'user::rw-\nuser:root:r-x\nuser:1234:rwx\ngroup::r--\ngroup:55:r--\nmask::rwx\nother::r--\n'],
    ['u:1500:r,g:50:rw', 'user::rw-\nuser:alice:r--\ngroup::r--\ngroup:staff:rw-\nmask::rw-\nother::r--\n'],
  ];
  for (const [spec, text] of cases) {
    it(`setfacl -m ${spec}`, () => {
      const f = join(scratch.dir, `acl-${spec.replace(/[^a-z0-9]/g, '')}`);
      writeFileSync(f, '');
      execFileSync('chmod', ['0644', f]);
      execFileSync('setfacl', ['-m', spec, f]);
      const dump = execFileSync('getfattr', ['-d', '-m', 'system.posix_acl_access', '-e', 'hex', '--absolute-names', f]);
      const real = parseGetfattrDump(dump).get(f)!.find(([n]) => n.toString() === 'system.posix_acl_access')![1];
      expect(aclTextToXattr(text, ids).toString('hex')).toBe(real.toString('hex'));
    });
  }
  it('takes star\'s fourth field (the numeric id) and refuses unknown names', () => {
    expect(aclTextToXattr('user::rwx,user:nobody-here:r--:77,group::r--,mask::r--,other::---', ids).readUInt32LE(16)).toBe(77);
    expect(() => aclTextToXattr('user:ghost:rwx', ids)).toThrow('ACL names unknown user "ghost"');
  });
});

describe('getfattr quoting (root)', () => {
  it('writes names with newlines, backslashes and 0xff as setfattr --restore reads them, and reads them back from getfattr', () => {
    const dir = join(scratch.dir, 'q');
    mkdirSync(dir);
    const name = Buffer.from('a\nb\\c\xffd é', 'latin1');
    const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
    writeFileSync(path, '');
    // a name with 0xff cannot be an argument from Node (arguments go out as UTF-8): it goes on stdin
    execFileSync('setfattr', ['-h', '--restore=-'], { input: setfattrBlock(path, [[Buffer.from('user.k'), Buffer.from([0, 0xff])]]) });
    const dump = execFileSync('getfattr', ['-R', '-d', '-m', '-', '-e', 'hex', '--absolute-names', dir], { env: { ...process.env, LC_ALL: 'C' } });
    const map = parseGetfattrDump(dump);
    expect(map.get(path.toString('latin1'))).toEqual([[Buffer.from('user.k'), Buffer.from([0, 0xff])]]);
    expect(unquoteAttrName(quoteAttrName(name))).toEqual(name);
  });
});

describe('pax records', () => {
  it('encodes lengths that count themselves, and decodes raw bytes', () => {
    for (const n of [1, 90, 91, 92, 93, 994, 995, 996, 9990]) {
      const rec = encodePaxRecord('path', Buffer.alloc(n, 0xff));
      expect(Number(rec.toString('latin1').split(' ')[0])).toBe(rec.length);
      expect(decodePaxRecords(rec).get('path')).toEqual(Buffer.alloc(n, 0xff));
    }
  });
  it('keeps times exact to the nanosecond, before 1970 too', () => {
    for (const t of ['1600000000.987654321', '-1.5', '0', '12', '1700000000.000000001']) {
      expect(formatPaxTime(parsePaxTime(t))).toBe(t);
    }
    expect(parsePaxTime('1.1234567899')).toBe(1_123_456_789n);
  });
  it('escapes = and % in xattr keys as GNU tar does', () => {
    const name = Buffer.from('user.a=b%c');
    expect(xattrPaxKey(name)).toBe('SCHILY.xattr.user.a%3Db%25c');
    expect(xattrNameFromPaxKey(xattrPaxKey(name))).toEqual(name);
  });
  it('prints non-UTF-8 names with \\x escapes', () => {
    expect(printable(Buffer.from('bad-\xff\n', 'latin1'))).toBe('bad-\\xff\\x0a');
    expect(printable(Buffer.from('ünï'))).toBe('ünï');
  });
});
