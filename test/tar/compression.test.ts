// Every compression GNU tar 1.34 handles, found by magic bytes and read through its standard tool
// (root: the archives hold owners and setuid files).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipMembers } from '../../src/tar/compression.js';
import { runCli, scratchDir } from '../helpers/run.js';
import { compareWithGnuTar, compareWithGnuTarJson, makeCorpusTree } from './tar-corpus.js';

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

describe('gzip is read in-process, member by member, as gzip -d reads it', () => {
  // random data (which deflate cannot shrink) and then zeros (which it shrinks to almost nothing):
  // the end of the data sits in the last few compressed bytes, right before anything appended
  const data = Buffer.concat([randomBytes(300000), Buffer.alloc(10240)]);
  const gz = (b: Buffer) => execFileSync('gzip', ['-c'], { input: b });
  const gunzip = async (bytes: Buffer, name: string) => {
    const file = join(scratch.dir, `members-${name}.gz`);
    writeFileSync(file, bytes);
    const warnings: string[] = [];
    const out: Buffer[] = [];
    for await (const c of gunzipMembers(createReadStream(file, { highWaterMark: 64 << 10 }), warnings)) out.push(c);
    // gzip(1) itself agrees on the data
    expect(spawnSync('gzip', ['-dc', file], { maxBuffer: 1 << 24 }).stdout.equals(Buffer.concat(out))).toBe(true);
    return { out: Buffer.concat(out), warnings };
  };
  const twoMembers = () => Buffer.concat([gz(data.subarray(0, 100000)), gz(data.subarray(100000))]);

  it('several members are one stream', async () => {
    const r = await gunzip(twoMembers(), 'two');
    expect(r.out.equals(data)).toBe(true);
    expect(r.warnings).toEqual([]);
  });
  it('text after the last member: all the data, and gzip\'s warning', async () => {
    const r = await gunzip(Buffer.concat([twoMembers(), Buffer.from('text after the stream\n')]), 'garbage');
    expect(r.out.equals(data)).toBe(true);
    expect(r.warnings).toEqual(['gzip: decompression OK, trailing garbage ignored']);
  });
  it('zero padding after the last member is no warning; zeros then text are', async () => {
    expect((await gunzip(Buffer.concat([gz(data), Buffer.alloc(5000)]), 'zeros')).warnings).toEqual([]);
    const r = await gunzip(Buffer.concat([gz(data), Buffer.alloc(5000), Buffer.from('x')]), 'zeros-text');
    expect(r.out.equals(data)).toBe(true);
    expect(r.warnings).toEqual(['gzip: decompression OK, trailing garbage ignored']);
  });
  it('a header with a file name (gzip without -n on a file) is skipped', async () => {
    const file = join(scratch.dir, 'named.bin');
    writeFileSync(file, data);
    const bytes = execFileSync('gzip', ['-c', file]);
    expect(bytes[3]! & 8).toBe(8);
    expect((await gunzip(bytes, 'named')).out.equals(data)).toBe(true);
  });
  for (const [name, damage, message] of [
    ['a member cut short', (b: Buffer) => b.subarray(0, 200000), 'gzip: unexpected end of file'],
    ['a wrong CRC-32', (b: Buffer) => { const c = Buffer.from(b); c[c.length - 6]! ^= 1; return c; }, 'gzip: invalid compressed data--crc error'],
    ['a wrong length', (b: Buffer) => { const c = Buffer.from(b); c[c.length - 2]! ^= 1; return c; }, 'gzip: invalid compressed data--length error'],
    ['a second member of an unknown method', (b: Buffer) => Buffer.concat([b, Buffer.from([0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 0, 1, 2])]), 'gzip: unknown method 9 -- not supported'],
  ] as const) {
    it(`${name} is an error, as in gzip(1)`, async () => {
      const file = join(scratch.dir, `bad-${name.replace(/\W+/g, '_')}.gz`);
      writeFileSync(file, damage(gz(data)));
      expect(spawnSync('gzip', ['-dc', file]).status).toBe(1);
      const read = async () => {
        for await (const c of gunzipMembers(createReadStream(file), [])) void c;
      };
      await expect(read()).rejects.toThrow(message);
    });
  }
  it('unpack of a tarball of two gzip members and text after them: GNU tar\'s tree, and the warning (root)', () => {
    const tarBytes = readFileSync(plain);
    const half = Math.floor(tarBytes.length / 2);
    const archive = join(scratch.dir, 'two-members.tar.gz');
    writeFileSync(archive, Buffer.concat([gz(tarBytes.subarray(0, half)), gz(tarBytes.subarray(half)), Buffer.from('text after\n')]));
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-two-members'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.diff).toBe('');
    expect(r.json!.warnings.join('\n')).toMatch(/gzip: decompression OK, trailing garbage ignored/);
  });
});
