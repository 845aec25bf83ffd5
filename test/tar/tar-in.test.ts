// The rootfs tarball reader on archives made by GNU tar, by mmdebstrap and by our writer (root).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractTarball } from '../../src/tar/index.js';
import { writeTarball } from '../../src/tar/index.js';
import { repoRoot, rsyncDiff, runCli, scratchDir, sh } from '../helpers/run.js';
import { gnuTarExtract, nsTimes } from './tar-helpers.js';
import { fsck, sweep, tempDir, withImageMounted } from '../targets/helpers.js';

const scratch = scratchDir('tar-in');
const src = join(scratch.dir, 'src');
const noSocket = (lines: string[]) => lines.filter((l) => !l.startsWith('devs/socket '));

beforeAll(() => {
  execFileSync('bash', [join(repoRoot, 'scripts', 'make-fixture-tree.sh'), src]);
});
afterAll(() => scratch.cleanup());

describe('extractTarball of a GNU tar pax archive of the fixture tree (root)', () => {
  const archive = join(scratch.dir, 'gnu.tar.gz');
  const dst = join(scratch.dir, 'from-gnu');
  let summary: Awaited<ReturnType<typeof extractTarball>>;

  beforeAll(async () => {
    // the flags mmdebstrap uses, plus ACLs as text (SCHILY.acl.*) and compression
    const r = spawnSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '-czpf', archive, '-C', src, '.'], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/socket ignored/);
    summary = await extractTarball(archive, dst, { trusted: true });
  });

  it('is identical by rsync -aHAXc (GNU tar leaves out the socket, and stores a hard-linked device twice)', () => {
    expect(rsyncDiff(src, dst).trim().split('\n')).toEqual(['hD          devs/null-link => devs/null', 'cS+++++++++ devs/socket']);
    expect(summary.skipped).toEqual([]);
  });

  it('keeps every modification time to the nanosecond', () => {
    expect(nsTimes(dst)).toEqual(noSocket(nsTimes(src)));
  });

  it('counts what it made', () => {
    expect(summary).toMatchObject({ devices: 4, fifos: 1, hardlinks: 3, compression: 'gzip' });
  });
});

describe('domu-forge unpack into an image file (root, loop)', () => {
  const work = tempDir('tar-in-image');
  afterAll(() => sweep(work));

  it('makes an image sized from the archive that fsck finds clean and rsync finds identical', async () => {
    const image = join(work, 'guest.img');
    const r = runCli(['unpack', join(scratch.dir, 'gnu.tar.gz'), '--image', image, '--label', 'guest', '--trusted', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: true, target: { kind: 'image', path: image, fs: 'ext4', label: 'guest', sizeEstimated: true } });
    expect(fsck(image, 'ext4').status).toBe(0);
    await withImageMounted(image, (root) => {
      expect(rsyncDiff(src, root).trim().split('\n')).toEqual(['hD          devs/null-link => devs/null', 'cS+++++++++ devs/socket']);
      expect(nsTimes(root).filter((l) => !l.startsWith('lost+found'))).toEqual(noSocket(nsTimes(src)));
    }, 'ext4');
    expect(readdirSync(work)).toEqual(['guest.img']);
  });
});

describe('extractTarball of GNU tar archives in other forms (root)', () => {
  const small = join(scratch.dir, 'small');
  beforeAll(() => {
    mkdirSync(small);
    sh(`cd '${small}' && mkdir d && echo x > d/f && setfacl -m u:root:rx,g:root:r,u:1234:rwx d/f && setfacl -d -m u:root:rwx,g:4321:rx d && setfacl -m u:0:rwx d` +
      ` && echo long > "$(printf 'L%.0s' $(seq 200))" && ln -s "$(printf 'T%.0s' $(seq 150))" longlink && chown 3000000:3000001 d/f && touch -d @1700000000 d/f d .`);
  });

  it('reads ACLs that GNU tar stored only as text (SCHILY.acl.*, with user names)', async () => {
    const archive = join(scratch.dir, 'acl-text.tar');
    execFileSync('tar', ['--format=posix', '--acls', '--numeric-owner', '-cpf', archive, '-C', small, '.']);
    const dst = join(scratch.dir, 'acl-text');
    await extractTarball(archive, dst);
    expect(execFileSync('getfacl', ['-Rpn', '.'], { cwd: dst, encoding: 'latin1' })).toBe(execFileSync('getfacl', ['-Rpn', '.'], { cwd: small, encoding: 'latin1' }));
    expect(rsyncDiff(small, dst, ['--no-X'])).toBe('');
  });

  it('reads GNU sparse 1.0 entries (tar -S --format=posix) back into sparse files', async () => {
    const archive = join(scratch.dir, 'gnu-sparse.tar');
    spawnSync('tar', ['-S', '--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-cpf', archive, '-C', src, '.']);
    expect(lstatSync(archive).size).toBeLessThan(64 << 20); // the 1 GiB ./sparse is stored as its map and data
    const dst = join(scratch.dir, 'gnu-sparse');
    const s = await extractTarball(archive, dst, { trusted: true });
    expect(rsyncDiff(src, dst).trim().split('\n')).toEqual(['hD          devs/null-link => devs/null', 'cS+++++++++ devs/socket']);
    expect(s.bytes).toBeGreaterThan(1024 ** 3);
    expect(lstatSync(join(dst, 'sparse')).blocks * 512).toBeLessThan(1024 * 1024);
  });

  it('reads the GNU format (long names as ././@LongLink, base-256 owners)', async () => {
    const archive = join(scratch.dir, 'gnu-format.tar.xz');
    execFileSync('tar', ['--format=gnu', '--numeric-owner', '-cJpf', archive, '-C', small, '.']);
    const dst = join(scratch.dir, 'gnu-format');
    const s = await extractTarball(archive, dst);
    expect(s.compression).toBe('xz');
    // the GNU format keeps neither ACLs, xattrs nor sub-second times
    expect(rsyncDiff(small, dst, ['--no-A', '--no-X'])).toBe('');
  });
});

