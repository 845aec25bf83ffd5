// POSIX pax archives (root): GNU tar --format=posix with --xattrs and --acls, pax headers far above
// 4 MiB (GNU tar has no limit of its own), unknown keywords (read and named as not applied), and
// malformed values (refused, naming the keyword).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/run.js';
import { rawTar, type RawEntry } from './tar-helpers.js';
import { compareWithGnuTarJson, makeCorpusTree } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-pax');
const src = join(scratch.dir, 'src');
afterAll(() => scratch.cleanup());
beforeAll(() => {
  makeCorpusTree(src);
  execFileSync('sh', ['-ec', `
    cd "$1"
    setfacl -m u:1234:rwx,g:2345:r-x,m::rwx etc/hostname
    setfacl -d -m u:1234:rwx,g::r-x empty
    setfattr -n user.note -v 'pax keeps this' usr/bin/tool
    touch -d '2001-02-03 04:05:06' etc/hostname empty etc .
  `, 'sh', src]);
});

const root: RawEntry = { name: './', type: '5', mode: 0o755 };
let n = 0;
function raw(entries: RawEntry[]) {
  n += 1;
  const archive = join(scratch.dir, `raw-${n}.tar`);
  writeFileSync(archive, rawTar([root, ...entries]));
  return compareWithGnuTarJson(archive, join(scratch.dir, `w-raw-${n}`));
}

describe('pax made by GNU tar (root)', () => {
  it('--format=posix --xattrs --acls: ACLs (access and default) and xattrs, as GNU tar --acls extracts them', () => {
    const archive = join(scratch.dir, 'posix-acls.tar');
    execFileSync('tar', ['--format=posix', '--xattrs', '--acls', '--numeric-owner', '-cf', archive, '-C', src, '.']);
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-posix'), ['--acls']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(execFileSync('getfacl', ['-n', '-p', join(scratch.dir, 'w-posix', 'ours', 'empty')], { encoding: 'utf8' })).toMatch(/default:user:1234:rwx/);
    expect(r.json!.notApplied).toEqual([]);
  });
});

describe('pax records as GNU tar reads them (root)', () => {
  it('reads a pax header of 5 MiB (a comment), which GNU tar reads too', () => {
    const r = raw([{ name: 'f', data: 'x\n', pax: { comment: 'c'.repeat(5 << 20), mtime: '1600000000.5' } }]);
    expect(r.gnuStatus).toBe(0);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
  });
  it('names unknown keywords as read and not applied (GNU tar warns and ignores them)', () => {
    const r = raw([{ name: 'f', data: 'x\n', pax: { 'VENDOR.thing': '1' } }, { name: 'g', data: 'y\n', pax: { 'VENDOR.thing': '2' } }]);
    expect(r.gnuStderr).toMatch(/Ignoring unknown extended header keyword .VENDOR.thing./);
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(r.json!.notApplied).toEqual([{ what: 'pax keyword VENDOR.thing', entries: 2, first: 'f' }]);
  });
  for (const [key, value, message] of [
    ['mtime', 'yesterday', /malformed pax mtime "yesterday"/],
    ['uid', '-5', /malformed pax uid "-5"/],
    ['size', '12abc', /invalid \(negative or malformed\) size: pax size "12abc"/],
  ] as const) {
    it(`refuses a malformed ${key} value, naming it (GNU tar: "Malformed extended header")`, () => {
      const r = raw([{ name: 'f', data: 'x\n', pax: { [key]: value } }]);
      expect(r.gnuStderr).toMatch(/Malformed extended header|out of range|invalid/i);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }
});
