// The tar format on raw bytes: pax records, times, xattr keys, ustar headers (read back by GNU tar),
// the GNU sparse 1.0 map, and the parsed header of an entry.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TarHeader } from '../../src/tar/format.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodePaxRecords, encodePaxRecord, formatPaxTime, parseHeader, parsePaxTime, sparseMap, ustarBlock, ustarName, ustarTime, xattrNameFromPaxKey, xattrPaxKey,
} from '../../src/tar/format.js';
import { EntryError } from '../../src/tar/types.js';
import { readSparseBody, sparseOf } from '../../src/tar/sparse.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-tarfmt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pax records', () => {
  it('a record\'s length counts itself, across the digit boundaries', () => {
    for (let len = 1; len < 200; len++) {
      const rec = encodePaxRecord('k', Buffer.alloc(len, 0x61));
      expect(Number(rec.toString('latin1').split(' ')[0])).toBe(rec.length);
      expect(decodePaxRecords(rec).get('k')).toEqual(Buffer.alloc(len, 0x61));
    }
    expect(encodePaxRecord('path', Buffer.from('ab')).toString()).toBe('11 path=ab\n');
  });

  it('values stay raw bytes (newlines, NUL, non-UTF-8); an empty value is kept empty; padding ends the list', () => {
    const raw = Buffer.from([0x0a, 0x00, 0xff, 0x3d]);
    const buf = Buffer.concat([encodePaxRecord('path', raw), encodePaxRecord('mtime', Buffer.from('1.5')), encodePaxRecord('gone', Buffer.alloc(0)), Buffer.alloc(30)]);
    const m = decodePaxRecords(buf);
    expect([...m.keys()]).toEqual(['path', 'mtime', 'gone']);
    expect(m.get('path')).toEqual(raw);
    expect(m.get('gone')).toEqual(Buffer.alloc(0));
  });

  it('refuses malformed records', () => {
    expect(() => decodePaxRecords(Buffer.from('nolength'))).toThrow('malformed pax record (no length)');
    expect(() => decodePaxRecords(Buffer.from('1x path=a\n'))).toThrow('malformed pax record length "1x"');
    expect(() => decodePaxRecords(Buffer.from('99 path=a\n'))).toThrow('malformed pax record');
    expect(() => decodePaxRecords(Buffer.from('8 patha\n'))).toThrow('malformed pax record (no "=")');
    expect(() => decodePaxRecords(Buffer.from('10 path=ab'))).toThrow('malformed pax record');
  });

  it('xattr keys escape % and = and come back the same', () => {
    const name = Buffer.from('user.a=b%c\xe9', 'latin1');
    expect(xattrPaxKey(name)).toBe('SCHILY.xattr.user.a%3Db%25c\xe9');
    expect(xattrNameFromPaxKey(xattrPaxKey(name))).toEqual(name);
    expect(xattrNameFromPaxKey('SCHILY.xattr.user.x%3d')).toEqual(Buffer.from('user.x='));
  });
});

describe('pax times', () => {
  it('parse exactly to the nanosecond, fractions of any length, negative times', () => {
    expect(parsePaxTime('1795700479.939447077')).toBe(1_795_700_479_939_447_077n);
    expect(parsePaxTime('12')).toBe(12_000_000_000n);
    expect(parsePaxTime('12.')).toBe(12_000_000_000n);
    expect(parsePaxTime('1.5')).toBe(1_500_000_000n);
    expect(parsePaxTime('1.1234567891')).toBe(1_123_456_789n);
    expect(parsePaxTime('-1.5')).toBe(-1_500_000_000n);
    expect(() => parsePaxTime('1e9')).toThrow('malformed pax time "1e9"');
    expect(() => parsePaxTime('')).toThrow();
  });

  it('format as the shortest exact text, and round-trip', () => {
    expect(formatPaxTime(1_500_000_000n)).toBe('1.5');
    expect(formatPaxTime(12_000_000_000n)).toBe('12');
    expect(formatPaxTime(-1_500_000_000n)).toBe('-1.5');
    expect(formatPaxTime(1n)).toBe('0.000000001');
    for (const ns of [0n, 1n, 999_999_999n, 1_795_700_479_939_447_077n, -7n, -1_000_000_001n]) expect(parsePaxTime(formatPaxTime(ns))).toBe(ns);
  });

  it('ustarTime keeps whole seconds within what the field holds', () => {
    expect(ustarTime(1_500_000_000_900_000_000n).getTime()).toBe(1_500_000_000_000);
    expect(ustarTime(-5n).getTime()).toBe(0);
    expect(ustarTime(10n ** 20n).getTime()).toBe(2_147_483_647_000);
  });
});

