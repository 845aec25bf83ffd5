// The fleet file's schema (src/spec/fleet-schema.ts) as parseFleet uses it: a valid file becomes the
// typed Fleet; each kind of bad input is one FILE:LINE: FIELD: MESSAGE line. No root, no I/O.
import { describe, expect, it } from 'vitest';
import { parseFleet } from '../../src/pipeline/fleet.js';
import { fleetFileSchema, fleetSchema, toFleetGuest, type Fleet, type FleetGuest } from '../../src/spec/fleet-schema.js';
import { formatIssue, SpecError } from '../../src/spec/index.js';

const FILE = '/srv/fleets/thanes.yaml';

/** A fleet file: the fleet's own lines (from line 2), then a fixed base, then the guests. */
const fleetText = (top: string, guests: string) => `
fleet: thanes
${top}
base:
  target: { size: 2G, fs: ext4, label: root }
  source: { clone: { root: /srv/root } }
  domain: { memory: 256M, pygrub: true, network: { netmask: 24, gateway: 10.20.0.1 } }
guests:
${guests}
`;

/** Every error of a fleet file, as printed: "FILE:LINE: FIELD: MESSAGE". */
function errorsOf(text: string): string[] {
  try {
    parseFleet(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    expect((e as Error).message).not.toContain('\n');
    return (e as SpecError).issues.map(formatIssue);
  }
  throw new Error('the fleet parsed');
}

describe('a valid fleet file', () => {
  const text = `
fleet: thanes
directory: images
configDir: /etc/xen/thanes
pool: 10.20.0.10-10.20.0.40
concurrency: "3"
method: copy
hosts:
  - { name: h1, concurrency: 2 }
  - { name: h2, directory: /srv/h2, configDir: cfg, labels: { zone: b, ssd: true } }
base:
  target: { size: 2G, fs: ext4, label: root }
  source: { clone: { root: /srv/root } }
  domain: { memory: 256M, pygrub: true, network: { netmask: 24, gateway: 10.20.0.1 } }
guests:
  - { name: cawdor, ip: auto }
  - { name: fife, hostname: fife.example.org, ip: 10.20.0.50, mac: "00:16:3E:0A:0B:0C", size: 4G, memory: 1.5G, vcpus: "2", packages: "nginx, redis-server", host: h2, requires: { zone: b } }
  - { name: 2024, mac: , packages: [htop, 7] }
`;

  it('parses to the typed Fleet, paths resolved against the file, sizes in bytes, memory in MiB', () => {
    const f: Fleet = parseFleet(text, FILE);
    expect(fleetSchema.safeParse(f).success).toBe(true);
    const { base, ...rest } = f;
    expect(rest).toEqual({
      name: 'thanes',
      file: FILE,
      directory: '/srv/fleets/images',
      configDir: '/etc/xen/thanes',
      pool: '10.20.0.10-10.20.0.40',
      concurrency: 3,
      method: 'copy',
      hosts: [
        { name: 'h1', concurrency: 2, labels: {} },
        { name: 'h2', concurrency: 2, directory: '/srv/h2', configDir: '/srv/fleets/cfg', labels: { zone: 'b', ssd: 'true' } },
      ],
      guests: [
        { name: 'cawdor', hostname: 'cawdor', ip: 'auto', packages: [] },
        { name: 'fife', hostname: 'fife.example.org', ip: '10.20.0.50', mac: '00:16:3e:0a:0b:0c', size: 4 * 2 ** 30, memory: 1536, vcpus: 2, packages: ['nginx', 'redis-server'], host: 'h2', requires: { zone: 'b' } },
        { name: '2024', hostname: '2024', packages: ['htop', '7'] },
      ],
    });
    // the base is a build spec whose target is the fleet's cached base image
    expect(base.name).toBe('thanes-base');
    expect(base.target).toMatchObject({ kind: 'image', format: 'raw', size: 2 * 2 ** 30, fs: 'ext4', label: 'root' });
    expect(base.target.kind === 'image' && base.target.path).toMatch(/\/fleet-bases\/thanes\.img$/);
    expect(base.source).toEqual({ kind: 'clone', root: '/srv/root', exclude: [], defaultExcludes: true, oneFileSystem: false });
    expect(base.domain).toMatchObject({ memory: 256, pygrub: true, network: { netmask: '24', gateway: '10.20.0.1' } });
  });

  it('fills the defaults the schema names, and a guest without options is its name only', () => {
    const f = parseFleet(fleetText('directory: /srv/images', '  - { name: ross }'), FILE);
    expect(f).toMatchObject({ configDir: '/etc/xen', concurrency: 4, method: 'overlay' });
    expect(f.pool).toBeUndefined();
    expect(f.hosts).toBeUndefined();
    const g: FleetGuest = f.guests[0]!;
    expect(g).toStrictEqual({ name: 'ross', hostname: 'ross', packages: [] });
  });

  it('the file form parses on its own, and each guest becomes the resolved guest', () => {
    const file = fleetFileSchema.parse({ fleet: 'x', directory: 'd', base: {}, guests: [{ name: 'a', size: '1G', memory: 512, mac: 'AA:BB:CC:DD:EE:FF' }] });
    expect(file).toMatchObject({ configDir: '/etc/xen', concurrency: 4, method: 'overlay' });
    expect(toFleetGuest(file.guests[0]!)).toStrictEqual({ name: 'a', hostname: 'a', packages: [], mac: 'aa:bb:cc:dd:ee:ff', size: 2 ** 30, memory: 512 });
  });
});

describe('a bad fleet file: one located line per problem', () => {
  it('an unknown key, at the top, in a guest, in the base', () => {
    expect(errorsOf(fleetText('directory: d\ncolour: red', '  - { name: a, colour: red }').replace('base:\n', 'base:\n  access: { password: x }\n'))).toEqual([
      `${FILE}:4: colour: unknown field (known: fleet, base, guests, directory, configDir, pool, concurrency, method, hosts)`,
      `${FILE}:6: base.access: unknown field (known: target, source, packages, fixups, roles, domain, verify, bootTest)`,
      `${FILE}:11: guests[0].colour: unknown field (known here: name, hostname, ip, mac, size, packages, memory, vcpus, host, requires)`,
    ]);
  });

  it('a wrong type or value', () => {
    const top = 'directory: [a, b]\nconcurrency: lots\nmethod: fast\npool: [1]';
    const guests = ['  - { name: a, vcpus: 2.5, packages: { x: 1 } }', '  - { name: b, vcpus: 0, packages: [x, { y: 1 }] }', '  - { name: "bad name", hostname: -x, ip: 10.0.0.300, mac: nope }', '  - 7'].join('\n');
    expect(errorsOf(fleetText(top, guests))).toEqual([
      `${FILE}:3: directory: must be a string`,
      `${FILE}:4: concurrency: "lots" must be a whole number`,
      `${FILE}:5: method: "fast" is not one of copy, overlay`,
      `${FILE}:6: pool: must be a string`,
      `${FILE}:12: guests[0].packages: must be a list (or a comma-separated string)`,
      `${FILE}:12: guests[0].vcpus: "2.5" must be a whole number`,
      `${FILE}:13: guests[1].packages[1]: must be a string`,
      `${FILE}:13: guests[1].vcpus: 0 is out of range (1..512)`,
      `${FILE}:14: guests[2].name: "bad name" is not a domain name`,
      `${FILE}:14: guests[2].hostname: "-x" is not a hostname`,
      `${FILE}:14: guests[2].ip: "10.0.0.300" is not an IPv4 address or auto`,
      `${FILE}:14: guests[2].mac: "nope" is not a MAC address`,
      `${FILE}:15: guests[3]: must be a mapping of fields`,
    ]);
    expect(errorsOf(fleetText('directory: d\nconcurrency: 65', '  - { name: a }'))).toEqual([`${FILE}:4: concurrency: 65 is out of range (1..64)`]);
  });

  it('a bad size', () => {
    expect(errorsOf(fleetText('directory: d', '  - { name: a, size: huge }\n  - { name: b, memory: 0 }\n  - { name: c, size: { g: 4 } }'))).toEqual([
      `${FILE}:9: guests[0].size: "huge" is not a size (like 4G, 512M, or a number of MiB)`,
      `${FILE}:10: guests[1].memory: "0" is not a size (like 4G, 512M, or a number of MiB)`,
      `${FILE}:11: guests[2].size: "[object Object]" is not a size (like 4G, 512M, or a number of MiB)`,
    ]);
  });

  it('a guest whose host is not in hosts:, or whose host or labels are not names', () => {
    const top = 'directory: d\nhosts:\n  - { name: h1 }\n  - { name: h2, labels: { zone: b } }';
    expect(errorsOf(fleetText(top, '  - { name: a, host: h9 }\n  - { name: b, host: h2 }\n  - { name: c, host: "bad host" }'))).toEqual([
      `${FILE}:12: guests[0].host: no host named "h9" in hosts: (there are: h1, h2)`,
      `${FILE}:14: guests[2].host: is not a host name`,
    ]);
    // a local fleet (no hosts:) keeps a guest's host: for when it is queued
    expect(parseFleet(fleetText('directory: d', '  - { name: a, host: h9 }'), FILE).guests[0]!.host).toBe('h9');
  });

  it('a bad hosts: section', () => {
    expect(errorsOf(fleetText('directory: d\nhosts:\n  - { name: h1 }\n  - { name: h1, concurrency: 0 }', '  - { name: a }'))).toEqual([
      `${FILE}:6: hosts[1].concurrency: Too small: expected number to be >=1`,
      `${FILE}:6: hosts[1].name: "h1" is already used by hosts[0]`,
    ]);
  });

  it('a name, address or MAC used twice (MACs in any case)', () => {
    const guests = ['  - { name: a, ip: 10.20.0.5, mac: "00:16:3e:00:00:01" }', '  - { name: a, ip: 10.20.0.5, mac: "00:16:3E:00:00:01" }', '  - { name: b, ip: auto }', '  - { name: c, ip: auto }'].join('\n');
    expect(errorsOf(fleetText('directory: d\npool: 10.20.0.10-10.20.0.20', guests))).toEqual([
      `${FILE}:11: guests[1].name: "a" is already used by guests[0]`,
      `${FILE}:11: guests[1].ip: "10.20.0.5" is already used by guests[0]`,
      `${FILE}:11: guests[1].mac: "00:16:3e:00:00:01" is already used by guests[0]`,
    ]);
  });

  it('ip: auto without a pool, and a pool that is not a range', () => {
    expect(errorsOf(fleetText('directory: d', '  - { name: a, ip: auto }'))).toEqual([`${FILE}:9: guests[0].ip: auto needs a pool (pool: 10.0.0.10-10.0.0.50)`]);
    expect(errorsOf(fleetText('directory: d\npool: 10.20.0.12-10.20.0.10', '  - { name: a, ip: auto }'))).toEqual([`${FILE}:4: pool: address pool "10.20.0.12-10.20.0.10" is not a valid range`]);
  });

  it('what is required: the name, the directory, a base, at least one guest, each guest a name', () => {
    expect(errorsOf('fleet:\nguests: []\n')).toEqual([
      `${FILE}:1: fleet: is required`,
      `${FILE}:1: directory: is required`,
      `${FILE}:1: base: is required (the shared target settings, source, fixups and domain)`,
      `${FILE}:2: guests: must be a list of at least one guest`,
    ]);
    expect(errorsOf(fleetText('directory: d', '  - { hostname: x }\n  -')).filter((l) => l.includes('guests'))).toEqual([`${FILE}:9: guests[0].name: is required`, `${FILE}:10: guests[1]: is required`]);
    expect(errorsOf('fleet: x\ndirectory: d\nbase: [1]\nguests: { a: 1 }\n')).toEqual([`${FILE}:3: base: must be a mapping`, `${FILE}:4: guests: must be a list of at least one guest`]);
  });

  it('a base that names its own target, or another format', () => {
    expect(errorsOf(fleetText('directory: d', '  - { name: a }').replace('{ size: 2G, fs: ext4, label: root }', '{ image: /x.img, format: qcow2 }'))).toEqual([
      `${FILE}:5: base.target.image: a fleet base is always a cached image file; give only size, fs and label`,
      `${FILE}:5: base.target.format: a fleet base is a raw image`,
    ]);
  });

  it('a YAML syntax error', () => {
    expect(errorsOf('fleet: x\nguests: [\n')[0]).toMatch(new RegExp(`^${FILE}:\\d+: \\(syntax\\): `));
  });
});
