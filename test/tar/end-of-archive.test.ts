// The end of an archive as GNU tar 1.34 finds it (root): two zero blocks end it and nothing after
// them is extracted; a lone zero block (even with a stray byte after it) ends it with a warning;
// data after the end marker, and text after a compressed stream, are warnings, not damage.

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/run.js';
import { rawHeader, rawTar } from './tar-helpers.js';
import { compareWithGnuTarJson } from './tar-corpus.js';

const scratch = scratchDir('tarfmt-eoa');
afterAll(() => scratch.cleanup());

const first = rawTar([{ name: './', type: '5', mode: 0o755 }, { name: 'before', data: 'kept\n' }], { end: false });
const second = rawTar([{ name: 'after', data: 'never\n' }], { end: false });
let n = 0;

function check(bytes: Buffer, warning: RegExp | null) {
  n += 1;
  const archive = join(scratch.dir, `eoa-${n}.tar`);
  writeFileSync(archive, bytes);
  const work = join(scratch.dir, `w-${n}`);
  const r = compareWithGnuTarJson(archive, work);
  expect(r.gnuStatus).toBe(0);
  expect(r.status, r.stderr).toBe(0);
  expect(r.diff).toBe('');
  expect(readdirSync(join(work, 'ours'))).toEqual(['before']);
  expect(existsSync(join(work, 'gnu', 'after'))).toBe(false);
  if (warning) expect(r.json!.warnings.join('\n')).toMatch(warning);
  else expect(r.json!.warnings).toEqual([]);
  return r;
}

describe('end of archive, as GNU tar (root)', () => {
  it('an entry after the end marker is not extracted (and is warned about)', () => {
    check(Buffer.concat([first, Buffer.alloc(1024), second, Buffer.alloc(1024)]), /bytes after the end-of-archive marker were not read/);
  });
  it('zero padding after the end marker (tar\'s record size) is normal: no warning', () => {
    check(Buffer.concat([first, Buffer.alloc(10240 - first.length)]), null);
  });
  it('a lone zero block and a stray byte: extracts what is before it, warns', () => {
    const r = check(Buffer.concat([first, Buffer.alloc(512), Buffer.from('x')]), /a lone zero block at 4/);
    expect(r.gnuStderr).toMatch(/A lone zero block at 4/);
  });
  it('a lone zero block at the end of the file', () => {
    check(Buffer.concat([first, Buffer.alloc(512)]), /lone zero block.*second zero block of the end marker is missing/);
  });
  it('a lone zero block, then a header: GNU tar stops at the zero block, so does unpack', () => {
    const r = check(Buffer.concat([first, Buffer.alloc(512), second, Buffer.alloc(1024)]), /lone zero block/);
    expect(r.gnuStderr).toMatch(/A lone zero block/);
  });
  it('text after the end marker is a warning', () => {
    check(Buffer.concat([first, Buffer.alloc(1024), Buffer.from('garbage after the archive\n')]), /26 bytes after the end-of-archive marker/);
  });
});

describe('data after a compressed stream (root)', () => {
  const plain = Buffer.concat([first, Buffer.alloc(1024)]);
  const cases: Array<[string, string[], RegExp]> = [
    ['gzip', ['gzip', '-c'], /trailing garbage ignored/],
    ['bzip2', ['bzip2', '-c'], /trailing garbage after EOF ignored/],
    ['xz', ['xz', '-c'], /xz reported an error after the end of the archive/],
    ['zstd', ['zstd', '-q', '-c'], /zstd reported an error after the end of the archive/],
  ];
  for (const [name, cmd, warning] of cases) {
    it(`${name}: extracted, with ${name}'s complaint as a warning`, () => {
      const archive = join(scratch.dir, `trailing.tar.${name}`);
      writeFileSync(archive, Buffer.concat([execFileSync(cmd[0]!, cmd.slice(1), { input: plain }), Buffer.from('text after the stream\n')]));
      const work = join(scratch.dir, `w-trailing-${name}`);
      const r = compareWithGnuTarJson(archive, work);
      // GNU tar extracts it too (and exits 2 for gzip, xz and zstd, whose tools fail)
      expect(readdirSync(join(work, 'gnu'))).toEqual(['before']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.diff).toBe('');
      expect(r.json!.warnings.join('\n')).toMatch(warning);
    });
  }
  it('a damaged compressed stream is still refused, naming the decompressor', () => {
    const archive = join(scratch.dir, 'cut.tar.xz');
    const big = rawTar([{ name: 'big', data: Buffer.alloc(200000, 1) }]);
    const xz = execFileSync('xz', ['-c'], { input: Buffer.concat([first, big]) });
    writeFileSync(archive, xz.subarray(0, xz.length - 40));
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-cut'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot be decompressed: xz failed: xz: \(stdin\): Unexpected end of input/);
  });
  it('an archive cut at a header boundary without its end marker stays refused (the download was cut short)', () => {
    const archive = join(scratch.dir, 'noend.tar');
    writeFileSync(archive, Buffer.concat([first, rawHeader({ name: 'x', size: 0 })]));
    const r = compareWithGnuTarJson(archive, join(scratch.dir, 'w-noend'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the end-of-archive marker is missing/);
  });
});