describe('ustar headers', () => {
  it('plain ASCII names up to 100 bytes stay; others go to a pax record with an ASCII stand-in', () => {
    const records: Buffer[] = [];
    expect(ustarName(Buffer.from('etc/passwd'), records, 'path')).toBe('etc/passwd');
    expect(records).toEqual([]);
    const odd = Buffer.from('srv/caf\xe9/', 'latin1');
    expect(ustarName(odd, records, 'path')).toBe('srv/caf_');
    expect(decodePaxRecords(records[0]!).get('path')).toEqual(odd);
    const long = Buffer.from(`${'d/'.repeat(60)}file`);
    const stand = ustarName(long, records, 'linkpath');
    expect(stand.length).toBe(99);
    expect(long.toString().endsWith(stand)).toBe(true);
    expect(decodePaxRecords(records[1]!).get('linkpath')).toEqual(long);
  });

  it('a header GNU tar reads back: mode, owner beyond octal (base-256), size, time, device numbers', () => {
    const body = Buffer.from('hello\n');
    const file = join(dir, 'one.tar');
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
    writeFileSync(file, Buffer.concat([
      ustarBlock({ name: 'dir/hello.txt', typeflag: '0', mode: 0o4755, size: body.length, mtime: 1_600_000_000, uid: 3_000_000, gid: 7 }),
      pad(body),
      ustarBlock({ name: 'dev/xvda1', typeflag: '3', mode: 0o660, size: 0, mtime: 0, devmajor: 202, devminor: 1 }),
      Buffer.alloc(1024),
    ]));
    const r = spawnSync('tar', ['--numeric-owner', '--utc', '-tvf', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^-rwsr-xr-x 3000000\/7\s+6 2020-09-13 12:26 dir\/hello\.txt$/);
    expect(lines[1]).toMatch(/^crw-rw---- 0\/0\s+202,1 1970-01-01 00:00 dev\/xvda1$/);
    const x = spawnSync('tar', ['-xOf', file, 'dir/hello.txt'], { encoding: 'utf8' });
    expect(x.stdout).toBe('hello\n');
  });
});

describe('GNU sparse 1.0 (sparseMap written, sparse.ts reading it)', () => {
  async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  }
  const read = async (body: Buffer, realSize: number, chunk = 7) => {
    const out = Buffer.alloc(realSize);
    let size = realSize;
    const info = sparseOf({ size: body.length, pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'f', 'GNU.sparse.realsize': String(realSize) } }, 'f');
    await readSparseBody(chunks(body, chunk), info!.sparse, 'f', { write: (d, pos) => void d.copy(out, pos), truncate: (n) => void (size = n) });
    return out.subarray(0, size);
  };

  it('the map sparseMap writes is the map readSparseBody reads, data placed at its offsets', async () => {
    const map = sparseMap([[0, 3], [1000, 2]]);
    expect(map.length).toBe(512);
    expect(map.toString('latin1').replace(/\0+$/, '')).toBe('2\n0\n3\n1000\n2\n');
    for (const chunk of [1, 7, 512, 4096]) {
      const out = await read(Buffer.concat([map, Buffer.from('abc'), Buffer.alloc(509), Buffer.from('de')]), 1002, chunk);
      expect(out.subarray(0, 3).toString()).toBe('abc');
      expect(out.subarray(1000, 1002).toString()).toBe('de');
      expect(out.subarray(3, 1000).every((b) => b === 0)).toBe(true);
    }
  });

  it('refuses maps that overrun the size, are malformed or cut short', async () => {
    await expect(read(Buffer.concat([sparseMap([[0, 3]]), Buffer.from('ab')]), 3)).rejects.toThrow('the GNU sparse map or data is cut short');
    await expect(read(Buffer.concat([sparseMap([[0, 11]]), Buffer.alloc(512)]), 10)).rejects.toThrow('pass the file');
    await expect(read(Buffer.from(`1\n0\n${'9'.repeat(80)}`), 10)).rejects.toThrow(EntryError);
    await expect(read(Buffer.from('x\n'), 10)).rejects.toThrow('malformed GNU sparse map');
  });
});

describe('parseHeader', () => {
  const header = (h: Partial<TarHeader>): TarHeader => ({
    name: 'a', type: 'file', typeflag: '0', mode: 0o644, uid: 1, gid: 2, size: 3, mtime: 1_600_000_000, linkname: null, devmajor: 0, devminor: 0,
    format: 'ustar', pax: null, block: Buffer.alloc(512), extensions: [], byteOffset: 512, ...h,
  });

  it('takes pax values over the ustar fields', () => {
    const e = parseHeader(header({
      pax: { path: 'ignored-by-parseHeader', uid: '4000000', gid: '5', mtime: '1600000000.123456789', atime: '1.5', 'SCHILY.xattr.user.k%3D': 'v\xe9', 'SCHILY.acl.access': 'user::rw-' },
    }));
    expect(e).toMatchObject({ kind: 'file', mode: 0o644, uid: 4_000_000, gid: 5, size: 3, mtimeNs: 1_600_000_000_123_456_789n, atimeNs: 1_500_000_000n, aclAccess: 'user::rw-' });
    expect(e.xattrs).toEqual([[Buffer.from('user.k='), Buffer.from('v\xe9', 'latin1')]]);
    expect(parseHeader(header({})).mtimeNs).toBe(1_600_000_000_000_000_000n);
  });

  it('a file whose name ends in / is a directory; GNU sparse 1.0 gives the real name and size', () => {
    expect(parseHeader(header({ name: 'v7dir/' })).kind).toBe('directory');
    const e = parseHeader(header({ name: 'GNUSparseFile.0/big', pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'big', 'GNU.sparse.realsize': '1048576' } }));
    expect([e.path.toString(), e.sparse?.realSize]).toEqual(['big', 1_048_576]);
  });

  it('refuses what it cannot extract faithfully', () => {
    // an unknown typeflag is a regular file, as GNU tar extracts it (the reader names it in the summary)
    expect(parseHeader(header({ type: null, typeflag: 'Z' })).kind).toBe('file');
    expect(() => parseHeader(header({ pax: { 'GNU.sparse.major': '2', 'GNU.sparse.minor': '0' } }))).toThrow(/GNU sparse format 2\.0/);
    expect(() => parseHeader(header({ type: 'gnu-long-path' }))).toThrow('a: unsupported entry type gnu-long-path');
    expect(() => parseHeader(header({ pax: { uid: '-1' } }))).toThrow('a: malformed pax uid "-1"');
    expect(() => parseHeader(header({ pax: { mtime: 'soon' } }))).toThrow('a: malformed pax mtime "soon"');
    expect(() => parseHeader(header({ pax: { uid: '4294967295' } }))).toThrow('a: invalid owner 4294967295:2');
  });
});
