// A build whose source is a distribution install (mmdebstrap/debootstrap of Debian minbase from
// Debian's archive) plus the packages stage (apt-get inside the guest), into a directory target.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBuildSpec } from '../../src/spec/index.js';
import { runBuild } from '../../src/pipeline/pipeline.js';

describe('build from a Debian install (root, network)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'install-build-'));
    process.env.DOMU_FORGE_STATE_DIR = join(dir, 'state');
  });
  afterAll(() => {
    // the packages stage binds /proc, /sys and /dev into the guest; none may be left behind
    const left = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(dir));
    for (const l of left.reverse()) execFileSync('umount', ['-l', l.split(' ')[1]!]);
    rmSync(dir, { recursive: true, force: true });
    delete process.env.DOMU_FORGE_STATE_DIR;
  });

  it('installs, adds the extra packages in a chroot, fixes up and records the guest', async () => {
    const spec = parseBuildSpec(`
name: banquo-dir
target:
  dir: ${dir}/root
source:
  install: { distro: debian, dist: bookworm, variant: minbase, mirror: http://deb.debian.org/debian }
packages: [less]
fixups:
  skip: [kernel-modules, bootloader]
`, join(dir, 'spec.yaml'));
    const r = await runBuild(spec);
    expect(r.error).toBeUndefined();
    const status = Object.fromEntries(r.stages.map((s) => [s.id, s.status]));
    expect(status).toMatchObject({ 'source/install': 'done', packages: 'done', 'fixup/identity': 'done', 'xen/config': 'not-applicable', verify: 'not-applicable', inventory: 'done' });
    const root = join(dir, 'root');
    expect(execFileSync('chroot', [root, 'dpkg-query', '-W', '-f', '${Status}', 'less']).toString()).toBe('install ok installed');
    expect(readFileSync(join(root, 'etc/hostname'), 'utf8').trim()).toBe('banquo-dir');
    // nothing of the chroot is left mounted, and no policy-rc.d was left behind
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(root);
    expect(() => execFileSync('test', ['-e', join(root, 'usr/sbin/policy-rc.d')])).toThrow();
  });
});
