// verify on real trees: every kind of difference made with the real tools (chown, chmod, setfattr,
// setfacl, touch -d, mknod, ln) must be reported, identical trees must agree with rsync, and an image
// file is checked through a read-only loop mount that is always released.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyTree, type VerifyResult } from '../../src/verify/index.js';

const CLI = join(__dirname, '../../dist/cli/main.js');
const sh = (cmd: string, cwd?: string) => execFileSync('bash', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

function rsyncItemize(a: string, b: string): string {
  return execFileSync('rsync', ['-aHAXc', '--numeric-ids', '--dry-run', '--itemize-changes', `${a}/`, `${b}/`]).toString();
}

/** A source tree with one of each entry kind, awkward names, xattrs, an ACL and a hard-link group. */
function makeSource(root: string): void {
  mkdirSync(root);
  sh(`
    set -e
    mkdir -p etc sub/deep tmp empty
    echo hello > etc/f1
    printf 'same' > etc/f2
    ln etc/f2 etc/f2link
    head -c 3000000 /dev/urandom > big
    ln -s /etc/passwd abs-link
    ln -s ../etc/f1 sub/rel-link
    mknod cdev c 1 3
    mknod bdev b 7 200
    mkfifo fifo
    touch "$(printf 'bad\\xffname')" "$(printf 'new\\nline')" -- -dash
    setfattr -n user.note -v hi etc/f1
    setfacl -m u:1234:r etc/f2
    chmod 1777 tmp
    echo scratch > tmp/junk
    chmod 2755 sub
    chown 123:456 sub/deep
    touch -d '2020-02-02 02:02:02.123456789' etc/f1
  `, root);
}

const hasKind = (r: VerifyResult, kind: string, path: string) => r.differences.some((d) => d.kind === kind && d.path === path);

describe('verify (root)', () => {
  let dir: string;
  let src: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'verify-test-'));
    src = join(dir, 'src');
    makeSource(src);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a cp -a copy identical, as rsync does', async () => {
    const dst = join(dir, 'same');
    sh(`cp -a ${src} ${dst} && rm -rf ${dst}/tmp/* && touch -r ${src}/tmp ${dst}/tmp`);
    const r = await verifyTree({ source: src, target: dst, defaultExcludes: false, excludes: ['/tmp'] });
    expect(r.differences).toEqual([]);
    expect(r.identical).toBe(true);
    // rsync sees the excluded tmp/junk as missing only because it knows no excludes; nothing else.
    expect(rsyncItemize(src, dst).trim().split('\n')).toEqual(['>f+++++++++ tmp/junk']);
    expect(r.entries.source).toBe(r.entries.target);
  });

  it('reports each kind of difference made with the real tools', async () => {
    const dst = join(dir, 'changed');
    sh(`cp -a ${src} ${dst}`);
    sh(`
      set -e
      printf 'hellO\\n' > etc/f1 && touch -d '2020-02-02 02:02:02.123456789' etc/f1   # same size and time, other bytes
      truncate -s 10 etc/f2
      chmod 4755 sub/deep
      chmod 3777 tmp
      touch -d '2001-01-01' fifo
      ln -sf /etc/shadow abs-link
      touch -h -r ${src}/abs-link abs-link && chown -h 9:9 abs-link
      rm cdev && mknod cdev c 1 5 && touch -r ${src}/cdev cdev
      rm bdev && mkfifo bdev
      setfattr -n user.extra -v 1 etc/f1
      setfacl -m u:99:rw etc/f2
      rm etc/f2link && cp -a etc/f2 etc/f2link
      rm "$(printf 'bad\\xffname')" && echo new > extra-file
      touch -d '2030-03-03 03:03:03.5' -- -dash
    `, dst);
    const r = await verifyTree({ source: src, target: dst, defaultExcludes: false });
    const show = JSON.stringify(r.differences, null, 1);
    expect(hasKind(r, 'content', '/etc/f1'), show).toBe(true);
    expect(hasKind(r, 'size', '/etc/f2'), show).toBe(true);
    expect(hasKind(r, 'owner', '/abs-link'), show).toBe(true);
    expect(hasKind(r, 'mode', '/sub/deep'), show).toBe(true);
    expect(hasKind(r, 'mode', '/tmp'), show).toBe(true);
    expect(hasKind(r, 'mtime', '/fifo'), show).toBe(true);
    expect(hasKind(r, 'mtime', '/-dash'), show).toBe(true);
    expect(hasKind(r, 'symlink', '/abs-link'), show).toBe(true);
    expect(hasKind(r, 'device', '/cdev'), show).toBe(true);
    expect(hasKind(r, 'type', '/bdev'), show).toBe(true);
    expect(hasKind(r, 'xattr', '/etc/f1'), show).toBe(true);
    expect(hasKind(r, 'acl', '/etc/f2'), show).toBe(true);
    expect(hasKind(r, 'hardlink', '/etc/f2link'), show).toBe(true);
    expect(hasKind(r, 'missing', '/bad\\xffname'), show).toBe(true);
    expect(hasKind(r, 'extra', '/extra-file'), show).toBe(true);
    // The raw bytes of the non-UTF-8 name survive in rel.
    expect(r.differences.find((d) => d.kind === 'missing')!.rel).toBe(Buffer.from('bad\xffname', 'latin1').toString('latin1'));
    // Every path rsync itemizes is among verify's differences.
    const rsyncPaths = rsyncItemize(src, dst)
      .split('\n')
      .filter((l) => /^[.<>ch*]/.test(l) && !l.startsWith('.d..t') && l.length > 12)
      .map((l) => l.slice(12).replace(/ -> .*$/, '').replace(/ => .*$/, '').replace(/\/$/, ''));
    const verifyPaths = new Set(r.differences.map((d) => d.rel));
    for (const p of rsyncPaths) {
      if (p.includes('\\#')) continue; // rsync escapes odd bytes its own way
      expect(verifyPaths.has(p), `rsync itemized ${p}; verify: ${show}`).toBe(true);
    }
  });

  it('compares mtimes to the nanosecond, or within --modify-window', async () => {
    const a = join(dir, 'ns-a');
    const b = join(dir, 'ns-b');
    mkdirSync(a);
    writeFileSync(join(a, 'f'), 'x');
    sh(`touch -d '2021-05-05 05:05:05.000000100' ${a}/f && touch -d '2021-01-01' ${a} && cp -a ${a} ${b} && touch -d '2021-05-05 05:05:05.000000200' ${b}/f`);
    const exact = await verifyTree({ source: a, target: b, defaultExcludes: false });
    expect(exact.differences.map((d) => [d.kind, d.path])).toEqual([['mtime', '/f']]);
    expect(exact.mtimePrecisionNs).toBe(1);
    const windowed = await verifyTree({ source: a, target: b, defaultExcludes: false, modifyWindow: 0.000001 });
    expect(windowed.identical).toBe(true);
    // clone keeps microseconds: at 'us' the sub-microsecond digits do not count, a whole microsecond does.
    const micro = await verifyTree({ source: a, target: b, defaultExcludes: false, mtimePrecision: 'us' });
    expect(micro.identical).toBe(true);
    sh(`touch -d '2021-05-05 05:05:05.000002100' ${b}/f`);
    const micro2 = await verifyTree({ source: a, target: b, defaultExcludes: false, mtimePrecision: 'us' });
    expect(micro2.differences.map((d) => d.kind)).toEqual(['mtime']);
  });

  it('requires excluded roots to exist empty in the target, and skips their contents', async () => {
    const a = join(dir, 'ex-a');
    const b = join(dir, 'ex-b');
    sh(`mkdir -p ${a}/var/log ${a}/home/u && echo 1 > ${a}/var/log/syslog && echo k > ${a}/keep.log && echo 2 > ${a}/home/u/f`);
    sh(`mkdir ${b} && cp -a ${a}/var ${a}/home ${b}/ && rm -rf ${b}/var/* ${b}/home/u && touch -r ${a}/var ${b}/var && touch -r ${a}/home ${b}/home && touch -r ${a} ${b}`);
    // keep.log is excluded by a glob and not copied: that is not a difference.
    const r = await verifyTree({ source: a, target: b, excludes: ['*.log'] });
    expect(r.differences).toEqual([]);
    writeFileSync(join(b, 'var', 'stray'), 'x');
    sh(`touch -r ${a}/var ${b}/var`);
    const r2 = await verifyTree({ source: a, target: b, excludes: ['*.log'] });
    expect(r2.differences.map((d) => [d.kind, d.path])).toEqual([['not-empty', '/var']]);
  });

  it('refuses a missing source and a target inside the source that is not excluded', async () => {
    await expect(verifyTree({ source: join(dir, 'nope'), target: src })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(verifyTree({ source: src, target: join(src, 'sub'), defaultExcludes: false })).rejects.toThrow(/lies inside the source/);
  });

  it('CLI: exit 0 when identical, 5 with grouped differences, --json', () => {
    const a = join(dir, 'cli-a');
    const b = join(dir, 'cli-b');
    sh(`mkdir ${a} && echo 1 > ${a}/one && echo 2 > ${a}/two && cp -a ${a} ${b}`);
    const same = spawnSync('node', [CLI, 'verify', a, b], { encoding: 'utf8' });
    expect(same.status).toBe(0);
    expect(same.stdout).toMatch(/^identical: 3 source entries/m);
    sh(`chmod 600 ${b}/one && chown 1:1 ${b}/two`);
    const diff = spawnSync('node', [CLI, 'verify', a, b], { encoding: 'utf8' });
    expect(diff.status).toBe(5);
    expect(diff.stdout).toContain('owner (1):\n  /two  0:0 -> 1:1');
    expect(diff.stdout).toContain('mode (1):\n  /one  0644 -> 0600');
    const json = spawnSync('node', [CLI, 'verify', a, b, '--json'], { encoding: 'utf8' });
    expect(json.status).toBe(5);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.ok).toBe(false);
    expect(parsed.counts).toEqual({ owner: 1, mode: 1 });
    const bad = spawnSync('node', [CLI, 'verify', a, b, '--modify-window', 'soon'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--modify-window');
  });
});

