// `unpack` checks the archive before it makes the target, and the extraction takes that check
// instead of reading the archive a second time for its own safety pass, but only while the file
// is the one that was checked: a file rewritten since (even to the same size, with its old
// modification time put back) is checked again, so a swap after the check cannot slip through.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTarball, extractTarball, type TarProgress } from '../../src/tar/index.js';
import { rsyncDiff } from '../helpers/run.js';
import { rawTar } from './tar-helpers.js';
import { playground } from './tar-hostile.js';

const pg = playground('tar-check-reuse');
afterAll(() => pg.cleanup());

const benign = rawTar([
  { name: 'aa/', type: '5', mode: 0o755 },
  { name: 'aa/f', data: 'the same bytes\n' },
  { name: 'ab', type: '2', linkname: 'aa/f' },
]);
// the same length, byte for byte: a file through a symlink the archive plants, out of the target
const hostile = rawTar([
  { name: 'aa/', type: '5', mode: 0o755 },
  { name: 'ab', type: '2', linkname: '../o' },
  { name: 'ab/f', data: 'the same bytes\n' },
]);

const phases = (seen: TarProgress[]) => new Set(seen.map((p) => p.phase));

describe('extractTarball given checkTarball of the same file', () => {
  it('has hostile and benign archives of one size (the test would prove nothing otherwise)', () => {
    expect(hostile.length).toBe(benign.length);
  });

  it('does not scan the archive again, and extracts what a run without the check extracts', async () => {
    const file = join(pg.dir, 'same.tar');
    writeFileSync(file, benign);
    const check = await checkTarball(file);
    const seen: TarProgress[] = [];
    await extractTarball(file, join(pg.dir, 'with-check'), { onProgress: (p) => seen.push(p) }, check);
    expect(phases(seen).has('scan')).toBe(false);

    const alone: TarProgress[] = [];
    await extractTarball(file, join(pg.dir, 'without'), { onProgress: (p) => alone.push(p) });
    expect(phases(alone).has('scan')).toBe(true);
    expect(rsyncDiff(join(pg.dir, 'without'), join(pg.dir, 'with-check'))).toBe('');
  });

  it('checks again, and refuses, an archive rewritten after the check to the same size and time', async () => {
    const file = join(pg.dir, 'swapped.tar');
    writeFileSync(file, benign);
    const check = await checkTarball(file);
    const { atime, mtime } = statSync(file);
    writeFileSync(file, hostile);
    utimesSync(file, atime, mtime);
    const target = join(pg.dir, 'swapped-target');
    const seen: TarProgress[] = [];
    const err = await extractTarball(file, target, { onProgress: (p) => seen.push(p) }, check).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(phases(seen).has('scan')).toBe(true);
    expect(err?.code).toBe('BAD_INPUT');
    expect(err?.message).toMatch(/symbolic link ab/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(pg.outside)).toEqual(['keep']);
  });

  it('checks again for a target whose path would make an entry longer than PATH_MAX', async () => {
    const file = join(pg.dir, 'long.tar');
    const name = `${'n'.repeat(90)}/`.repeat(33).slice(0, -1); // 3,002 bytes: well within PATH_MAX alone
    writeFileSync(file, rawTar([{ name: 'x', data: '', pax: { path: `${name}/f` } }]));
    const check = await checkTarball(file);
    const deep = join(pg.dir, `${'d'.repeat(200)}/`.repeat(11));
    const err = await extractTarball(file, deep, {}, check).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(err?.code).toBe('BAD_INPUT');
    expect(err?.message).toMatch(/PATH_MAX/);
  });
});
