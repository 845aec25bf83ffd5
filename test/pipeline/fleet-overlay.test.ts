// A fleet guest made as a qcow2 overlay holds only what differs from its base: the kernel's modules
// (fixup/kernel-modules) go into the base once, not into every guest.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFleet } from '../../src/pipeline/fleet.js';
import { makeGuestTree } from './guest-tree.js';

const MODULES_BYTES = 24 * 2 ** 20;
const VERSION = '9.9.9-perf';

describe('fleet overlays hold only their own changes (root, loop, qemu)', () => {
  let dir: string;
  const loopsUnder = () => execFileSync('losetup', ['-a']).toString().split('\n').filter((l) => l.includes(dir));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-overlay-test-'));
    process.env.DOMU_FORGE_STATE_DIR = join(dir, 'state');
    process.env.TMPDIR = dir;
    makeGuestTree(join(dir, 'guest'), 2);
    // the Dom0 kernel the guests boot, and its modules (incompressible, so they show in the sizes)
    mkdirSync(join(dir, 'boot'));
    writeFileSync(join(dir, 'boot', `vmlinuz-${VERSION}`), 'k');
    mkdirSync(join(dir, 'modules', VERSION, 'kernel'), { recursive: true });
    writeFileSync(join(dir, 'modules', VERSION, 'kernel', 'big.ko'), randomBytes(MODULES_BYTES));
    writeFileSync(join(dir, 'modules', VERSION, 'modules.dep'), 'kernel/big.ko:\n');
  });
  afterAll(() => {
    for (const l of loopsUnder()) spawnSync('losetup', ['-d', l.split(':')[0]!]);
    rmSync(dir, { recursive: true, force: true });
    delete process.env.DOMU_FORGE_STATE_DIR;
    delete process.env.TMPDIR;
  });

  it('copies the modules into the base once; each overlay is far smaller than them and still has them', async () => {
    const file = join(dir, 'cells.yaml');
    writeFileSync(file, `
fleet: cells
directory: images
configDir: configs
base:
  target:
    size: 96M
    fs: ext4
  source:
    clone:
      root: ${join(dir, 'guest')}
      defaultExcludes: false
  fixups:
    options:
      modulesSource: ${join(dir, 'modules')}
  domain:
    memory: 128M
    kernel: ${join(dir, 'boot', `vmlinuz-${VERSION}`)}
guests:
  - { name: banquo, ip: 10.30.0.2 }
  - { name: fleance, ip: 10.30.0.3 }
`);
    const r = await buildFleet({ file });
    expect(r.base.status).toBe('built');
    for (const g of r.guests) expect(g.status, `${g.name}: ${g.error}`).toBe('built');
    const module = (image: string) =>
      Buffer.from(execFileSync('debugfs', ['-R', `cat /lib/modules/${VERSION}/kernel/big.ko`, image], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 }));
    const want = readFileSync(join(dir, 'modules', VERSION, 'kernel', 'big.ko'));
    expect(module(r.base.image).equals(want)).toBe(true);
    for (const name of ['banquo', 'fleance']) {
      const disk = join(dir, 'images', `${name}.qcow2`);
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', disk]).toString()) as { 'actual-size': number; 'backing-filename': string };
      expect(info['backing-filename']).toBe(r.base.image);
      // the overlay's own clusters: the guest's identity files and the filesystem's metadata updates
      const map = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', disk]).toString()) as Array<{ length: number; depth: number; data: boolean }>;
      const own = map.filter((m) => m.depth === 0 && m.data).reduce((n, m) => n + m.length, 0);
      expect(own).toBeLessThan(MODULES_BYTES / 4);
      expect(info['actual-size']).toBeLessThan(MODULES_BYTES / 2);
      // and the guest sees the modules, through its base
      const raw = join(dir, `${name}.raw`);
      execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
      expect(module(raw).equals(want)).toBe(true);
      expect(execFileSync('debugfs', ['-R', 'cat /etc/hostname', raw], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()).toBe(name);
    }
    expect(loopsUnder()).toEqual([]);
  }, 300_000);
});
