// GNU tar's own formats (root): --format=gnu and oldgnu (long names, base-256), a volume label
// (--label: read and skipped, named in the summary), a multi-volume archive's later volume (type M:
// refused with the reason, as GNU tar refuses it), and the old long-names list (type N: refused).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/run.js';
import { rawHeader, rawTar } from './tar-helpers.js';
import { compareWithGnuTarJson, makeCorpusTree } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-gnu');
const src = join(scratch.dir, 'src');
afterAll(() => scratch.cleanup());
beforeAll(() => {
  makeCorpusTree(src);
  // a name longer than 100 bytes (././@LongLink in the GNU formats), and an owner past ustar's octal
  const deep = join(src, 'd'.repeat(60), 'e'.repeat(60));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'f'.repeat(50)), 'long\n');
  execFileSync('chown', ['-R', '3000000:3000001', join(src, 'd'.repeat(60))]);
  execFileSync('touch', ['-d', '2001-02-03 04:05:06', deep, join(src, 'd'.repeat(60)), src]);
});

function make(name: string, flags: string[]): string {
  const archive = join(scratch.dir, `${name}.tar`);
  execFileSync('tar', [...flags, '--numeric-owner', '-cf', archive, '-C', src, '.']);
  return archive;
}

describe('GNU tar\'s formats, extracted as GNU tar extracts them (root)', () => {
  for (const format of ['gnu', 'oldgnu']) {
    it(`--format=${format}`, () => {
      const r = compareWithGnuTarJson(make(format, [`--format=${format}`]), join(scratch.dir, `w-${format}`));
      expect(r.status, r.stderr).toBe(0);
      expect(r.diff).toBe('');
      expect(r.json!.notApplied).toEqual([]);
    });
  }

  for (const format of ['gnu', 'posix']) {
    it(`--format=${format} --label: the label is read and skipped, and named as not applied`, () => {
      const r = compareWithGnuTarJson(make(`label-${format}`, [`--format=${format}`, '--label=ROOTFS 2024']), join(scratch.dir, `w-label-${format}`));
      expect(r.gnuStatus).toBe(0);
      expect(r.status, r.stderr).toBe(0);
      expect(r.diff).toBe('');
      expect(r.json!.notApplied).toEqual([expect.objectContaining({ what: expect.stringMatching(/^GNU volume label/), first: 'ROOTFS 2024' })]);
    });
  }

  it('a multi-volume archive: the first volume is refused for the file it cuts, the next for the file it continues (type M)', () => {
    const dir = join(scratch.dir, 'mv');
    mkdirSync(join(dir, 's'), { recursive: true });
    execFileSync('sh', ['-c', 'head -c 60000 /dev/urandom > s/big && tar -c -M -L 30 -f v1.tar -f v2.tar -f v3.tar -C s big', 'sh'], { cwd: dir });
    const r = compareWithGnuTarJson(join(dir, 'v2.tar'), join(dir, 'w2'));
    expect(r.gnuStderr).toMatch(/big: Cannot extract -- file is continued from another volume/);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry big is continued from another volume \(GNU multi-volume archive, type M\)/);
  });

  it('refuses the old GNU long-names list (type N), which renames files by a script in the archive', () => {
    const list = Buffer.from('Rename x to /etc/passwd\n');
    const archive = join(scratch.dir, 'names.tar');
    writeFileSync(archive, Buffer.concat([rawHeader({ name: 'names', type: 'N', size: list.length }), list, Buffer.alloc(512 - list.length), rawTar([{ name: 'x', data: 'y' }])]));
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-names'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/old GNU long-names list \(type N\)/);
  });
});
