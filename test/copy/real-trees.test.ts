// Clones of real trees of this machine, checked with rsync: /etc (odd modes, /etc/shadow),
// /usr/share/zoneinfo (many symlinks), /usr/bin (hard links, setuid binaries, capabilities), into a
// freshly made ext4 image (root, loop).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rsyncDiff, runCli, scratchDir } from '../helpers/run.js';

const scratch = scratchDir('real');
const mnt = join(scratch.dir, 'mnt');
let loop = '';

beforeAll(() => {
  const img = join(scratch.dir, 'fs.img');
  execFileSync('truncate', ['-s', '3G', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', img]);
  loop = execFileSync('losetup', ['--find', '--show', img]).toString().trim();
  mkdirSync(mnt);
  execFileSync('mount', [loop, mnt]);
});
afterAll(() => {
  if (existsSync(mnt)) execFileSync('umount', [mnt], { stdio: 'ignore' });
  if (loop) execFileSync('losetup', ['-d', loop]);
  scratch.cleanup();
});

describe('clones of real trees are identical by rsync -aHAXc (root, loop)', () => {
  for (const tree of ['/etc', '/usr/share/zoneinfo', '/usr/bin', '/usr/lib/x86_64-linux-gnu/perl-base']) {
    it(tree, () => {
      if (!existsSync(tree)) return;
      const dst = join(mnt, tree.replace(/\//g, '_'));
      const r = runCli(['clone', tree, dst, '--no-default-excludes', '--json'], { DOMU_FORGE_STATE_DIR: join(scratch.dir, 'state') });
      expect(r.stderr).toBe('');
      expect([0, 24]).toContain(r.status);
      const sockets = JSON.parse(r.stdout).skipped.map((s: { path: string }) => s.path);
      const diff = rsyncDiff(tree, dst).split('\n').filter((l) => l && !sockets.some((s: string) => l.endsWith(` ${s}`)));
      expect(diff).toEqual([]);
    });
  }
  // the asynchronous fs calls (--io async:N, a benchmark option) copy exactly too
  it('/usr/bin with --io async:16', () => {
    const dst = join(mnt, 'bin-async');
    const r = runCli(['clone', '/usr/bin', dst, '--no-default-excludes', '--io', 'async:16', '--json'], { DOMU_FORGE_STATE_DIR: join(scratch.dir, 'state') });
    expect([0, 24]).toContain(r.status);
    expect(JSON.parse(r.stdout).copied.hardlink).toBeGreaterThan(0);
    expect(rsyncDiff('/usr/bin', dst)).toBe('');
  });
  // read-ahead helper threads (DOMU_FORGE_READAHEAD) only read the source: the copy stays exact
  it('/usr/share/doc with read-ahead helpers', () => {
    const dst = join(mnt, 'doc-readahead');
    const r = runCli(['clone', '/usr/share/doc', dst, '--no-default-excludes', '--json'], { DOMU_FORGE_STATE_DIR: join(scratch.dir, 'state'), DOMU_FORGE_READAHEAD: '2' });
    expect([0, 24]).toContain(r.status);
    expect(JSON.parse(r.stdout).copied.file).toBeGreaterThan(100);
    expect(rsyncDiff('/usr/share/doc', dst)).toBe('');
  });
});
