// Site defaults under the spec and the flags, the Dom0's own suite, access defaults, and --print-spec's origins.
import { describe, expect, it } from 'vitest';
import { applySpecFlags, loadBuildSpec, parseBuildSpec } from '../../src/spec/index.js';
import type { SpecReader } from '../../src/spec/check.js';
import { applyDefaultImageDir, applyDom0Suite, applyInstallDiskDefaults, applySiteDefaults, describeSpec } from '../../src/spec/site-defaults.js';
import { accessOptionsOf } from '../../src/pipeline/pipeline.js';

const SITE = { target: { size: '4G', swap: '512M', fs: 'xfs', imageDir: '/srv/xen' }, source: { install: { distro: 'debian', dist: 'bookworm' } }, domain: { memory: '512M', pygrub: true } };
const ORIGIN = 'site defaults /etc/domu-forge/defaults.yaml';
const guess = () => ({ distro: 'debian', dist: 'trixie', mirror: 'http://mirror.example/debian', from: '/etc/apt/sources.list' });

function build(text: string | undefined, flags: Record<string, unknown>) {
  let reader: SpecReader | undefined;
  const apply = (r: SpecReader) => {
    reader = r;
    applySiteDefaults(r, SITE, ORIGIN);
    applySpecFlags(r, flags);
    applyDefaultImageDir(r, SITE, ORIGIN);
    applyDom0Suite(r, guess);
  };
  const spec = text === undefined ? loadBuildSpec(undefined, apply) : parseBuildSpec(text, 'web.yaml', apply);
  return { spec, origins: Object.fromEntries(describeSpec(spec, reader!).map((l) => [l.field, l.origin])) };
}

describe('site defaults', () => {
  it('fill what the flags leave unset: an image under imageDir/domains/NAME, sizes, fs, the install', () => {
    const { spec, origins } = build(undefined, { hostname: 'web1', memory: '1G' });
    expect(spec.target).toMatchObject({ kind: 'image', path: '/srv/xen/domains/web1/disk.img', size: 4 * 2 ** 30, swap: 512 * 2 ** 20, fs: 'xfs' });
    expect(spec.source).toMatchObject({ kind: 'install', distro: 'debian', dist: 'bookworm' });
    expect(spec.domain.memory).toBe(1024);
    expect(origins['target.size']).toBe(ORIGIN);
    expect(origins['domain.memory']).toBe('flag --memory');
    expect(origins['domain.vcpus']).toBe('built-in default');
  });

  it("a spec that names its own source and target keeps them; the site's install and imageDir do not apply", () => {
    const { spec, origins } = build('name: c1\ntarget:\n  image: /tmp/c1.img\nsource:\n  clone:\n    root: /\n', {});
    expect(spec.source.kind).toBe('clone');
    expect(spec.target).toMatchObject({ kind: 'image', path: '/tmp/c1.img', fs: 'xfs' });
    expect(origins['target.path']).toBe('web.yaml:3');
    expect(origins['target.fs']).toBe(ORIGIN);
  });

  it("an install with no suite gets the Dom0's own suite and mirror", () => {
    const { spec, origins } = build('name: i1\nsource:\n  install:\n    distro: debian\n', {});
    expect(spec.source).toMatchObject({ dist: 'bookworm', mirror: 'http://mirror.example/debian' });
    expect(origins['source.mirror']).toBe("the Dom0's own (/etc/apt/sources.list)");
  });
});

