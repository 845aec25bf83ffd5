// Flags: conflicting ones refused naming both, errors name the flag, issues sorted by file and line.
import { describe, expect, it } from 'vitest';
import { DomuError, EXIT_STATUS } from '../../src/errors.js';
import { applySpecFlags, checkFlagConflicts, loadBuildSpec, parseBuildSpec, SpecError, sortIssues } from '../../src/spec/index.js';

function usage(opts: Record<string, unknown>): string {
  try {
    loadBuildSpec(undefined, (r) => applySpecFlags(r, opts));
  } catch (e) {
    expect(e).toBeInstanceOf(DomuError);
    expect(e).not.toBeInstanceOf(SpecError);
    expect((e as DomuError).code).toBe('USAGE');
    expect((e as DomuError).exitStatus).toBe(2);
    return (e as Error).message;
  }
  throw new Error('no usage error');
}

function issues(f: () => unknown) {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error('no spec error');
}

describe('command-line flags', () => {
  it('refuses conflicting flags with exit 2, naming both', () => {
    expect(usage({ hostname: 'a', clone: '/', install: 'debian', image: '/tmp/a.img' })).toBe('--clone conflicts with --install: give one source');
    expect(usage({ hostname: 'a', clone: '/', dir: '/srv/xen', image: '/tmp/a.img' })).toBe('--image conflicts with --dir: give one target');
    expect(usage({ hostname: 'a', clone: '/', lvm: 'vg0', tar: 'x.tar' })).toBe('--lvm conflicts with --tar: give one target');
    expect(usage({ hostname: 'a', clone: '/', tarball: 't.tar', image: 'a.img' })).toBe('--clone conflicts with --tarball: give one source');
    expect(usage({ hostname: 'a', clone: '/', image: 'a.img', ip: '10.0.0.2', dhcp: true })).toBe('--ip conflicts with --dhcp: give one network');
    expect(() => checkFlagConflicts({ image: 'a.img', clone: '/', dhcp: true })).not.toThrow();
  });

  it('names the flag, not the spec path, for a field missing under a section a flag made', () => {
    const list = issues(() => loadBuildSpec(undefined, (r) => applySpecFlags(r, { hostname: 'web', install: 'debian', image: '/tmp/schema-web.img', size: '1G', pygrub: true })));
    expect(list).toContainEqual({ file: 'command line', line: 0, field: '--dist', message: 'is required' });
    expect(list.some((i) => i.field === 'source.install.dist')).toBe(false);
  });

  it('keeps the spec path when the section came from the file', () => {
    const list = issues(() => parseBuildSpec('name: x\ntarget: { image: x.img, size: 1G }\nsource:\n  install: { distro: debian }\ndomain: { pygrub: true }\n', 's.yaml'));
    expect(list).toContainEqual({ file: 's.yaml', line: 4, field: 'source.install.dist', message: 'is required' });
  });
});

describe('spec errors', () => {
  it('are sorted by file and line', () => {
    const text = ['name: x', 'domain:', '  pygrub: true', '  vcpus: many', 'target:', '  image: x.img', '  size: 4X', 'source: { clone: / }', 'verify: maybe'].join('\n');
    const list = issues(() => parseBuildSpec(text, 'b.yaml'));
    const lines = list.map((i) => i.line);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(list.map((i) => i.field)).toEqual(['domain.vcpus', 'target.size', 'verify']);
    expect(sortIssues([
      { file: 'b.yaml', line: 9, field: 'z', message: '' },
      { file: 'a.yaml', line: 7, field: 'y', message: '' },
      { file: 'b.yaml', line: 2, field: 'x', message: '' },
      { file: 'b.yaml', line: 2, field: 'w', message: '' },
    ]).map((i) => i.field)).toEqual(['y', 'x', 'w', 'z']);
  });
});

describe('exit statuses', () => {
  it('a fleet with failed guests has its own status, not the internal error', () => {
    expect(EXIT_STATUS.FLEET_FAILED).toBe(4);
    expect(EXIT_STATUS.INTERNAL).toBe(1);
    expect(new Set(Object.values(EXIT_STATUS)).size).toBe(Object.values(EXIT_STATUS).length - 2); // USAGE=BAD_INPUT, MISSING_TOOL=ENVIRONMENT
  });
});

describe('fixups.options', () => {
  it('are typed values: authorizedKeys "a,b" arrives as a list', () => {
    const spec = parseBuildSpec('name: x\ntarget: { dir: /tmp/schema-x }\nsource: { clone: / }\nfixups:\n  options: { authorizedKeys: "ssh-ed25519 A a@x,ssh-ed25519 B b@x", console: hvc0 }\n', 'k.yaml');
    expect(spec.fixups.options).toEqual({ authorizedKeys: ['ssh-ed25519 A a@x', 'ssh-ed25519 B b@x'], console: 'hvc0' });
  });
});