describe('extractTarball of our own archives (root)', () => {
  it('round-trips the fixture tree through writeTarball (zstd) exactly', async () => {
    const archive = join(scratch.dir, 'ours.tar.zst');
    await writeTarball(src, archive, { compression: 'zstd' });
    const dst = join(scratch.dir, 'from-ours');
    const s = await extractTarball(archive, dst, { trusted: true });
    expect(s.skipped).toEqual([]);
    expect(rsyncDiff(src, dst).trim().split('\n')).toEqual(['cS+++++++++ devs/socket']);
    expect(nsTimes(dst)).toEqual(noSocket(nsTimes(src)));
  });

  it('turns long runs of zeros into holes', () => {
    const st = lstatSync(join(scratch.dir, 'from-ours', 'sparse'));
    expect(st.size).toBe(1024 ** 3);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
  });
});

describe('devices need --trusted (root)', () => {
  const archive = join(scratch.dir, 'devs.tar');
  beforeAll(() => {
    execFileSync('tar', ['--format=pax', '--numeric-owner', '-cpf', archive, '-C', src, './devs/null', './devs/loop200', './small']);
  });

  it('refuses an archive with devices, naming one, and writes nothing', async () => {
    const dst = join(scratch.dir, 'untrusted');
    await expect(extractTarball(archive, dst)).rejects.toMatchObject({
      code: 'BAD_INPUT', message: 'the archive holds 2 device file(s) (first: devs/null); nothing was extracted',
      hint: 'devices in an archive are created only when you trust it: pass --trusted',
    });
    expect(existsSync(dst)).toBe(false);
  });

  it('domu-forge unpack exits 2 with the message, and creates them with --trusted', () => {
    const dst = join(scratch.dir, 'cli-devs');
    const r = runCli(['unpack', archive, dst]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('domu-forge: the archive holds 2 device file(s) (first: devs/null); nothing was extracted\nhint: devices in an archive are created only when you trust it: pass --trusted');
    expect(existsSync(dst)).toBe(false);
    const ok = runCli(['unpack', archive, dst, '--trusted', '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, devices: 2, files: 1, target: { kind: 'dir' } });
    expect(lstatSync(join(dst, 'devs/loop200')).rdev).toBe(lstatSync(join(src, 'devs/loop200')).rdev);
  });
});

describe('interrupted extraction (root)', () => {
  it('removes what it extracted and keeps what was in the target before', async () => {
    const archive = join(scratch.dir, 'int.tar');
    // sorted by name, the 1 GiB ./sparse comes after more than ten entries, and takes long enough to be interrupted in
    spawnSync('tar', ['--sort=name', '--numeric-owner', '-cf', archive, '-C', src, '.']);
    const dst = join(scratch.dir, 'interrupted');
    mkdirSync(join(dst, 'lost+found'), { recursive: true });
    const ac = new AbortController();
    const p = extractTarball(archive, dst, { trusted: true, signal: ac.signal, onProgress: (pr) => pr.phase === 'extract' && pr.entries > 10 && pr.bytes > 0 && ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(readdirSync(dst)).toEqual(['lost+found']);
  });
});

describe('a Debian tarball from mmdebstrap (root, network)', () => {
  const archive = join(scratch.dir, 'bookworm.tar');
  beforeAll(() => {
    execFileSync('mmdebstrap', ['--quiet', '--variant=extract', '--include=busybox', '--mode=root', 'bookworm', archive, 'http://deb.debian.org/debian'], { stdio: 'ignore' });
  }, 600_000);

  it('extracts to the same tree GNU tar makes of it, devices included', async () => {
    const byGnu = join(scratch.dir, 'mm-gnu');
    gnuTarExtract(archive, byGnu);
    const ours = join(scratch.dir, 'mm-ours');
    const s = await extractTarball(archive, ours, { trusted: true });
    expect(s.devices).toBeGreaterThan(0);
    expect(rsyncDiff(byGnu, ours)).toBe('');
    expect(nsTimes(ours)).toEqual(nsTimes(byGnu));
  });
});
