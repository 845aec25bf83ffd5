// Every compression GNU tar 1.34 handles, found by magic bytes and read through its standard tool
// (root: the archives hold owners and setuid files).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, scratchDir } from '../helpers/run.js';
import { compareWithGnuTar, makeCorpusTree } from './tar-corpus.js';

const scratch = scratchDir('tar-compression');
const src = join(scratch.dir, 'src');
const plain = join(scratch.dir, 'plain.tar');
afterAll(() => scratch.cleanup());
beforeAll(() => {
  makeCorpusTree(src);
  execFileSync('tar', ['--format=pax', '--xattrs', '--numeric-owner', '-cf', plain, '-C', src, '.']);
});

// the suffix (or -I) is for GNU tar, which finds lzma and pzstd's output by the name only, lz4 and lrzip not at all
const compressors: Array<[name: string, cmd: string, suffix: string, gnuFlags?: string[]]> = [
  ['gzip', 'gzip -c', 'gz'],
  ['bzip2', 'bzip2 -c', 'bz2'],
  ['xz', 'xz -c', 'xz'],
  ['lzma', 'xz --format=lzma -c', 'lzma'],
  ['lzip', 'lzip -c', 'lz'],
  ['lzop', 'lzop -c', 'lzo'],
  ['lz4', 'lz4 -c', 'lz4', ['-I', 'lz4']],
  ['zstd', 'zstd -q -c', 'zst'],
  ['zstd (pzstd, skippable frames first)', 'pzstd -q -c -p 2', 'zst'],
  ['compress (.Z)', 'compress -f -c', 'Z'],
  ['lrzip', 'lrzip -q -o -', 'lrz', ['-I', 'lrzip -q']],
];

describe('unpack reads every compression, and the tree is GNU tar\'s (root)', () => {
  for (const [name, cmd, suffix, gnuFlags] of compressors) {
    it(name, () => {
      const archive = join(scratch.dir, `${name.replace(/\W+/g, '_')}.tar.${suffix}`);
      execFileSync('sh', ['-c', `${cmd} < "$1" > "$2"`, 'sh', plain, archive]);
      if (name.startsWith('zstd (pzstd')) {
        const head = readFileSync(archive).subarray(0, 4);
        expect(head[0]! & 0xf0).toBe(0x50); // really a skippable frame first
      }
      const work = join(scratch.dir, `w-${name.replace(/\W+/g, '_')}`);
      const r = compareWithGnuTar(archive, work, gnuFlags);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.diff).toBe('');
    });
  }
});

describe('a missing decompressor', () => {
  it('exits 3 naming the compression and the Debian package', () => {
    const archive = join(scratch.dir, 'missing.tar.lz');
    execFileSync('sh', ['-c', 'lzip -c < "$1" > "$2"', 'sh', plain, archive]);
    // a PATH holding everything unpack needs except lzip
    const bin = join(scratch.dir, 'bin');
    mkdirSync(bin);
    for (const t of ['sh', 'setfattr', 'python3', 'xargs', 'mknod', 'mkfifo']) {
      const p = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
      if (p) symlinkSync(p, join(bin, t));
    }
    writeFileSync(join(scratch.dir, 'marker'), '');
    const r = runCli(['unpack', '--quiet', archive, join(scratch.dir, 'never')], { PATH: bin });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/lzip-compressed/);
    expect(r.stderr).toMatch(/apt-get install lzip/);
  });
});
