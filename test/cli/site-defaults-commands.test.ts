// clone, install and unpack are thin commands over build's runner, and take the site defaults
// (--defaults FILE, $DOMU_FORGE_DEFAULTS) under their flags, as build does. Root, loop devices.
import { createServer } from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, scratchDir, sh } from '../helpers/run.js';
import { commandSpec } from '../../src/cli/target-options.js';

const scratch = scratchDir('cli-site-defaults');
afterAll(() => scratch.cleanup());
const state = { DOMU_FORGE_STATE_DIR: join(scratch.dir, 'state'), DOMU_FORGE_DEFAULTS: '' };

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('site defaults for the commands over the runner', () => {
  it('commandSpec: the site fills what the flags leave unset, flags win, fields that do not apply are left out', () => {
    const site = join(scratch.dir, 'site.yaml');
    writeFileSync(site, 'target: { size: 3G, fs: xfs, swap: 512M, imageDir: /srv/xen }\nsource:\n  install: { distro: debian, dist: trixie, mirror: "http://mirror.example/debian", variant: minbase }\ndomain: { memory: 256M, kernel: dom0, initrd: dom0 }\n');
    const image = commandSpec(undefined, { image: join(scratch.dir, 'a.img'), defaults: site }, { install: 'debian' }).spec;
    expect(image.target).toMatchObject({ kind: 'image', size: 3 * 2 ** 30, fs: 'xfs', format: 'raw' });
    expect(image.target).not.toHaveProperty('swap');
    expect(image.source).toMatchObject({ kind: 'install', distro: 'debian', dist: 'trixie', mirror: 'http://mirror.example/debian', variant: 'minbase' });
    const flags = commandSpec(undefined, { image: join(scratch.dir, 'b.qcow2'), fs: 'ext4', defaults: site }, { install: 'debian', dist: 'bookworm' }).spec;
    expect(flags.target).toMatchObject({ fs: 'ext4', size: 3 * 2 ** 30, format: 'qcow2' });
    expect(flags.source).toMatchObject({ dist: 'bookworm', variant: 'minbase' });
    // a directory takes none of the site's target fields; a clone none of its install
    const dir = commandSpec(join(scratch.dir, 'd'), { defaults: site }, { clone: '/' }).spec;
    expect(dir.target).toEqual({ kind: 'dir', path: join(scratch.dir, 'd') });
    expect(dir.source.kind).toBe('clone');
    // --lvm VG with --name is NAME-disk, as in build
    expect(commandSpec(undefined, { lvm: 'vg0', name: 'web1', defaults: site }, { clone: '/' }).spec.target).toMatchObject({ vg: 'vg0', lv: 'web1-disk', size: 3 * 2 ** 30 });
  });

  it('clone --image takes the size and filesystem from the site defaults; a flag overrides them', () => {
    const src = join(scratch.dir, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc', 'hostname'), 'cli-site\n');
    const site = join(scratch.dir, 'clone-site.yaml');
    writeFileSync(site, 'target: { size: 300M, fs: xfs, label: sitelabel }\n');
    const image = join(scratch.dir, 'clone.img');
    const r = runCli(['clone', src, '--image', image, '--no-default-excludes', '--defaults', site, '--json'], state);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).targetInfo).toMatchObject({ kind: 'image', path: image, fs: 'xfs', size: 300 * 2 ** 20, label: 'sitelabel', sizeEstimated: false });
    expect(sh(`blkid -p -o value -s TYPE '${image}'`).trim()).toBe('xfs');
    // the environment names the file too; the flag wins over it
    const again = runCli(['clone', src, '--image', image, '--force', '--fs', 'ext4', '--no-default-excludes', '--json'], { ...state, DOMU_FORGE_DEFAULTS: site });
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout).targetInfo).toMatchObject({ fs: 'ext4', size: 300 * 2 ** 20 });
    sh(`rm -f '${image}'`);
  });

  it('install takes the suite and mirror from the site defaults', async () => {
    const port = await closedPort();
    const site = join(scratch.dir, 'install-site.yaml');
    writeFileSync(site, `source:\n  install: { distro: debian, dist: bookworm, mirror: "http://127.0.0.1:${port}/debian" }\n`);
    const dir = join(scratch.dir, 'inst');
    const r = runCli(['install', 'debian', '--cache-dir', join(scratch.dir, 'cache'), '--defaults', site, dir], state);
    expect(r.stderr).toContain(`domu-forge: mirror http://127.0.0.1:${port}/debian is unreachable: connection refused`);
    expect(r.status).toBe(3);
  });

  it('a missing --defaults file is bad input, naming it; nothing is made', () => {
    const image = join(scratch.dir, 'never.img');
    const r = runCli(['clone', scratch.dir, '--image', image, '--defaults', join(scratch.dir, 'nope.yaml')], state);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^domu-forge: cannot read the site defaults .*nope\.yaml/);
    expect(existsSync(image)).toBe(false);
  });

  it('conflicting target flags: exit 2 naming both, before anything is made', () => {
    const r = runCli(['unpack', join(scratch.dir, 'x.tar'), '--image', join(scratch.dir, 'u.img'), '--tar', join(scratch.dir, 'u.tar')], state);
    expect([r.status, r.stderr]).toEqual([2, 'domu-forge: give one target, not --image and --tar\n']);
    const b = runCli(['build', '--hostname', 'cf', '--clone', '/', '--install', 'debian', '--image', join(scratch.dir, 'cf.img')], state);
    expect([b.status, b.stderr]).toEqual([2, 'domu-forge: --clone conflicts with --install: give one source\n']);
    const x = runCli(['xen-config', '--hostname', 'cf', '--lvm', 'vg0', '--dir', '/srv/xen', '--dry-run', '--no-check'], state);
    expect([x.status, x.stderr]).toEqual([2, 'domu-forge: --lvm conflicts with --dir: give one place for the disks\n']);
  });
});
