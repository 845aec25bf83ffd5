// Loading a build spec: defaults filled in one place, every problem reported with file, line and field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IPV4_RE, loadBuildSpec, MAC_RE, NAME_RE, parseBuildSpec, SpecError } from '../../src/spec/load.js';
import type { SpecIssue } from '../../src/spec/types.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-specload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function issues(f: () => unknown): SpecIssue[] {
  try {
    f();
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  throw new Error('no SpecError');
}

describe('parseBuildSpec', () => {
  it('fills the defaults of a clone into a directory', () => {
    const spec = parseBuildSpec('name: web1\ntarget: { dir: /srv/t/web1 }\nsource: { clone: / }\n', join(dir, 'web1.yaml'));
    expect(spec).toMatchObject({
      name: 'web1', hostname: 'web1', file: join(dir, 'web1.yaml'), packages: [], roles: [], verify: true, bootTest: false,
      fixups: { skip: [], only: [], options: {} }, access: { genpass: false, authorizedKeys: [], accounts: false, ssh: true },
    });
  });

  it('an install with no access of its own gets a generated password; relative paths are from the spec\'s folder', () => {
    const text = 'name: db\ntarget: { image: db.img, size: 2G }\nsource:\n  install: { distro: debian, dist: bookworm }\ndomain: { pygrub: true }\nroles: [roles/base.yaml]\n';
    const spec = parseBuildSpec(text, join(dir, 'sub', 'db.yaml'));
    expect(spec.access.genpass).toBe(true);
    expect(spec.verify).toBe(false);
    expect(spec.roles).toEqual([join(dir, 'sub', 'roles/base.yaml')]);
    const keyed = parseBuildSpec(`${text}access: { authorizedKeys: [keys/me.pub] }\n`, join(dir, 'db.yaml'));
    expect(keyed.access).toMatchObject({ genpass: false, authorizedKeys: [join(dir, 'keys/me.pub')] });
  });

  it('reports every problem at once, in line order, with its field', () => {
    const text = [
      'name: "bad name"', //      1
      'colour: blue', //          2
      'target:', //               3
      '  image: x.img', //        4
      '  dir: /srv/x', //         5
      'source: { clone: / }', //  6
      'packages: [vim, "no way"]', // 7
      'fixups: { skip: [Fstab] }', // 8
      'access: { password: a, passwdHash: "$1$md5" }', // 9
    ].join('\n');
    const list = issues(() => parseBuildSpec(text, 's.yaml'));
    const fields = list.map((i) => `${i.line} ${i.field}`);
    expect(fields).toEqual(expect.arrayContaining(['1 name', '2 colour', '5 target.dir', '7 packages[1]', '8 fixups.skip[0]', '9 access.passwdHash']));
    expect(list.map((i) => i.line)).toEqual([...list.map((i) => i.line)].sort((a, b) => a - b));
    expect(list.find((i) => i.field === 'colour')?.message).toMatch(/^unknown field \(known: name, hostname, target, source/);
    expect(list.find((i) => i.field === 'target.dir')?.message).toBe('give only one of image, dir');
    expect(list.find((i) => i.field === 'packages[1]')?.message).toBe('"no way" is not a package name');
  });

  it('checks what needs what: a boot test a disk, an image domain a way to boot, verify a clone', () => {
    const dirBoot = issues(() => parseBuildSpec('name: a\ntarget: { dir: /srv/a }\nsource: { clone: / }\nbootTest: true\n', 'a.yaml'));
    expect(dirBoot.map((i) => [i.field, i.message])).toContainEqual(['bootTest', 'needs an image or LVM target (a disk to boot)']);
    const noBoot = issues(() => parseBuildSpec('name: a\ntarget: { image: a.img }\nsource: { clone: / }\n', 'a.yaml'));
    expect(noBoot.map((i) => i.field)).toContain('domain');
    const verifyTar = issues(() => parseBuildSpec('name: a\ntarget: { dir: /srv/a }\nsource: { tarball: /srv/a.tar }\nverify: true\n', 'a.yaml'));
    expect(verifyTar.map((i) => [i.field, i.message])).toContainEqual(['verify', 'applies to clone sources only (an install or tarball has no tree to compare with)']);
  });

  it('one issue is its own message; several are counted', () => {
    const one = new SpecError([{ file: 'a.yaml', line: 3, field: 'x', message: 'is wrong' }]);
    expect(one.message).toBe('a.yaml:3: x: is wrong');
    expect(one.exitStatus).toBe(2);
    const two = new SpecError([{ file: 'a.yaml', line: 5, field: 'y', message: 'b' }, { file: 'command line', line: 0, field: '--size', message: 'a' }]);
    expect(two.message).toBe('2 errors in the spec: a.yaml:5: y: b; command line: --size: a');
  });
});

describe('loadBuildSpec', () => {
  it('reads a file, and says so in one line when it cannot', () => {
    const f = join(dir, 'ok.yaml');
    writeFileSync(f, 'name: ok\ntarget: { dir: /srv/ok }\nsource: { clone: / }\n');
    expect(loadBuildSpec(f).name).toBe('ok');
    expect(() => loadBuildSpec(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: `cannot read the spec ${join(dir, 'missing.yaml')}: no such file` }));
  });
});

describe('field patterns', () => {
  it('names, addresses and MACs', () => {
    expect(['web1', 'a.b-c_d', 'x'.repeat(64)].every((s) => NAME_RE.test(s))).toBe(true);
    expect(['-a', 'a b', 'x'.repeat(65), ''].some((s) => NAME_RE.test(s))).toBe(false);
    expect(IPV4_RE.test('10.0.0.255')).toBe(true);
    expect(['256.0.0.1', '10.0.0', '01.2.3.4'].some((s) => IPV4_RE.test(s))).toBe(false);
    expect(MAC_RE.test('00:16:3E:aa:bb:cc')).toBe(true);
    expect(MAC_RE.test('00:16:3e:aa:bb')).toBe(false);
  });
});
