// GNU sparse files in every format GNU tar writes them (old GNU type S with extension blocks; pax
// 0.0, 0.1, 1.0) and bsdtar's pax ones, and hand-made variants no tool writes: each archive extracted
// by GNU tar and by `domu-forge unpack` must give identical trees (rsync -aHAXc), with holes kept as
// holes; malformed maps are refused naming the cause, with nothing written (root).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rsyncDiff, runCli, scratchDir } from '../helpers/run.js';
import { compareWithGnuTar } from './tar-corpus.js';
import { rawHeader } from './tar-helpers.js';

const scratch = scratchDir('tar-sparse');
const src = join(scratch.dir, 'src');
const GiB = 1024 ** 3;
afterAll(() => scratch.cleanup());

/** A tree of sparse files: holes at the start, middle and end, all hole, 10 GiB with a few KiB of data, 60 regions. */
function makeSparseTree(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-ec', `
    cd "$1"
    mkdir sub
    truncate -s 1M hole-start; printf 'data after the hole' >> hole-start
    printf 'head' > hole-middle; truncate -s 2M hole-middle; printf 'tail' >> hole-middle
    head -c 10000 /dev/urandom > hole-end; truncate -s 3M hole-end
    truncate -s 5M sub/all-hole
    truncate -s 10G huge
    head -c 3000 /dev/urandom | dd of=huge bs=1M seek=5120 conv=notrunc status=none
    printf 'end' >> huge
    truncate -s 8M many
    i=0; while [ $i -lt 60 ]; do printf "region $i" | dd of=many bs=131072 seek=$i conv=notrunc status=none; i=$((i+1)); done
    printf 'not sparse\\n' > plain
    chown 1234:2345 hole-start; chmod 0600 hole-middle; chmod 4755 hole-end
    touch -d '2001-02-03 04:05:06.123456789' hole-start hole-middle hole-end sub/all-hole huge many plain sub .
  `, 'sh', dir]);
}

/** The typeflags of an archive's headers and the keys of its pax records (a walk over the headers). */
function headersOf(archive: string): { types: string; paxKeys: Set<string> } {
  const d = readFileSync(archive);
  let types = '';
  const paxKeys = new Set<string>();
  let at = 0;
  while (at + 512 <= d.length) {
    const h = d.subarray(at, at + 512);
    at += 512;
    if (h.every((b) => b === 0)) continue;
    const f = h.subarray(124, 136);
    const size = f[0] === 0x80 ? Number(f.readBigUInt64BE(4)) : parseInt(f.toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    types += type;
    if (type === 'S') {
      let ext = h[482] !== 0;
      while (ext) {
        ext = d[at + 504] !== 0;
        at += 512;
        types += '+';
      }
    }
    if (type === 'x') for (const m of d.toString('latin1', at, at + size).matchAll(/\d+ ([^=]+)=/g)) paxKeys.add(m[1]!);
    at += Math.ceil(size / 512) * 512;
  }
  return { types, paxKeys };
}

function expectIdentical(archive: string, work: string): void {
  const r = compareWithGnuTar(archive, join(scratch.dir, work));
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.diff).toBe('');
}

describe('sparse archives the tools write (root)', () => {
  beforeAll(() => makeSparseTree(src));

  const cases: Array<{ name: string; tool: string; args: string[]; check: (h: ReturnType<typeof headersOf>) => void }> = [
    { name: 'GNU tar --format=gnu --sparse (type S)', tool: 'tar', args: ['--format=gnu', '--sparse'], check: (h) => expect(h.types).toMatch(/S\+\+\+/) },
    { name: 'GNU tar --format=oldgnu --sparse (type S)', tool: 'tar', args: ['--format=oldgnu', '--sparse'], check: (h) => expect(h.types).toMatch(/S\+\+\+/) },
    { name: 'GNU tar --format=posix --sparse-version=0.0', tool: 'tar', args: ['--format=posix', '--sparse', '--sparse-version=0.0'], check: (h) => expect([...h.paxKeys]).toEqual(expect.arrayContaining(['GNU.sparse.offset', 'GNU.sparse.numbytes', 'GNU.sparse.size'])) },
    { name: 'GNU tar --format=posix --sparse-version=0.1', tool: 'tar', args: ['--format=posix', '--sparse', '--sparse-version=0.1'], check: (h) => expect([...h.paxKeys]).toEqual(expect.arrayContaining(['GNU.sparse.map', 'GNU.sparse.name'])) },
    { name: 'GNU tar --format=posix --sparse-version=1.0', tool: 'tar', args: ['--format=posix', '--sparse', '--sparse-version=1.0'], check: (h) => expect([...h.paxKeys]).toEqual(expect.arrayContaining(['GNU.sparse.major', 'GNU.sparse.realsize'])) },
    { name: 'bsdtar --format pax (sparse 1.0)', tool: 'bsdtar', args: ['--format', 'pax'], check: (h) => expect([...h.paxKeys]).toEqual(expect.arrayContaining(['GNU.sparse.major', 'GNU.sparse.realsize'])) },
  ];
  cases.forEach((c, i) => {
    it(c.name, () => {
      const archive = join(scratch.dir, `tool-${i}.tar`);
      execFileSync(c.tool, [...c.args, '--numeric-owner', '-cf', archive, '-C', src, '.']);
      expect(lstatSync(archive).size).toBeLessThan(1 << 20); // 10 GiB apparent, stored as its map and data
      c.check(headersOf(archive));
      const ours = join(scratch.dir, `tool-${i}`, 'ours');
      if (c.tool === 'bsdtar') {
        // bsdtar puts ./sub/ before ./plain and ./sub/all-hole after it: GNU tar sets a directory's time when the
        // archive leaves it, so the later entry gives sub/ the extraction time; unpack keeps the archive's (the source's)
        const r = compareWithGnuTar(archive, join(scratch.dir, `tool-${i}`));
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(r.diff).toBe('.d..t...... sub/\n');
        expect(rsyncDiff(src, ours, ['--exclude', '/huge'])).toBe('');
      } else expectIdentical(archive, `tool-${i}`);
      const huge = lstatSync(join(ours, 'huge'));
      expect(huge.size).toBe(10 * GiB + 3);
      expect(huge.blocks * 512).toBeLessThan(1 << 20); // the hole was not written as zeros
      expect(lstatSync(join(ours, 'sub', 'all-hole')).blocks).toBe(0);
      if (i === 4) expect(rsyncDiff(src, ours, ['--exclude', '/huge'])).toBe(''); // GNU tar's tree equals the source (huge: checked against GNU tar's above)
    });
  });
  // bsdtar writes sparse files only in pax (its gnutar, ustar and v7 writers store the holes as zeros)
});

// ---- hand-made archives ----

const ROOT = rawHeader({ name: './', type: '5', mode: 0o755 });

function pad(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

/** pax records in this order (0.0 repeats keys). */
function paxRecords(records: Array<[string, string]>): Buffer {
  return Buffer.concat(records.map(([k, v]) => {
    const body = Buffer.from(` ${k}=${v}\n`, 'latin1');
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return Buffer.concat([Buffer.from(String(len)), body]);
  }));
}

function archive(...entries: Buffer[]): Buffer {
  return Buffer.concat([ROOT, ...entries, Buffer.alloc(1024)]);
}

/** A pax-headed file entry whose stored data is `data`. */
function paxEntry(name: string, records: Array<[string, string]>, data: Buffer): Buffer {
  const p = paxRecords(records);
  return Buffer.concat([rawHeader({ name: 'PaxHeaders/f', type: 'x', size: p.length }), pad(p), rawHeader({ name, size: data.length }), pad(data)]);
}

/** Region data as GNU tar stores it: each region in whole blocks (the last one as long as it is). */
function regions(datas: Buffer[]): Buffer {
  return Buffer.concat(datas.map((d, i) => (i < datas.length - 1 ? pad(d) : d)));
}

/** A sparse 1.0 body: the decimal map padded to a block, then the regions. */
function v1Body(map: Array<[number, number]>, datas: Buffer[]): Buffer {
  return Buffer.concat([pad(Buffer.from(`${map.length}\n${map.map(([o, n]) => `${o}\n${n}\n`).join('')}`)), regions(datas)]);
}

function v1(name: string, realSize: number, map: Array<[number, number]>, datas: Buffer[], opts: { sparseName?: boolean; extra?: Buffer; records?: Array<[string, string]> } = {}): Buffer {
  const records: Array<[string, string]> = [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0']];
  if (opts.sparseName !== false) records.push(['GNU.sparse.name', name]);
  records.push(...(opts.records ?? [['GNU.sparse.realsize', String(realSize)]]));
  return paxEntry(`GNUSparseFile.0/${name}`, records, Buffer.concat([v1Body(map, datas), opts.extra ?? Buffer.alloc(0)]));
}

/** An old GNU type S header: map pairs in the header and in extension blocks (21 a block), then the regions. */
function oldGnu(name: string, realSize: number, map: Array<[number, number] | [string, string]>, datas: Buffer[]): Buffer {
  const data = regions(datas);
  const h = rawHeader({ name, type: 'S', size: data.length });
  h.write('ustar  \0', 257, 'latin1');
  const put = (b: Buffer, at: number, v: number | string) => b.write(typeof v === 'string' ? v : `${v.toString(8).padStart(11, '0')}\0`, at, 'latin1');
  const exts: Buffer[] = [];
  map.forEach(([o, n], i) => {
    let b = h;
    let at = 386 + i * 24;
    if (i >= 4) {
      const e = Math.floor((i - 4) / 21);
      if (!exts[e]) exts[e] = Buffer.alloc(512);
      b = exts[e]!;
      at = ((i - 4) % 21) * 24;
    }
    put(b, at, o);
    put(b, at + 12, n);
  });
  if (exts.length > 0) h[482] = 1;
  exts.forEach((e, i) => (e[504] = i < exts.length - 1 ? 1 : 0));
  put(h, 483, realSize);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([h, ...exts, pad(data)]);
}

const A = (n: number, c = 'a') => Buffer.alloc(n, c);

let handN = 0;
function handFile(buf: Buffer): string {
  handN += 1;
  const file = join(scratch.dir, `hand-${handN}.tar`);
  writeFileSync(file, buf);
  return file;
}

describe('hand-made sparse archives no tool writes, extracted as GNU tar does (root)', () => {
  const same: Array<[string, Buffer]> = [
    ['1.0 without GNU.sparse.name (the pax path names it)', archive(paxEntry('GNUSparseFile.0/x', [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '65536'], ['path', 'noname']], v1Body([[0, 5], [65536, 0]], [A(5), Buffer.alloc(0)])))],
    ['1.0 without GNU.sparse.name or path (the ustar name names it)', archive(paxEntry('ustar-name', [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '65536']], v1Body([[4096, 5], [65536, 0]], [A(5), Buffer.alloc(0)])))],
    ['1.0 with a pax size one byte above the map and data', archive(v1('plus-one', 65536, [[0, 5], [65536, 0]], [A(5), Buffer.alloc(0)], { extra: Buffer.from('Z') }))],
    ['1.0 with GNU.sparse.size instead of GNU.sparse.realsize', archive(v1('size-key', 65536, [[512, 7], [65536, 0]], [A(7), Buffer.alloc(0)], { records: [['GNU.sparse.size', '65536']] }))],
    ['1.0 with GNU.sparse.size, then a larger GNU.sparse.realsize (the later one counts)', archive(v1('both-sizes', 0, [[60000, 5], [65536, 0]], [A(5), Buffer.alloc(0)], { records: [['GNU.sparse.size', '4096'], ['GNU.sparse.realsize', '65536']] }))],
    ['1.0 with regions out of order', archive(v1('unsorted', 1 << 20, [[8192, 512], [0, 512], [1 << 20, 0]], [A(512, 'b'), A(512, 'a'), Buffer.alloc(0)]))],
    ['1.0 with overlapping regions (the later one wins)', archive(v1('overlap', 1 << 20, [[0, 1024], [512, 512], [1 << 20, 0]], [A(1024), A(512, 'b'), Buffer.alloc(0)]))],
    ['1.0 with regions off block boundaries', archive(v1('unaligned', 65536, [[100, 10], [5000, 7], [65536, 0]], [A(10), A(7, 'b'), Buffer.alloc(0)]))],
    ['1.0 with a zero-length region in the middle (it truncates there)', archive(v1('mid-zero', 1 << 20, [[0, 1024], [512, 0], [8192, 10]], [A(1024), Buffer.alloc(0), A(10, 'c')]))],
    ['1.0 without the zero-length region at the end (the file ends with its data)', archive(v1('no-end', 1 << 20, [[0, 512]], [A(512)]))],
    ['1.0 with no regions at all', archive(v1('no-regions', 65536, [], []))],
    ['0.0 with repeated offset/numbytes records', archive(paxEntry('zero-zero', [['GNU.sparse.size', '200000'], ['GNU.sparse.numblocks', '3'], ['GNU.sparse.offset', '4096'], ['GNU.sparse.numbytes', '600'], ['GNU.sparse.offset', '100000'], ['GNU.sparse.numbytes', '3'], ['GNU.sparse.offset', '200000'], ['GNU.sparse.numbytes', '0']], regions([A(600), A(3, 'q')])))],
    ['0.1 with regions out of order', archive(paxEntry('GNUSparseFile.0/zero-one', [['GNU.sparse.size', '300000'], ['GNU.sparse.numblocks', '3'], ['GNU.sparse.name', 'zero-one'], ['GNU.sparse.map', '200000,5,0,512,300000,0']], regions([A(5, 'z'), A(512)])))],
    ['old GNU with 30 regions (two extension blocks), unaligned', archive(oldGnu('old-many', 1 << 20, [...Array.from({ length: 30 }, (_, i) => [i * 20000 + 1, 3] as [number, number]), [1 << 20, 0]], [...Array.from({ length: 30 }, (_, i) => A(3, String.fromCharCode(65 + (i % 26)))), Buffer.alloc(0)]))],
  ];
  same.forEach(([name, buf], i) => {
    it(name, () => expectIdentical(handFile(buf), `same-${i}`));
  });

  // the last element: whether GNU tar or bsdtar refuses it too (both read a 1.0 entry cut short on into the next blocks)
  const refused: Array<[string, Buffer, RegExp, boolean?]> = [
    ['1.0 region past the real size (bsdtar refuses; GNU tar 1.34 writes past it)', archive(v1('past', 4096, [[0, 512], [8192, 10]], [A(512), A(10)])), /past: GNU sparse map segments overlap or pass the file's size \(the region at 8192\.\.8202 passes the size 4096\)/],
    ['0.1 region past the real size', archive(paxEntry('p01', [['GNU.sparse.size', '100'], ['GNU.sparse.numblocks', '1'], ['GNU.sparse.map', '96,10']], A(10))), /p01: .*the region at 96\.\.106 passes the size 100/],
    ['old GNU region past the real size', archive(oldGnu('pold', 1000, [[990, 20]], [A(20)])), /pold: .*the region at 990\.\.1010 passes the size 1000/],
    ['1.0 map with a non-number', archive(paxEntry('GNUSparseFile.0/badnum', [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'badnum'], ['GNU.sparse.realsize', '100']], Buffer.concat([pad(Buffer.from('1\n0x\n5\n')), A(5)]))), /badnum: malformed GNU sparse map \("0x" where a number is expected\)/],
    ['1.0 map cut short', archive(paxEntry('GNUSparseFile.0/short', [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'short'], ['GNU.sparse.realsize', '100']], Buffer.from('2\n0\n5\n'))), /short: the GNU sparse map or data is cut short \(the entry ends inside the map\)/],
    ['1.0 data cut short', archive(v1('cut', 65536, [[0, 600], [4096, 600]], [A(600)])), /cut: the GNU sparse map or data is cut short \(the entry ends inside the data of the region at 4096\.\.4696\)/, false],
    ['0.1 map with an odd number of values', archive(paxEntry('odd', [['GNU.sparse.size', '100'], ['GNU.sparse.numblocks', '1'], ['GNU.sparse.map', '0,5,7']], A(5))), /odd: malformed pax GNU.sparse.map "0,5,7" \(an odd number of values\)/],
    ['0.0 with more regions than GNU.sparse.numblocks', archive(paxEntry('excess', [['GNU.sparse.size', '100'], ['GNU.sparse.numblocks', '1'], ['GNU.sparse.offset', '0'], ['GNU.sparse.numbytes', '5'], ['GNU.sparse.offset', '50'], ['GNU.sparse.numbytes', '5']], A(10))), /excess: malformed pax GNU.sparse.offset "50" \(more regions than GNU.sparse.numblocks=1\)/],
    ['old GNU with a region size that is not a number', archive(oldGnu('oldbad', 1000, [['00000000000\0', '0000zz00000\0']], [A(5)])), /oldbad: invalid old GNU sparse header \(its region size field is not a number\)/],
    ['sparse format 2.0', archive(paxEntry('GNUSparseFile.0/v2', [['GNU.sparse.major', '2'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'v2'], ['GNU.sparse.realsize', '100']], pad(Buffer.from('1\n0\n5\n')))), /v2: GNU sparse format 2\.0, which GNU tar 1\.34 does not know either/],
  ];
  refused.forEach(([name, buf, message, peerRefuses = true], i) => {
    it(`refuses ${name}`, () => {
      const file = handFile(buf);
      const target = join(scratch.dir, `refused-${i}`);
      const r = runCli(['unpack', '--quiet', file, target]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.status).toBe(2);
      expect(existsSync(target)).toBe(false);
      // a peer refuses it too (GNU tar exits non-zero, or bsdtar does), or both read past the entry
      const peers = ['tar', 'bsdtar'].map((tool) => {
        const dir = join(scratch.dir, `refused-${i}-${tool}`);
        mkdirSync(dir);
        return spawnSync(tool, ['-xf', file, '-C', dir]).status;
      });
      expect(peers.some((s) => s !== 0)).toBe(peerRefuses);
    });
  });
});
