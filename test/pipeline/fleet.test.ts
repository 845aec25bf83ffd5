// Fleets on real images: a base cloned once and cached, five guests as sparse copies with their own
// identity and addresses from a pool; a rerun rebuilds nothing; a changed guest input rebuilds that
// guest only; a changed source rebuilds the base; one failing guest does not stop the others.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildFleet, parseFleet } from '../../src/pipeline/fleet.js';
import { listGuests } from '../../src/pipeline/inventory.js';
import { SpecError } from '../../src/spec/index.js';
import { makeGuestTree } from './guest-tree.js';

const CLI = resolve(__dirname, '../../dist/cli/main.js');

describe('fleet builds (root, loop)', () => {
  let dir: string;
  let src: string;
  let fleetFile: string;
  const loopsUnder = () => execFileSync('losetup', ['-a']).toString().split('\n').filter((l) => l.includes(dir));
  /** A guest disk as a raw image (qcow2 overlays are converted, their backing base included). */
  const rawOf = (name: string) => {
    const qcow2 = join(dir, 'images', `${name}.qcow2`);
    if (!existsSync(qcow2)) return join(dir, 'images', `${name}.img`);
    const raw = join(dir, `${name}.raw`);
    execFileSync('qemu-img', ['convert', '-O', 'raw', qcow2, raw]);
    return raw;
  };
  const catIn = (image: string, path: string) => execFileSync('debugfs', ['-R', `cat ${path}`, image], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();

  const fleetText = (guests: string, extra = '') => `
fleet: thanes
directory: images
configDir: configs
pool: 10.20.0.10-10.20.0.12
concurrency: 3
base:
  target:
    size: 48M
    fs: ext4
  source:
    clone:
      root: ${src}
      defaultExcludes: false
      exclude: [/tmp, /proc, /sys]
  fixups:
    skip: [kernel-modules]
  domain:
    memory: 128M
    pygrub: true
    network:
      netmask: 24
      gateway: 10.20.0.1
${extra}
guests:
${guests}`;

  const FIVE = `
  - { name: cawdor, ip: auto }
  - { name: glamis, ip: auto, size: 64M }
  - { name: fife, ip: 10.20.0.50, mac: "00:16:3e:00:00:05" }
  - { name: lochaber, ip: auto, memory: 256M }
  - { name: menteith, hostname: menteith.scotland.example }`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-test-'));
    process.env.DOMU_FORGE_STATE_DIR = join(dir, 'state');
    // temporary mount points and work files land in this test's own folder, apart from other runs'
    process.env.TMPDIR = dir;
    src = join(dir, 'guest');
    makeGuestTree(src, 2);
    // PyGRUB needs a kernel in the guest's /boot for its menu.lst
    execFileSync('bash', ['-c', `cd ${src}/boot && echo k > vmlinuz-6.1.0-18-amd64 && echo i > initrd.img-6.1.0-18-amd64`]);
    fleetFile = join(dir, 'thanes.yaml');
  });
  afterAll(() => {
    for (const l of loopsUnder()) spawnSync('losetup', ['-d', l.split(':')[0]!]);
    rmSync(dir, { recursive: true, force: true });
    delete process.env.DOMU_FORGE_STATE_DIR;
    delete process.env.TMPDIR;
  });

  it('builds the base once and five guests from it, with leased addresses', async () => {
    writeFileSync(fleetFile, fleetText(FIVE));
    const r = await buildFleet({ file: fleetFile });
    expect(r.base.status).toBe('built');
    const byName = Object.fromEntries(r.guests.map((g) => [g.name, g]));
    for (const g of r.guests) expect(g.status, `${g.name}: ${g.error}`).toBe('built');
    // pool addresses in order, the static one kept, no address for the DHCP guest
    expect(byName.cawdor!.ip).toBe('10.20.0.10');
    expect(byName.glamis!.ip).toBe('10.20.0.11');
    expect(byName.lochaber!.ip).toBe('10.20.0.12');
    expect(byName.fife!.ip).toBe('10.20.0.50');
    expect(byName.menteith!.ip).toBeUndefined();
    for (const name of ['cawdor', 'glamis', 'fife', 'lochaber', 'menteith']) {
      // the default method: a qcow2 overlay on the cached base, which qemu-img finds consistent
      const disk = join(dir, 'images', `${name}.qcow2`);
      execFileSync('qemu-img', ['check', '-q', disk]);
      expect(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', disk]).toString())['backing-filename']).toBe(r.base.image);
      const raw = rawOf(name);
      execFileSync('e2fsck', ['-fn', raw]);
      const cfg = readFileSync(join(dir, 'configs', `${name}.cfg`), 'utf8');
      expect(cfg).toContain(`name        = "${name}"`);
      expect(cfg).toContain(`format=qcow2, vdev=xvda1, access=rw, target=${disk}`);
      // the guest's own hostname went into its image; the base's payload is there, unchanged
      expect(catIn(raw, '/etc/hostname').trim()).toBe(name === 'menteith' ? 'menteith.scotland.example' : name);
      expect(Buffer.from(execFileSync('debugfs', ['-R', 'cat /usr/lib/payload.bin', raw], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 })).equals(readFileSync(join(src, 'usr/lib/payload.bin')))).toBe(true);
    }
    expect(readFileSync(join(dir, 'configs', 'fife.cfg'), 'utf8')).toContain('mac=00:16:3e:00:00:05');
    expect(readFileSync(join(dir, 'configs', 'lochaber.cfg'), 'utf8')).toMatch(/memory\s+= 256/);
    expect(readFileSync(join(dir, 'configs', 'cawdor.cfg'), 'utf8')).toContain('bootloader  = "pygrub"');
    // glamis asked for a bigger disk: the copy was grown, and its filesystem with it
    const blocks = execFileSync('dumpe2fs', ['-h', rawOf('glamis')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(Number(/Block count:\s+(\d+)/.exec(blocks)![1]) * Number(/Block size:\s+(\d+)/.exec(blocks)![1])).toBe(64 * 2 ** 20);
    expect(listGuests().filter((g) => g.fleet === fleetFile).length).toBe(5);
    expect(loopsUnder()).toEqual([]);
  });

  it('a rerun rebuilds nothing', async () => {
    const r = await buildFleet({ file: fleetFile });
    expect(r.base.status).toBe('cached');
    expect(r.guests.map((g) => g.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(r.guests.find((g) => g.name === 'cawdor')!.ip).toBe('10.20.0.10'); // the lease is kept
  });

  it('build --dry-run of the fleet says what a build would do, and touches nothing', () => {
    // one guest's input changed in the file: the plan says only that one would be built
    writeFileSync(fleetFile, fleetText(FIVE.replace('{ name: lochaber, ip: auto, memory: 256M }', '{ name: lochaber, ip: auto, memory: 320M }')));
    const state = () => execFileSync('bash', ['-c', `cd ${dir} && find state images configs -printf '%p %s %T@\\n' | sort`]).toString();
    const before = state();
    const r = spawnSync(process.execPath, [CLI, 'build', fleetFile, '--dry-run', '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { dryRun: boolean; base: { status: string; image: string; stages: Array<{ id: string; skip?: string }> }; guests: Array<{ name: string; status: string; address: string; image: string; config: string; stages: Array<{ id: string; skip?: string }> }> };
    expect(plan.dryRun).toBe(true);
    expect(plan.base.status).toBe('cached');
    expect(existsSync(plan.base.image)).toBe(true);
    expect(plan.base.stages.find((s) => s.id === 'xen/config')?.skip).toBe('per guest, not in the base');
    expect(plan.base.stages.filter((s) => s.id.startsWith('fixup/') && !s.skip)).toEqual([]);
    expect(plan.guests.map((g) => [g.name, g.status, g.address])).toEqual([
      ['cawdor', 'unchanged', '10.20.0.10'], ['glamis', 'unchanged', '10.20.0.11'], ['fife', 'unchanged', '10.20.0.50'],
      ['lochaber', 'to build', '10.20.0.12'], ['menteith', 'unchanged', 'dhcp'],
    ]);
    const lochaber = plan.guests.find((g) => g.name === 'lochaber')!;
    expect(lochaber.image).toBe(join(dir, 'images', 'lochaber.qcow2'));
    expect(lochaber.config).toBe(join(dir, 'configs', 'lochaber.cfg'));
    expect(lochaber.stages.some((s) => s.id.startsWith('fixup/') && !s.skip)).toBe(true);
    expect(lochaber.stages.filter((s) => !s.skip).map((s) => s.id)).toEqual(expect.arrayContaining(['target/open', 'xen/config', 'inventory']));
    // the text form: the table and the count
    const t = spawnSync(process.execPath, [CLI, 'build', fleetFile, '--dry-run'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^base \S+ \(key [0-9a-f]{12}\): cached, reused$/m);
    expect(t.stdout).toMatch(/^lochaber\s+to build\s+10\.20\.0\.12\s/m);
    expect(t.stdout).toContain('dry run: 1 of 5 guests would be built; nothing was touched');
    expect(state()).toBe(before);
    writeFileSync(fleetFile, fleetText(FIVE));
  });

  it('a changed guest input rebuilds that guest only', async () => {
    writeFileSync(fleetFile, fleetText(FIVE.replace('{ name: lochaber, ip: auto, memory: 256M }', '{ name: lochaber, ip: auto, memory: 384M }')));
    const r = await buildFleet({ file: fleetFile });
    expect(r.base.status).toBe('cached');
    expect(Object.fromEntries(r.guests.map((g) => [g.name, g.status]))).toEqual({ cawdor: 'unchanged', glamis: 'unchanged', fife: 'unchanged', lochaber: 'built', menteith: 'unchanged' });
    expect(readFileSync(join(dir, 'configs', 'lochaber.cfg'), 'utf8')).toMatch(/memory\s+= 384/);
  });

  it('a changed source file changes the base key: the base and every guest are rebuilt', async () => {
    const before = parseFleet(readFileSync(fleetFile, 'utf8'), fleetFile);
    writeFileSync(join(src, 'etc', 'motd'), 'a new file in the source\n');
    const r = await buildFleet({ file: fleetFile });
    expect(r.base.status).toBe('built');
    expect(r.guests.every((g) => g.status === 'built')).toBe(true);
    expect(before.base.source.kind).toBe('clone');
    expect(catIn(rawOf('fife'), '/etc/motd')).toBe('a new file in the source\n');
    // the old base was dropped from the cache once no overlay stood on it
    expect(execFileSync('ls', [join(dir, 'state', 'fleet-bases')]).toString().split('\n').filter((f) => f.endsWith('.img')).length).toBe(1);
  });

  it('one failing guest does not stop the others; the CLI prints the summary table', () => {
    writeFileSync(fleetFile, fleetText(`${FIVE}\n  - { name: banquo, size: 16M }\n  - { name: fleance, ip: auto }`));
    const r = spawnSync('node', [CLI, 'build', fleetFile], { encoding: 'utf8', env: { ...process.env } });
    expect(r.status).toBe(4); // FLEET_FAILED (issue 12: was 1, the internal-error status)
    expect(r.stdout).toMatch(/^banquo\s+failed\s+.*smaller than the base image/m);
    // the pool (3 addresses) is exhausted by cawdor, glamis and lochaber: fleance cannot get one
    expect(r.stdout + r.stderr).toMatch(/address pool 10\.20\.0\.10-10\.20\.0\.12 is exhausted/);
  });

  it('method: copy makes standalone raw images, sparse', async () => {
    const copyFile = join(dir, 'copies.yaml');
    writeFileSync(copyFile, fleetText(`  - { name: ross }\n  - { name: angus, size: 64M }\n  - { name: cawdor }`).replace('fleet: thanes', 'fleet: copies').replace('concurrency: 3', 'concurrency: 2\nmethod: copy'));
    const r = await buildFleet({ file: copyFile });
    expect(r.guests.map((g) => g.status)).toEqual(['built', 'built', 'failed']);
    // a name another fleet already uses is refused, and that guest is left alone
    expect(r.guests[2]!.error).toMatch(/a guest named cawdor already exists \(built from .*thanes\.yaml\)/);
    expect(existsSync(join(dir, 'images', 'cawdor.qcow2'))).toBe(true);
    for (const name of ['ross', 'angus']) {
      const img = join(dir, 'images', `${name}.img`);
      execFileSync('e2fsck', ['-fn', img]);
      expect(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', img]).toString()).format).toBe('raw');
      expect(catIn(img, '/etc/hostname').trim()).toBe(name);
      // sparse: far fewer blocks on disk than the image's size
      const [blocks, size] = execFileSync('stat', ['-c', '%b %s', img]).toString().trim().split(' ').map(Number);
      expect(blocks! * 512).toBeLessThan(size! / 2);
    }
    expect(loopsUnder()).toEqual([]);
  });

  it('rejects a bad fleet file with every error located', () => {
    writeFileSync(fleetFile, fleetText(`  - { name: a, ip: auto }\n  - { name: a, mac: nope }\n  - { name: b, ip: 10.0.0.300 }`).replace('pool: 10.20.0.10-10.20.0.12', 'pool: 10.20.0.12-10.20.0.10'));
    try {
      parseFleet(readFileSync(fleetFile, 'utf8'), fleetFile);
      throw new Error('expected errors');
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      const got = (e as SpecError).issues.map((i) => `${i.line}:${i.field}`);
      expect(got).toEqual(expect.arrayContaining(['5:pool', '27:guests[1].name', '27:guests[1].mac', '28:guests[2].ip']));
    }
    expect(existsSync(join(dir, 'images', 'a.img'))).toBe(false);
  });
});