describe('access', () => {
  it('an install given no access gets a generated root password; a clone keeps the Dom0 accounts', () => {
    const inst = build(undefined, { hostname: 'a1' }).spec;
    expect(inst.access.genpass).toBe(true);
    expect(accessOptionsOf(inst)).toEqual({ rootPassword: { kind: 'generate' } });
    const clone = build('name: c2\ntarget: {image: /tmp/c2.img}\nsource: {clone: {root: /}}\n', {}).spec;
    expect(clone.access.genpass).toBe(false);
    expect(accessOptionsOf(clone)).toBeUndefined();
  });

  it('keys alone mean no generated password; a password file and keys go to the access fixup', () => {
    const k = build(undefined, { hostname: 'a2', authorizedKeys: ['/root/.ssh/id.pub'] }).spec;
    expect(accessOptionsOf(k)).toEqual({ authorizedKeysFiles: ['/root/.ssh/id.pub'] });
    const f = build(undefined, { hostname: 'a3', passwordFile: '/root/pw', accounts: true }).spec;
    expect(accessOptionsOf(f)).toEqual({ rootPassword: { kind: 'file', path: '/root/pw' }, accounts: true });
  });

  it('refuses two root passwords and an MD5 hash, naming the flags', () => {
    expect(() => build(undefined, { hostname: 'a4', password: 'x', passwdHash: '$6$s$h' })).toThrow(/--passwd-hash: give one root password: password or passwdHash/);
    expect(() => build(undefined, { hostname: 'a5', passwdHash: '$1$salt$hash' })).toThrow(/--passwd-hash: .*is not a yescrypt, SHA-512, SHA-256 or bcrypt crypt hash \(MD5 is refused\)/);
  });

  it('--bootloader pvgrub, --no-kernel and --no-ssh reach the spec', () => {
    const s = build(undefined, { hostname: 'a6', bootloader: 'pvgrub', kernel: false, ssh: false }).spec;
    expect(s.domain).toMatchObject({ pvgrub: true, pygrub: false });
    expect(s.source).toMatchObject({ kind: 'install', kernel: false });
    expect(s.access.ssh).toBe(false);
  });
});

describe("xen-create-image's disk defaults for installs (size 4G, swap 512M)", () => {
  const load = (flags: Record<string, unknown>) => {
    let reader: SpecReader | undefined;
    const spec = loadBuildSpec(undefined, (r) => {
      reader = r;
      applySpecFlags(r, flags);
      applyInstallDiskDefaults(r);
    });
    return { spec, origins: Object.fromEntries(describeSpec(spec, reader!).map((l) => [l.field, l.origin])) };
  };

  it('an install into an image with no size or swap gets 4G and 512M, and says where they came from', () => {
    const { spec, origins } = load({ hostname: 'i1', install: 'debian', dist: 'bookworm', image: '/tmp/i1.img', pygrub: true });
    expect(spec.target).toMatchObject({ kind: 'image', size: 4 * 2 ** 30, swap: 512 * 2 ** 20 });
    expect(origins['target.size']).toBe("built-in default (xen-create-image's)");
    expect(origins['target.swap']).toBe("built-in default (xen-create-image's)");
  });

  it('a flag wins over them; a clone is sized from its source and gets no swap it did not ask for', () => {
    expect(load({ hostname: 'i2', install: 'debian', dist: 'bookworm', image: '/tmp/i2.img', size: '8G', swap: '1G', pygrub: true }).spec.target).toMatchObject({ size: 8 * 2 ** 30, swap: 2 ** 30 });
    const clone = load({ hostname: 'c2', clone: '/', image: '/tmp/c2.img', kernel: '/boot/vmlinuz' }).spec.target as Record<string, unknown>;
    expect([clone.size, clone.swap]).toEqual([undefined, undefined]);
  });

  it('--swap 0 (xen-tools\' noswap) is no swap disk, and the default does not put one back', () => {
    const { spec } = load({ hostname: 'i3', install: 'debian', dist: 'bookworm', image: '/tmp/i3.img', swap: '0', pygrub: true });
    expect(spec.target).toMatchObject({ kind: 'image', size: 4 * 2 ** 30 });
    expect((spec.target as Record<string, unknown>).swap).toBeUndefined();
    const file = parseBuildSpec('name: i4\ntarget:\n  image: /tmp/i4.img\n  swap: 0\nsource:\n  install: { distro: debian, dist: bookworm }\ndomain:\n  pygrub: true\n', 'i4.yaml', applyInstallDiskDefaults);
    expect((file.target as Record<string, unknown>).swap).toBeUndefined();
    expect(() => parseBuildSpec('name: i5\ntarget:\n  image: /tmp/i5.img\n  swap: -1\nsource:\n  install: { distro: debian, dist: bookworm }\n', 'i5.yaml', applyInstallDiskDefaults)).toThrow(/i5\.yaml:4: target\.swap: "-1" is not a size/);
  });
});
