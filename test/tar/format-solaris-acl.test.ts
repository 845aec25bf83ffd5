// Solaris ACL headers (type A, hand-made as Sun tar writes them: an octal kind and count, a NUL, the
// ACL in Solaris text, a NUL; the ACL belongs to the entry after it). A POSIX draft ACL is applied
// through the ACL path; an NFSv4 ACL is read and named as not applied. GNU tar does not know type A
// (it extracts it as a file that the real entry then replaces), so the trees are compared without ACLs.

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/run.js';
import { rawHeader, rawTar } from './tar-helpers.js';
import { compareWithGnuTarJson } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-solaris');
afterAll(() => scratch.cleanup());

const pad = (d: Buffer) => Buffer.concat([d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
function aclHeader(name: string, body: string): Buffer {
  const data = Buffer.from(body, 'latin1');
  return Buffer.concat([rawHeader({ name, type: 'A', size: data.length }), pad(data)]);
}
let n = 0;
function run(parts: Buffer[]) {
  n += 1;
  const archive = join(scratch.dir, `sol-${n}.tar`);
  writeFileSync(archive, Buffer.concat([rawTar([{ name: './', type: '5', mode: 0o755 }], { end: false }), ...parts, Buffer.alloc(1024)]));
  const work = join(scratch.dir, `w-${n}`);
  return { ...compareWithGnuTarJson(archive, work, [], ['--no-A']), ours: join(work, 'ours') };
}

describe('Solaris ACL headers (root)', () => {
  it('a POSIX draft ACL (kind 01000000) on a file is applied', () => {
    const r = run([
      // the mode's group bits are the mask and its other bits the other entry, as Solaris keeps them
      aclHeader('file', '01000005\0user::rw-,user:1234:r-x,group::r--,mask:r-x,other:r--\0'),
      rawTar([{ name: 'file', mode: 0o654, data: 'acl\n' }], { end: false }),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    const acl = execFileSync('getfacl', ['-n', '-p', join(r.ours, 'file')], { encoding: 'utf8' });
    expect(acl).toMatch(/^user:1234:r-x$/m);
    expect(acl).toMatch(/^mask::r-x$/m);
    expect(r.json!.notApplied).toEqual([]);
  });
  it('default entries on a directory (Solaris "defaultuser::" form) become its default ACL', () => {
    const r = run([
      aclHeader('dir/', '01000011\0user::rwx,group::r-x,mask:r-x,other:r-x,defaultuser::rwx,defaultuser:1234:rwx,defaultgroup::r-x,defaultmask:rwx,defaultother:---\0'),
      rawTar([{ name: 'dir/', type: '5', mode: 0o755 }], { end: false }),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(execFileSync('getfacl', ['-n', '-p', join(r.ours, 'dir')], { encoding: 'utf8' })).toMatch(/^default:user:1234:rwx$/m);
  });
  it('an NFSv4 ACL (kind 03000000) is read and named as not applied', () => {
    const r = run([
      aclHeader('file', '03000002\0owner@:rw-p--aARWcCos:-------:allow,everyone@:r-----a-R-c--s:-------:allow\0'),
      rawTar([{ name: 'file', data: 'nfs4\n' }], { end: false }),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(r.json!.notApplied).toEqual([expect.objectContaining({ what: expect.stringMatching(/Solaris NFSv4 ACL/), first: 'file', entries: 1 })]);
  });
  it('refuses a malformed Solaris ACL header, saying so', () => {
    const r = run([aclHeader('file', 'zz\0user::rw-\0'), rawTar([{ name: 'file', data: 'x' }], { end: false })]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Solaris ACL header before file is malformed/);
  });
});
