// The build pipeline end to end on real images: clone a guest tree into an ext4 image file through
// a loop mount, verify it, fix it up, write the xl config, record it; --stop-after and --skip; a
// failing stage leaves no image, mount or loop device; list and delete through the CLI.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseBuildSpec } from '../../src/spec/index.js';
import { runBuild } from '../../src/pipeline/pipeline.js';
import { deleteGuest, listGuests } from '../../src/pipeline/inventory.js';
import { makeGuestTree } from './guest-tree.js';

const CLI = resolve(__dirname, '../../dist/cli/main.js');

describe('build pipeline (root, loop)', () => {
  let dir: string;
  let src: string;
  let kernel: string;
  const env = () => ({ ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'state') });
  const loopsUnder = () => execFileSync('losetup', ['-a']).toString().split('\n').filter((l) => l.includes(dir));
  const mountsUnder = () => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(dir));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'build-test-'));
    process.env.DOMU_FORGE_STATE_DIR = join(dir, 'state');
    // temporary mount points and work files land in this test's own folder, apart from other runs'
    process.env.TMPDIR = join(dir, 'tmp');
    execFileSync('mkdir', ['-p', join(dir, 'tmp')]);
    src = join(dir, 'guest');
    makeGuestTree(src);
    kernel = join(dir, 'vmlinuz-6.1.0-99-amd64');
    writeFileSync(kernel, 'not really a kernel');
  });
  afterAll(() => {
    for (const l of loopsUnder()) spawnSync('losetup', ['-d', l.split(':')[0]!]);
    rmSync(dir, { recursive: true, force: true });
    delete process.env.DOMU_FORGE_STATE_DIR;
    delete process.env.TMPDIR;
  });

  const specText = (name: string, extra = '') => `
name: ${name}
target:
  image: ${dir}/${name}.img
  size: 64M
  fs: ext4
source:
  clone:
    root: ${src}
    defaultExcludes: false
    exclude: [/tmp, /proc, /sys]
fixups:
  skip: [kernel-modules]
domain:
  memory: 256M
  kernel: ${kernel}
  config: ${dir}/${name}.cfg
  network:
    ip: 10.9.8.7
    netmask: 24
    gateway: 10.9.8.1
${extra}`;

  it('clones into an image, verifies, fixes up, writes the config and records the guest', async () => {
    const spec = parseBuildSpec(specText('lennox'), join(dir, 'lennox.yaml'));
    const r = await runBuild(spec);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    const status = Object.fromEntries(r.stages.map((s) => [s.id, s.status]));
    expect(status).toMatchObject({
      'target/open': 'done', 'source/clone': 'done', verify: 'done', 'fixup/fstab': 'done', 'fixup/identity': 'done',
      'target/close': 'done', 'xen/config': 'done', inventory: 'done',
      'source/install': 'not-applicable', 'boot-test': 'not-applicable',
    });
    expect(status['fixup/kernel-modules']).toBeUndefined(); // fixups.skip leaves it out of the plan
    expect(r.verify).toMatchObject({ identical: true, counts: {} });
    // the image is a clean filesystem holding the fixed-up guest
    execFileSync('e2fsck', ['-fn', join(dir, 'lennox.img')]);
    const mnt = join(dir, 'mnt');
    execFileSync('mkdir', ['-p', mnt]);
    execFileSync('mount', ['-o', 'ro,loop', join(dir, 'lennox.img'), mnt]);
    try {
      expect(readFileSync(join(mnt, 'etc/hostname'), 'utf8').trim()).toBe('lennox');
      expect(readFileSync(join(mnt, 'etc/fstab'), 'utf8')).toMatch(/^\/dev\/xvda1\s+\/\s+ext4/m);
      expect(readFileSync(join(mnt, 'usr/lib/payload.bin')).equals(readFileSync(join(src, 'usr/lib/payload.bin')))).toBe(true);
      expect(execFileSync('getfattr', ['--only-values', '-n', 'user.origin', join(mnt, 'usr/lib/payload.bin')]).toString()).toBe('fixture');
    } finally {
      execFileSync('umount', [mnt]);
    }
    const cfg = readFileSync(join(dir, 'lennox.cfg'), 'utf8');
    expect(cfg).toContain('name        = "lennox"');
    expect(cfg).toContain(`target=${dir}/lennox.img`);
    expect(cfg).toContain('ip=10.9.8.7');
    expect(listGuests().map((g) => [g.name, g.disk.path, g.config, g.ip])).toEqual([['lennox', join(dir, 'lennox.img'), join(dir, 'lennox.cfg'), '10.9.8.7']]);
    expect(loopsUnder()).toEqual([]);
    expect(mountsUnder()).toEqual([]);
  });

  it('--stop-after closes the target and stops; --skip skips a stage and its children', async () => {
    const spec = parseBuildSpec(specText('ross'), join(dir, 'ross.yaml'));
    const r = await runBuild(spec, { stopAfter: 'verify', skip: ['fixup'] });
    expect(r.ok).toBe(true);
    const status = Object.fromEntries(r.stages.map((s) => [s.id, s.status]));
    expect(status).toMatchObject({ verify: 'done', 'fixup/fstab': 'not-run', 'target/close': 'done', 'xen/config': 'not-run', inventory: 'done' });
    expect(existsSync(join(dir, 'ross.img'))).toBe(true);
    expect(existsSync(join(dir, 'ross.cfg'))).toBe(false);
    const skipped = await runBuild(parseBuildSpec(specText('angus'), join(dir, 'angus.yaml')), { skip: ['fixup', 'verify'] });
    expect(skipped.stages.filter((s) => s.status === 'skipped').map((s) => s.id)).toEqual(expect.arrayContaining(['verify', 'fixup/fstab', 'fixup/network']));
    await expect(runBuild(spec, { skip: ['target/close'] })).rejects.toThrow(/cannot be skipped/);
  });

  it('a failing stage removes the half-made image and releases every mount and loop device', async () => {
    const role = join(dir, 'fail-role.sh');
    writeFileSync(role, '#!/bin/sh\necho "role ran in $1" >&2\nexit 3\n', { mode: 0o755 });
    const spec = parseBuildSpec(specText('macbeth', `roles: [${role}]`), join(dir, 'macbeth.yaml'));
    const r = await runBuild(spec);
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/role .*fail-role.sh failed with status 3/);
    expect(r.stages.find((s) => s.id === 'role/fail-role')?.status).toBe('failed');
    expect(r.stages.find((s) => s.id === 'target/close')?.status).toBe('not-run');
    expect(existsSync(join(dir, 'macbeth.img'))).toBe(false);
    expect(execFileSync('ls', ['-a', dir]).toString()).not.toMatch(/macbeth\.img\./);
    expect(loopsUnder()).toEqual([]);
    expect(mountsUnder()).toEqual([]);
    expect(listGuests().map((g) => g.name)).not.toContain('macbeth');
  });

  it('a clone of a tree that holds the image leaves out the image, its half-made siblings and the config', async () => {
    const self = parseBuildSpec(specText('fleance').replace(`root: ${src}`, `root: ${dir}`).replace('exclude: [/tmp, /proc, /sys]', 'exclude: [/state, /guest, /mnt, /tmp]').replace('size: 64M', 'size: 128M'), join(dir, 'fleance.yaml'));
    const r = await runBuild(self, { skip: ['fixup'] });
    expect(r.error, JSON.stringify(r.verify?.differences)).toBeUndefined();
    expect(r.verify?.identical).toBe(true);
    const listing = execFileSync('debugfs', ['-R', 'ls -l /', join(dir, 'fleance.img')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(listing).toContain('vmlinuz-6.1.0-99-amd64');
    expect(listing).toContain('lennox.img'); // other files of the source are copied
    expect(listing).not.toMatch(/fleance\.img|fleance\.cfg/);
  });

  it('extracts a rootfs tarball (source: tarball) into the image', async () => {
    const tarball = join(dir, 'guest.tar.gz');
    execFileSync('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '-czf', tarball, '-C', src, '--exclude=./dev/null', '.']);
    const text = specText('malcolm').replace(/source:\n  clone:\n    root: .*\n    defaultExcludes: false\n    exclude: \[\/tmp, \/proc, \/sys\]\n/, `source:\n  tarball: ${tarball}\n`);
    const r = await runBuild(parseBuildSpec(text, join(dir, 'malcolm.yaml')));
    expect(r.error).toBeUndefined();
    expect(Object.fromEntries(r.stages.map((s) => [s.id, s.status]))).toMatchObject({ 'source/extract': 'done', 'source/clone': 'not-applicable', verify: 'not-applicable', 'fixup/identity': 'done' });
    const img = join(dir, 'malcolm.img');
    expect(execFileSync('debugfs', ['-R', 'cat /etc/hostname', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()).toBe('malcolm');
    expect(execFileSync('debugfs', ['-R', 'ea_get /usr/lib/payload.bin user.origin', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()).toContain('fixture');
  });

  it('makes the folder a spec puts its image in (a fresh checkout has no out/)', async () => {
    const text = specText('seyton').replace(`image: ${dir}/seyton.img`, `image: ${dir}/out-new/seyton.img`);
    const r = await runBuild(parseBuildSpec(text, join(dir, 'seyton.yaml')), { stopAfter: 'source/clone' });
    expect(r.error).toBeUndefined();
    expect(existsSync(join(dir, 'out-new', 'seyton.img'))).toBe(true);
    await deleteGuest('seyton');
    expect(existsSync(join(dir, 'out-new', 'seyton.img'))).toBe(false);
  });

  it('makes a swap disk beside the image, names it in the config, and delete removes both', async () => {
    const r = await runBuild(parseBuildSpec(specText('siward').replace('  size: 64M', '  size: 64M\n  swap: 16M'), join(dir, 'siward.yaml')));
    expect(r.error).toBeUndefined();
    const swap = join(dir, 'siward-swap.img');
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', swap]).toString().trim()).toBe('swap');
    expect(readFileSync(join(dir, 'siward.cfg'), 'utf8')).toContain(`vdev=xvda1, access=rw, target=${swap}`);
    const del = await deleteGuest('siward');
    expect(del.removed).toEqual([join(dir, 'siward.img'), swap, join(dir, 'siward.cfg')]);
    expect(existsSync(swap)).toBe(false);
  });

  it('SIGTERM mid-build stops cleanly: exit 130, no image, mount or loop device left', async () => {
    const mark = join(dir, 'role-started');
    const role = join(dir, 'slow-role.sh');
    writeFileSync(role, `#!/bin/sh\ntouch ${mark}\nexec sleep 60\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'seyton.yaml'), specText('seyton', `roles: [${role}]`));
    const child = spawn('node', [CLI, 'build', join(dir, 'seyton.yaml')], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    for (let i = 0; i < 600 && !existsSync(mark); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(mark), stderr).toBe(true);
    // the image is mounted and attached now
    expect(mountsUnder().length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(stdout).toMatch(/^seyton: FAILED \(interrupted during role\/slow-role; everything it set up was released\)/m);
    expect(existsSync(join(dir, 'seyton.img'))).toBe(false);
    expect(execFileSync('ls', ['-a', dir]).toString()).not.toMatch(/seyton\.img\./);
    expect(loopsUnder()).toEqual([]);
    expect(mountsUnder()).toEqual([]);
  });

  it('CLI: build with flags only, list, and delete (refused without a TTY or --yes)', () => {
    const run = (...args: string[]) => spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: env(), input: '' });
    const b = run('build', '--hostname', 'donalbain.example.org', '--clone', src, '--no-default-excludes', '--exclude', '/tmp', '--image', join(dir, 'donalbain.img'),
      '--size', '64M', '--fs', 'ext3', '--memory', '128M', '--dhcp', '--kernel', kernel, '--config', join(dir, 'donalbain.cfg'), '--skip', 'fixup/kernel-modules', '--json');
    expect(b.status, b.stderr).toBe(0);
    const result = JSON.parse(b.stdout);
    expect(result).toMatchObject({ ok: true, name: 'donalbain', config: join(dir, 'donalbain.cfg') });
    expect(result.stages.find((s: { id: string }) => s.id === 'fixup/kernel-modules').status).toBe('skipped');
    const list = JSON.parse(run('list', '--json').stdout);
    expect(list.guests.map((g: { name: string }) => g.name)).toEqual(expect.arrayContaining(['donalbain', 'lennox']));
    const human = run('list');
    expect(human.stdout).toMatch(/^donalbain\s+image .*donalbain\.img/m);
    const refused = run('delete', 'donalbain');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('add --yes');
    expect(existsSync(join(dir, 'donalbain.img'))).toBe(true);
    const del = run('delete', 'donalbain', '--yes');
    expect(del.status, del.stderr).toBe(0);
    expect(del.stdout).toContain(`deleted donalbain: ${join(dir, 'donalbain.img')}, ${join(dir, 'donalbain.cfg')}`);
    expect(existsSync(join(dir, 'donalbain.img'))).toBe(false);
    expect(existsSync(join(dir, 'donalbain.cfg'))).toBe(false);
    expect(JSON.parse(run('list', '--json').stdout).guests.map((g: { name: string }) => g.name)).not.toContain('donalbain');
    const unknown = run('delete', 'nobody', '--yes');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('no guest named nobody');
  });
});
