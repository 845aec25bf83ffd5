// bsdtar's formats (root, libarchive-tools): --format pax (xattrs as LIBARCHIVE.xattr and
// SCHILY.xattr, ACLs as SCHILY.acl), ustar and gnutar, extracted as GNU tar extracts them.
// (v7: format-v7.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { scratchDir } from '../helpers/run.js';
import { compareWithGnuTarJson, makeCorpusTree } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-bsdtar');
const src = join(scratch.dir, 'src');
afterAll(() => scratch.cleanup());
beforeAll(() => {
  makeCorpusTree(src);
  execFileSync('sh', ['-ec', `
    cd "$1"
    setfacl -m u:1234:rwx,m::rwx etc/hostname
    setfattr -n user.note -v 'from bsdtar' usr/bin/tool
    touch -d '2001-02-03 04:05:06' etc/hostname etc .
  `, 'sh', src]);
});

/** bsdtar's walk is not in directory order: GNU tar then gives a directory left earlier the extraction time; unpack keeps the archive's. */
const exceptDirTimes = (diff: string) => diff.split('\n').filter((l) => l && !/^\.d\.\.t\.{6} /.test(l));

describe('bsdtar\'s formats (root)', () => {
  for (const [format, acls] of [['pax', true], ['ustar', false], ['gnutar', false]] as const) {
    it(`bsdtar --format ${format}`, () => {
      const archive = join(scratch.dir, `bsd-${format}.tar`);
      execFileSync('bsdtar', ['--format', format, '--numeric-owner', ...(acls ? ['--acls', '--xattrs'] : []), '-cf', archive, '-C', src, '.']);
      const r = compareWithGnuTarJson(archive, join(scratch.dir, `w-${format}`), acls ? ['--acls'] : [], acls ? [] : ['--no-A', '--no-X']);
      expect(r.gnuStatus, r.gnuStderr).toBe(0);
      expect(r.status, r.stderr).toBe(0);
      expect(exceptDirTimes(r.diff)).toEqual([]);
    });
  }
});