describe('verify against an image file (root, loop)', () => {
  let dir: string;
  let src: string;
  let img: string;

  const loopsOf = (file: string) => execFileSync('losetup', ['-j', file]).toString().trim();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'verify-img-'));
    src = join(dir, 'src');
    makeSource(src);
    img = join(dir, 'disk.img');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    sh(`truncate -s 64M ${img} && mkfs.ext4 -q -F ${img} && mount -o loop ${img} ${mnt} && cp -a ${src}/. ${mnt}/ && rm -rf ${mnt}/tmp/* && touch -r ${src}/tmp ${mnt}/tmp && touch -r ${src} ${mnt}; umount ${mnt}`);
  });
  afterAll(() => {
    spawnSync('umount', [join(dir, 'mnt')]);
    for (const line of loopsOf(img).split('\n')) if (line) spawnSync('losetup', ['-d', line.split(':')[0]!]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('mounts the image read-only, finds it identical, and releases the loop device', async () => {
    const before = readFileSync(img);
    const r = await verifyTree({ source: src, target: img, defaultExcludes: false, excludes: ['/tmp'] });
    expect(r.targetKind).toBe('image file');
    expect(r.differences).toEqual([]);
    expect(loopsOf(img)).toBe('');
    expect(readFileSync(img).equals(before)).toBe(true); // nothing written, not even a journal replay
  });

  it('checks a block device (as an LVM volume is one) through a read-only mount', async () => {
    // this host's kernel has no device-mapper for a real LVM volume; a loop device is the same kind of target
    const dev = execFileSync('losetup', ['--find', '--show', '--read-only', img]).toString().trim();
    try {
      const r = await verifyTree({ source: src, target: dev, defaultExcludes: false, excludes: ['/tmp'] });
      expect(r.targetKind).toBe('block device');
      expect(r.differences).toEqual([]);
      expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(dev);
    } finally {
      execFileSync('losetup', ['-d', dev]);
    }
  });

  it('reads a qcow2 image through a temporary raw copy, removed afterwards', async () => {
    const qcow2 = join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['convert', '-O', 'qcow2', img, qcow2]);
    const r = await verifyTree({ source: src, target: qcow2, defaultExcludes: false, excludes: ['/tmp'] });
    expect(r.differences).toEqual([]);
    expect(loopsOf(qcow2)).toBe('');
    expect(execFileSync('bash', ['-c', 'ls -d ${TMPDIR:-/tmp}/domu-forge-verify-* 2>/dev/null || true']).toString().trim()).toBe('');
  });

  it('reports a change made inside the image, and releases everything after a difference', async () => {
    const mnt = join(dir, 'mnt');
    sh(`mount -o loop ${img} ${mnt} && setfattr -n user.x -v 1 ${mnt}/big; umount ${mnt}`);
    const r = await verifyTree({ source: src, target: img, defaultExcludes: false, excludes: ['/tmp'] });
    expect(r.differences.map((d) => [d.kind, d.path])).toEqual([['xattr', '/big']]);
    expect(loopsOf(img)).toBe('');
    const cli = spawnSync('node', [CLI, 'verify', src, img, '--no-default-excludes', '--exclude', '/tmp'], { encoding: 'utf8' });
    expect(cli.status).toBe(5);
    expect(cli.stdout).toContain('xattr (1):');
    expect(loopsOf(img)).toBe('');
  });
});
