// The rootfs tarball writer on the real fixture tree; GNU tar extracts what it writes (root).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTarball } from '../../src/tar/index.js';
import { repoRoot, rsyncDiff, runCli, scratchDir, sh } from '../helpers/run.js';
import { gnuTarExtract, nsTimes, paxRecordsOf } from './tar-helpers.js';

const scratch = scratchDir('tar-out');
const src = join(scratch.dir, 'src');

beforeAll(() => {
  execFileSync('bash', [join(repoRoot, 'scripts', 'make-fixture-tree.sh'), src]);
});
afterAll(() => scratch.cleanup());

describe('writeTarball of the fixture tree, extracted by GNU tar (root)', () => {
  const archive = join(scratch.dir, 'fixture.tar.gz');
  const dst = join(scratch.dir, 'gnu-extracted');
  let summary: Awaited<ReturnType<typeof writeTarball>>;

  beforeAll(async () => {
    summary = await writeTarball(src, archive, { compression: 'gzip' });
    gnuTarExtract(archive, dst);
  });

  it('is identical by rsync -aHAXc, except the socket a tarball cannot hold', () => {
    expect(rsyncDiff(src, dst).trim().split('\n')).toEqual(['cS+++++++++ devs/socket']);
    expect(summary.skipped).toEqual([{ path: 'devs/socket', reason: 'socket (a tarball cannot hold sockets)' }]);
    expect(summary.changed).toEqual([]);
  });

  it('keeps every modification time to the nanosecond', () => {
    expect(nsTimes(dst)).toEqual(nsTimes(src).filter((l) => !l.startsWith('devs/socket ')));
  });

  it('stores files with holes as GNU sparse entries, which GNU tar makes sparse again', () => {
    expect(summary.sparse).toBe(2); // ./sparse (1 GiB) and ./all-hole (64 MiB)
    expect(lstatSync(archive).size).toBeLessThan(32 << 20);
    expect(lstatSync(join(dst, 'sparse')).blocks * 512).toBeLessThan(1024 * 1024);
  });

  it('counts what it wrote', () => {
    expect(summary.devices).toBe(3);
    expect(summary.fifos).toBe(1);
    expect(summary.hardlinks).toBe(4); // two more names of links/a/one, devs/null-link, var/lib/excluded-twin
    expect(summary.withXattrs).toBeGreaterThanOrEqual(5);
    expect(summary.archiveBytes).toBeGreaterThan(0);
    expect(readdirSync(scratch.dir).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it("writes hard links after their first name, and non-UTF-8 names as raw pax bytes", async () => {
    const list = execFileSync('tar', ['-tvzf', archive], { encoding: 'latin1' }).split('\n');
    const first = list.findIndex((l) => l.endsWith(' ./links/a/one'));
    const second = list.findIndex((l) => l.includes(' ./links/a/two link to ./links/a/one'));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first);
    const recs = await paxRecordsOf(archive);
    expect(recs.some((r) => r.equals(Buffer.from('path=./names/bad-\xff-utf8', 'latin1')))).toBe(true);
    expect(recs.some((r) => r.toString('latin1') === 'mtime=1600000000.987654321')).toBe(true);
    expect(recs.some((r) => r.toString('latin1') === 'uid=4000000')).toBe(true);
    expect(recs.some((r) => r.toString('latin1').startsWith('SCHILY.xattr.security.capability='))).toBe(true);
    expect(recs.some((r) => r.toString('latin1').startsWith('SCHILY.xattr.system.posix_acl_default='))).toBe(true);
  });
});

describe('writeTarball with each compression, read back by GNU tar (root)', () => {
  const small = join(scratch.dir, 'small');
  beforeAll(() => {
    mkdirSync(small);
    sh(`cd '${small}' && echo hello > f && setfattr -n user.k -v 0x00ff f && setfacl -m u:77:r f && mkfifo p && ln f f2 && ln -s "$(printf 'x\\377')" s && chown 3000000:3000001 f && touch -h -d @1500000000.000000001 f s`);
  });

  for (const [compression, flag] of [['none', ''], ['gzip', '-z'], ['xz', '-J'], ['zstd', '--zstd']] as const) {
    it(`${compression}`, async () => {
      const archive = join(scratch.dir, `small-${compression}.tar`);
      const s = await writeTarball(small, archive, { compression });
      expect(s.compression).toBe(compression);
      const dst = join(scratch.dir, `small-${compression}`);
      gnuTarExtract(archive, dst, flag ? [flag] : []);
      expect(rsyncDiff(small, dst)).toBe('');
      expect(nsTimes(dst)).toEqual(nsTimes(small));
    });
  }
});

describe('writeTarball refusals and clean failure (root)', () => {
  it('refuses a source that is not a directory, and an unknown compression', async () => {
    await expect(writeTarball(join(src, 'small'), join(scratch.dir, 'x.tar'), { compression: 'none' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(writeTarball(src, join(scratch.dir, 'x.tar'), { compression: 'lz4' as 'none' })).rejects.toThrow('compression must be one of none, gzip, xz, zstd (got "lz4")');
    expect(existsSync(join(scratch.dir, 'x.tar'))).toBe(false);
  });

  it('leaves no partial archive when interrupted', async () => {
    const ac = new AbortController();
    const out = join(scratch.dir, 'aborted.tar');
    const p = writeTarball(src, out, { compression: 'gzip', signal: ac.signal, onProgress: (pr) => pr.entries > 20 && ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(scratch.dir).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it('does not put the archive into itself when written inside the tree', async () => {
    const tree = join(scratch.dir, 'self');
    mkdirSync(tree);
    writeFileSync(join(tree, 'a'), 'a');
    await writeTarball(tree, join(tree, 'self.tar'), { compression: 'none' });
    const list = execFileSync('tar', ['-tf', join(tree, 'self.tar')], { encoding: 'latin1' });
    expect(list.split('\n').filter(Boolean).sort()).toEqual(['./', './a']);
  });
});

describe('domu-forge pack (root)', () => {
  it('writes a tarball and prints a JSON summary', () => {
    const out = join(scratch.dir, 'cli.tar.zst');
    const r = runCli(['pack', join(src, 'links'), out, '--compress', 'zstd', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: true, hardlinks: 2, files: 2, compression: 'zstd' }); // links/a/one twice more; links/b/lonely
    expect(lstatSync(out).size).toBe(j.archiveBytes);
  });

  it('guesses the compression from the file name', () => {
    const out = join(scratch.dir, 'cli.tar.xz');
    expect(runCli(['pack', join(src, 'links'), out]).status).toBe(0);
    expect(spawnSync('xz', ['-t', out]).status).toBe(0);
  });
});

describe('a file over 8 GiB (root, 9 GiB sparse)', () => {
  const tree = join(scratch.dir, 'huge');
  const archive = join(scratch.dir, 'huge.tar.zst');
  beforeAll(() => {
    mkdirSync(tree);
    sh(`cd '${tree}' && truncate -s 9G big && printf head | dd of=big conv=notrunc status=none && printf middle | dd of=big bs=1 seek=8800000000 conv=notrunc status=none && printf tail | dd of=big bs=1 seek=9663676412 conv=notrunc status=none && touch -d @1600000000.5 big`);
  });

  it('stores the size in a pax record, and GNU tar finds the archive equal to the tree', async () => {
    const s = await writeTarball(tree, archive, { compression: 'zstd', sparse: false });
    expect(s.bytes).toBe(9 * 1024 ** 3);
    expect((await paxRecordsOf(archive, 65536)).some((r) => r.toString('latin1') === `size=${9 * 1024 ** 3}`)).toBe(true);
    // --compare reads every member back and checks size, mode, owner, time and content
    const r = spawnSync('tar', ['--zstd', '--compare', '--numeric-owner', '-f', archive, '-C', tree], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('stores it as a GNU sparse 1.0 entry by default, which GNU tar also finds equal', async () => {
    const sparseArchive = join(scratch.dir, 'huge-sparse.tar');
    const s = await writeTarball(tree, sparseArchive, { compression: 'none' });
    expect(s.sparse).toBe(1);
    expect(lstatSync(sparseArchive).size).toBeLessThan(64 * 1024);
    const recs = (await paxRecordsOf(sparseArchive)).map((r) => r.toString('latin1'));
    expect(recs).toEqual(expect.arrayContaining(['GNU.sparse.major=1', 'GNU.sparse.minor=0', 'GNU.sparse.name=./big', `GNU.sparse.realsize=${9 * 1024 ** 3}`]));
    const r = spawnSync('tar', ['--compare', '--numeric-owner', '-f', sparseArchive, '-C', tree], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
