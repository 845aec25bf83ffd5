// The clone engine on a real fixture tree holding every entry kind and attribute (root).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cloneTree } from '../../src/copy/clone.js';
import { DEFAULT_EXCLUDED_CONTENTS, repoRoot, rsyncDiff, runCli, scratchDir, sh } from '../helpers/run.js';

const scratch = scratchDir('clone');
const src = join(scratch.dir, 'src');
const stateEnv = { DOMU_FORGE_STATE_DIR: join(scratch.dir, 'state') };

beforeAll(() => {
  execFileSync('bash', [join(repoRoot, 'scripts', 'make-fixture-tree.sh'), src]);
});
afterAll(() => scratch.cleanup());

describe('clone of the fixture tree (root)', () => {
  const dst = join(scratch.dir, 'dst');
  let json: Record<string, any>;

  beforeAll(() => {
    // a tiny batch size spreads hard-link groups over many batches and workers
    const r = runCli(['clone', src, dst, '--batch-size', '2', '--workers', '3', '--json'], stateEnv);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    json = JSON.parse(r.stdout);
  });

  it('is identical by rsync -aHAXc, except the socket it skips', () => {
    const diff = rsyncDiff(src, dst, DEFAULT_EXCLUDED_CONTENTS);
    expect(diff.trim().split('\n')).toEqual(['cS+++++++++ devs/socket']);
  });

  it('keeps device numbers, fifos and hard links between device nodes', () => {
    for (const name of ['null', 'loop200', 'big']) {
      const a = lstatSync(join(src, 'devs', name));
      const b = lstatSync(join(dst, 'devs', name));
      expect([b.rdev, b.mode, b.isBlockDevice(), b.isCharacterDevice()]).toEqual([a.rdev, a.mode, a.isBlockDevice(), a.isCharacterDevice()]);
    }
    expect(lstatSync(join(dst, 'devs/fifo')).isFIFO()).toBe(true);
    expect(lstatSync(join(dst, 'devs/null-link')).ino).toBe(lstatSync(join(dst, 'devs/null')).ino);
  });

  it('keeps hard-link groups, and copies a name whose twin is excluded', () => {
    const one = lstatSync(join(dst, 'links/a/one'));
    expect(lstatSync(join(dst, 'links/a/two')).ino).toBe(one.ino);
    expect(lstatSync(join(dst, 'links/b/three')).ino).toBe(one.ino);
    expect(one.nlink).toBe(3);
    const lonely = lstatSync(join(dst, 'links/b/lonely'));
    expect(lonely.nlink).toBe(1);
    expect(existsSync(join(dst, 'var/lib/excluded-twin'))).toBe(false);
  });

  it('recreates the excluded roots empty with their own mode, owner and times', () => {
    for (const d of ['home', 'mnt', 'tmp', 'proc', 'sys', 'var']) {
      const a = statSync(join(src, d), { bigint: true });
      const b = statSync(join(dst, d), { bigint: true });
      expect(readdirSync(join(dst, d))).toEqual([]);
      expect([b.mode, b.uid, b.gid, b.mtimeNs / 1000n]).toEqual([a.mode, a.uid, a.gid, a.mtimeNs / 1000n]);
    }
    expect(statSync(join(dst, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(json.prunedDirs.map((p: { path: string }) => p.path).sort()).toEqual(['/home', '/mnt', '/proc', '/sys', '/tmp', '/var']);
  });

  it('keeps holes in sparse files', () => {
    expect(statSync(join(dst, 'sparse')).blocks * 512).toBeLessThan(1 << 20);
    expect(statSync(join(dst, 'all-hole')).blocks).toBe(0);
  });

  it('keeps file capabilities, which chown would clear', () => {
    expect(sh(`getcap ${join(dst, 'capable')}`)).toContain('cap_net_raw=ep');
  });

  it('keeps mtimes to the nanosecond, on files, symlinks and directories', () => {
    for (const name of ['owned', 'small', 'empty', 'suid', 'abs-link', 'links', 'ro/inner', '', 'devs/fifo', 'large']) {
      const a = lstatSync(join(src, name), { bigint: true });
      const b = lstatSync(join(dst, name), { bigint: true });
      expect(`${name}: ${b.mtimeNs}`).toBe(`${name}: ${a.mtimeNs}`);
    }
    expect(lstatSync(join(dst, 'owned'), { bigint: true }).mtimeNs).toBe(1600000000987654321n);
    expect(json.exactTimes).toBeGreaterThan(0);
  });

  it('reports counts per kind and the skipped socket in --json', () => {
    expect(json.copied).toMatchObject({ symlink: 5, chardev: 2, blockdev: 1, fifo: 1 });
    expect(json.copied.hardlink).toBe(3);
    expect(json.skipped).toEqual([expect.objectContaining({ path: 'devs/socket', code: 'SOCKET' })]);
    expect(json.errors).toEqual([]);
    expect(json.changed).toEqual([]);
  });

  it('copies nothing on a rerun, and says so', () => {
    const r = runCli(['clone', src, dst], stateEnv);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('nothing to copy: the target was already identical');
    const j = JSON.parse(runCli(['clone', src, dst, '--json'], stateEnv).stdout);
    expect(Object.values(j.copied).every((n) => n === 0)).toBe(true);
    expect(j.unchanged).toBeGreaterThan(50);
    expect(rsyncDiff(src, dst, DEFAULT_EXCLUDED_CONTENTS).trim()).toBe('cS+++++++++ devs/socket');
  });
});

describe('output (root)', () => {
  it('draws a progress line on a terminal, and none when stderr is not one', () => {
    const dst = join(scratch.dir, 'tty-dst');
    const tty = execFileSync('script', ['-qec', `${process.execPath} ${join(repoRoot, 'dist/cli/main.js')} clone ${src} ${dst}`, '/dev/null'], {
      env: { ...process.env, ...stateEnv },
    }).toString('latin1');
    expect(tty).toMatch(/\r\x1b\[2Kclone: copy \d+\/\d+\+? entries [\d.]+ (B|KiB|MiB|GiB)/);
    expect(tty).toContain('cloned ');
    const piped = runCli(['clone', src, join(scratch.dir, 'pipe-dst')], stateEnv);
    expect(piped.stderr).toBe('');
  });
});

describe('clone options (root)', () => {
  it('--exclude anchors like rsync, and --no-default-excludes copies /tmp', () => {
    const dst = join(scratch.dir, 'opt-dst');
    const r = runCli(['clone', src, dst, '--no-default-excludes', '--exclude', '/links/b', '--exclude', '*.nothing', '--exclude', 'inner/'], stateEnv);
    expect(r.status).toBe(0);
    expect(readdirSync(join(dst, 'tmp'))).toEqual(['junk']);
    expect(readdirSync(join(dst, 'links/b'))).toEqual([]);
    expect(readdirSync(join(dst, 'ro/inner'))).toEqual([]);
    expect(existsSync(join(dst, 'links/a/one'))).toBe(true);
  });

  it('-x keeps a mount point empty and does not enter it', () => {
    const root = join(scratch.dir, 'xsrc');
    mkdirSync(join(root, 'mp'), { recursive: true });
    writeFileSync(join(root, 'top'), 'top');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(root, 'mp')]);
    try {
      writeFileSync(join(root, 'mp', 'inside'), 'x');
      const dst = join(scratch.dir, 'xdst');
      const r = runCli(['clone', root, dst, '-x', '--json'], stateEnv);
      expect(r.status).toBe(0);
      expect(readdirSync(join(dst, 'mp'))).toEqual([]);
      expect(JSON.parse(r.stdout).prunedDirs).toEqual([{ path: '/mp', reason: 'other-filesystem' }]);
    } finally {
      execFileSync('umount', [join(root, 'mp')]);
    }
  });
});

describe('bad input gets one line, exit 2 and nothing written (root)', () => {
  it('a missing source', () => {
    const dst = join(scratch.dir, 'never');
    const r = runCli(['clone', join(scratch.dir, 'no-such'), dst], stateEnv);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: source ${join(scratch.dir, 'no-such')} does not exist\n`);
    expect(existsSync(dst)).toBe(false);
  });

  it('a target that is the source', () => {
    const r = runCli(['clone', src, src], stateEnv);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`domu-forge: target ${src} is the source`);
  });

  it('a target inside the source, unless excluded', () => {
    const inside = join(src, 'links', 'copy');
    const r = runCli(['clone', src, inside], stateEnv);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`target ${inside} lies inside the source ${src}`);
    expect(r.stderr).toContain('hint: exclude it');
    expect(existsSync(inside)).toBe(false);
    const inTmp = join(src, 'tmp', 'copy');
    const ok = runCli(['clone', src, inTmp, '--exclude', '/deep'], stateEnv);
    expect(ok.status).toBe(0);
    rmSync(inTmp, { recursive: true });
  });

  it('a target that is not empty, unless --force; lost+found alone counts as empty', () => {
    const dst = join(scratch.dir, 'busy');
    mkdirSync(dst);
    writeFileSync(join(dst, 'keep-me'), 'precious');
    const r = runCli(['clone', src, dst], stateEnv);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`domu-forge: target ${dst} is not empty`);
    expect(readdirSync(dst)).toEqual(['keep-me']);
    expect(runCli(['clone', src, dst, '--force'], stateEnv).status).toBe(0);
    expect(existsSync(join(dst, 'keep-me'))).toBe(true);
    const fresh = join(scratch.dir, 'fresh-fs');
    mkdirSync(join(fresh, 'lost+found'), { recursive: true });
    expect(runCli(['clone', src, fresh], stateEnv).status).toBe(0);
  });

  it('bad option values', () => {
    const r = runCli(['clone', src, join(scratch.dir, 'w0'), '--workers', '0'], stateEnv);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--workers must be a positive integer, not "0"');
  });
});

describe('a source that changes during the run (root)', () => {
  it('reports files that grow or shrink as they are read, and exits 24', () => {
    const root = join(scratch.dir, 'live');
    mkdirSync(root);
    writeFileSync(join(root, 'grows'), '');
    writeFileSync(join(root, 'shrinks'), '');
    // procfs and sysfs files report one size and read another: a file changing under the copy
    execFileSync('mount', ['--bind', '/proc/cpuinfo', join(root, 'grows')]);
    execFileSync('mount', ['--bind', '/sys/kernel/mm/transparent_hugepage/enabled', join(root, 'shrinks')]);
    try {
      const r = runCli(['clone', root, join(scratch.dir, 'live-dst'), '--json'], stateEnv);
      expect(r.status).toBe(24);
      const j = JSON.parse(r.stdout);
      expect(j.changed).toEqual(expect.arrayContaining([
        expect.objectContaining({ path: 'grows', code: 'GREW' }),
        expect.objectContaining({ path: 'shrinks', code: 'SHRANK' }),
      ]));
      const human = runCli(['clone', root, join(scratch.dir, 'live-dst2')], stateEnv);
      expect(human.status).toBe(24);
      expect(human.stdout).toContain('changed during the run: grows: grew while being copied');
    } finally {
      execFileSync('umount', [join(root, 'grows')]);
      execFileSync('umount', [join(root, 'shrinks')]);
    }
  });

  it('reports files that vanish after the walk saw them, and goes on', async () => {
    const root = join(scratch.dir, 'vanish');
    mkdirSync(root);
    // more files than a scan copies itself, so the scan hands them back to be copied in batches
    for (let i = 0; i < 200; i++) writeFileSync(join(root, `f${i}`), `${i}`);
    let removed: string[] = [];
    const summary = await cloneTree({
      source: root, target: join(scratch.dir, 'vanish-dst'), workers: 1, batchSize: 1,
      onProgress: () => {
        // the scan has listed the directory and handed its files back: delete them all
        if (removed.length === 0) {
          removed = readdirSync(root);
          for (const n of removed) unlinkSync(join(root, n));
        }
      },
    });
    expect(summary.changed.length).toBe(200);
    expect(summary.changed.every((c) => c.code === 'VANISHED')).toBe(true);
    expect(summary.errors).toEqual([]);
  });
});

describe('interrupted runs (root)', () => {
  it('stops cleanly on SIGINT with exit 130, and the same command finishes the copy', async () => {
    const root = join(scratch.dir, 'many');
    for (let d = 0; d < 40; d++) {
      mkdirSync(join(root, `d${d}`), { recursive: true });
      for (let f = 0; f < 250; f++) writeFileSync(join(root, `d${d}`, `f${f}`), 'x'.repeat(f * 10));
    }
    const dst = join(scratch.dir, 'many-dst');
    const child = spawn(process.execPath, [join(repoRoot, 'dist/cli/main.js'), 'clone', root, dst, '--workers', '1', '--batch-size', '8'], {
      env: { ...process.env, ...stateEnv }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    // interrupt once the copy is under way
    while (!existsSync(join(dst, 'd1'))) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const status = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 128)));
    expect(status).toBe(130);
    expect(stderr).toContain('run the same command again to finish the copy');
    expect(rsyncDiff(root, dst)).not.toBe('');
    const again = runCli(['clone', root, dst, '--workers', '1', '--batch-size', '8', '--json'], stateEnv);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout).unchanged).toBeGreaterThan(0);
    expect(rsyncDiff(root, dst)).toBe('');
  });
});
