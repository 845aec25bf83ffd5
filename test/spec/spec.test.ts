// Spec loading: the shipped examples load, every error carries file, line and field, all errors of
// a spec are found in one pass, and flags override fields (errors then name the flag).

import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { applySpecFlags, loadBuildSpec, parseBuildSpec, SpecError, type SpecIssue } from '../../src/spec/index.js';

const EXAMPLES = resolve(__dirname, '../../examples');
const CLI = resolve(__dirname, '../../dist/cli/main.js');

function issuesOf(text: string, file = 'bad.yaml'): SpecIssue[] {
  try {
    parseBuildSpec(text, file);
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  throw new Error('expected spec errors');
}

describe('build spec', () => {
  it('loads the shipped examples', () => {
    const duncan = loadBuildSpec(join(EXAMPLES, 'duncan.yaml'));
    expect(duncan.name).toBe('duncan');
    expect(duncan.target).toMatchObject({ kind: 'image', path: resolve(EXAMPLES, '../out/duncan.img'), fs: 'ext3', format: 'raw' });
    expect(duncan.source).toMatchObject({ kind: 'clone', root: '/', oneFileSystem: true, defaultExcludes: true });
    expect(duncan.verify).toBe(true);
    const malcom = loadBuildSpec(join(EXAMPLES, 'malcom.yaml'));
    expect(malcom.target).toMatchObject({ kind: 'lvm', vg: 'scotland', lv: 'malcom', size: 4096 * 2 ** 20 });
    expect(malcom.source).toMatchObject({ kind: 'install', distro: 'centos', group: 'Base' });
    expect(malcom.domain).toMatchObject({ pygrub: true, memory: 1024, vcpus: 2, network: { ip: '192.168.1.20', dhcp: false } });
    const banquo = loadBuildSpec(join(EXAMPLES, 'banquo.yaml'));
    expect(banquo.source).toMatchObject({ kind: 'install', distro: 'debian', dist: 'bookworm', variant: 'minbase' });
    expect(banquo.bootTest).toEqual({ mode: 'plain', timeout: 600 });
    expect(banquo.verify).toBe(false);
  });

  it('reports every error in one pass, each with file, line and field', () => {
    const text = [
      'name: "bad name!"', // 1
      'target:', // 2
      '  image: x.img', // 3
      '  size: 4X', // 4
      '  fs: ext5', // 5
      'source:', // 6
      '  install:', // 7
      '    distro: debian', // 8
      '    releaseRpm: foo.rpm', // 9
      'domain:', // 10
      '  memory: lots', // 11
      '  vcpus: 0', // 12
      '  network:', // 13
      '    ip: 10.0.0.300', // 14
      '    mac: zz:16:3e:00:00:01', // 15
      'colour: blue', // 16
      'verify: yes please', // 17
      'fixups:', // 18
      '  options:', // 19
      '    console: ttyX', // 20
      '    colour: red', // 21
    ].join('\n');
    const issues = issuesOf(text);
    const at = (field: string) => issues.find((i) => i.field === field);
    const expected: Array<[string, number, RegExp]> = [
      ['name', 1, /is not a domain name/],
      ['target.size', 4, /"4X" is not a size/],
      ['target.fs', 5, /"ext5" is not one of ext2, ext3, ext4, xfs/],
      ['source.install.releaseRpm', 9, /only to Red Hat family/],
      ['source.install.dist', 7, /is required/], // a missing field points at its parent
      ['domain.memory', 11, /is not a size/],
      ['domain.vcpus', 12, /out of range/],
      ['domain.network.ip', 14, /is not an IPv4 address/],
      ['domain.network.mac', 15, /is not a MAC address/],
      ['colour', 16, /unknown field/],
      ['verify', 17, /must be true or false/],
      ['fixups.options.console', 20, /"ttyX" is not one of hvc0, xvc0, ttyS0/],
      ['fixups.options.colour', 21, /unknown field/],
    ];
    for (const [field, line, message] of expected) {
      const i = at(field);
      expect(i, `${field} in ${JSON.stringify(issues)}`).toBeDefined();
      expect(i!.file).toBe('bad.yaml');
      expect(i!.line, field).toBe(line);
      expect(i!.message).toMatch(message);
    }
  });

  it('points at the parent when a required field is missing, and names alternatives', () => {
    const issues = issuesOf('name: x\ntarget:\n  image: a.img\n  lvm: vg/lv\nsource: {}\n');
    expect(issues).toContainEqual({ file: 'bad.yaml', line: 4, field: 'target.lvm', message: 'give only one of image, lvm' });
    expect(issues).toContainEqual({ file: 'bad.yaml', line: 5, field: 'source', message: 'names none of clone, install, tarball; give exactly one' });
    const missing = issuesOf('name: x\n');
    expect(missing.map((i) => i.field).sort()).toEqual(['source', 'target']);
  });

  it('gives YAML syntax errors their line', () => {
    const issues = issuesOf('name: x\ntarget:\n  image: [unclosed\nsource: {}\n');
    expect(issues[0]!.field).toBe('(syntax)');
    expect(issues[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it('lets flags override fields, and names the flag in errors', () => {
    const spec = loadBuildSpec(join(EXAMPLES, 'duncan.yaml'), (r) => applySpecFlags(r, { memory: '1G', ip: '10.1.2.3', lvm: 'vg0', size: '8G', exclude: ['/srv/data'] }));
    expect(spec.domain.memory).toBe(1024);
    expect(spec.domain.network).toMatchObject({ ip: '10.1.2.3', dhcp: false });
    // --lvm VG: the volume NAME-disk, as xen-tools names it (issue 12 item 3; it was NAME)
    expect(spec.target).toMatchObject({ kind: 'lvm', vg: 'vg0', lv: 'duncan-disk', size: 8 * 2 ** 30 });
    expect(spec.source.kind === 'clone' && spec.source.exclude).toContain('/srv/data');
    try {
      loadBuildSpec(undefined, (r) => applySpecFlags(r, { hostname: 'web1', clone: '/', image: '/tmp/w.img', size: 'big', mac: 'nope', dhcp: true }));
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      const issues = (e as SpecError).issues;
      expect(issues).toContainEqual({ file: 'command line', line: 0, field: '--size', message: '"big" is not a size (like 4G, 512M, or a number of MiB)' });
      expect(issues).toContainEqual({ file: 'command line', line: 0, field: '--mac', message: '"nope" is not a MAC address (00:16:3e:xx:xx:xx)' });
      // no --kernel and no --pygrub: a PV guest could not boot
      expect(issues).toContainEqual({ file: 'command line', line: 0, field: 'domain', message: "a pv domain needs kernel (a Dom0 path, or dom0 for the running Dom0's) or pygrub: true" });
    }
    // --hostname alone names the domain; --dir follows xen-create-image's layout.
    const oneOff = loadBuildSpec(undefined, (r) => applySpecFlags(r, { hostname: 'web2.example.org', clone: '/srv', dir: '/srv/xen', pygrub: true }));
    expect(oneOff.name).toBe('web2');
    expect(oneOff.hostname).toBe('web2.example.org');
    expect(oneOff.target).toMatchObject({ kind: 'image', path: '/srv/xen/domains/web2/disk.img' });
  });

  it('CLI: prints each error as file:line: field: message and exits 2 with nothing built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: ok\ntarget:\n  image: out.img\n  size: 4X\nsource:\n  clone: /\ndomain:\n  vcpus: many\n  pygrub: true\n');
    const r = spawnSync('node', [CLI, 'build', file], { encoding: 'utf8', env: { ...process.env, DOMU_FORGE_STATE_DIR: dir } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:4: target.size: "4X" is not a size`);
    expect(r.stderr).toContain(`${file}:8: domain.vcpus: "many" must be a whole number`);
    expect(r.stderr).toContain('2 errors in the spec; nothing was built');
    const unknownStage = spawnSync('node', [CLI, 'build', join(EXAMPLES, 'duncan.yaml'), '--skip', 'fixup/nonesuch'], { encoding: 'utf8', env: { ...process.env, DOMU_FORGE_STATE_DIR: dir } });
    expect(unknownStage.status).toBe(2);
    expect(unknownStage.stderr).toContain('no stage "fixup/nonesuch"');
  });
});
