// Placement and the hosts: schema: pure, no root.
import { describe, expect, it } from 'vitest';
import { FleetHostsSchema, formatPlacement, parseHosts, placeGuests, type FleetHost } from '../../src/spec/fleet-hosts.js';

const hosts = (v: unknown): FleetHost[] => FleetHostsSchema.parse(v);

describe('hosts: schema', () => {
  it('fills defaults and keeps overrides', () => {
    const h = hosts([{ name: 'dom0-a' }, { name: 'dom0-b', concurrency: 4, directory: '/srv/xen', labels: { storage: 'lvm', ssd: true } }]);
    expect(h[0]).toEqual({ name: 'dom0-a', concurrency: 2, labels: {} });
    expect(h[1]).toEqual({ name: 'dom0-b', concurrency: 4, directory: '/srv/xen', labels: { storage: 'lvm', ssd: 'true' } });
  });
  it('reports every problem with its path', () => {
    const r = parseHosts([{ name: 'a' }, { name: 'a', concurrency: 0 }, { name: 'bad name', colour: 'red' }]);
    const got = r.issues.map((i) => i.path.join('.'));
    expect(got).toEqual(expect.arrayContaining(['hosts.1.concurrency', 'hosts.2.name', 'hosts.2']));
    expect(r.issues.find((i) => i.path.join('.') === 'hosts.2')!.message).toMatch(/colour/);
    expect(parseHosts([]).issues[0]!.message).toBe('must list at least one host');
  });
  it('refuses a duplicate name', () => {
    const r = parseHosts([{ name: 'a' }, { name: 'a' }]);
    expect(r.issues).toEqual([{ path: ['hosts', 1, 'name'], message: '"a" is already used by hosts[0]' }]);
  });
});

describe('placement', () => {
  const three = hosts([{ name: 'h1', concurrency: 1 }, { name: 'h2', concurrency: 2 }, { name: 'h3', concurrency: 1, labels: { storage: 'lvm' } }]);

  it('spreads by capacity: the least loaded per unit of concurrency, ties to the first', () => {
    const guests = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((name) => ({ name }));
    const r = placeGuests(three, guests);
    expect(r.issues).toEqual([]);
    const count = (h: string) => r.placements.filter((p) => p.host === h).length;
    // h2 has twice the concurrency, so it takes twice the guests
    expect([count('h1'), count('h2'), count('h3')]).toEqual([2, 4, 2]);
    expect(r.placements.map((p) => p.host)).toEqual(['h1', 'h2', 'h3', 'h2', 'h1', 'h2', 'h3', 'h2']);
  });

  it('honours labels and named hosts', () => {
    const r = placeGuests(three, [{ name: 'db1', requires: { storage: 'lvm' } }, { name: 'db2', requires: { storage: 'lvm' } }, { name: 'web', host: 'h1' }, { name: 'x' }]);
    expect(r.issues).toEqual([]);
    expect(Object.fromEntries(r.placements.map((p) => [p.guest, [p.host, p.reason]]))).toEqual({
      db1: ['h3', 'least-loaded'],
      db2: ['h3', 'least-loaded'],
      web: ['h1', 'named'],
      x: ['h2', 'least-loaded'],
    });
  });

  it('a guest stays where its disk is, whatever else changed', () => {
    const guests = ['a', 'b', 'c', 'd'].map((name) => ({ name }));
    const first = placeGuests(three, guests);
    const prev = new Map(first.placements.map((p) => [p.guest, p.host]));
    // a new guest at the front would shift every placement if the old ones were not kept
    const again = placeGuests(three, [{ name: 'new' }, ...guests], prev);
    for (const p of first.placements) expect(again.placements.find((q) => q.guest === p.guest)).toEqual({ ...p, reason: 'stays' });
    // and a rerun with nothing changed places the same way
    expect(placeGuests(three, guests, prev).placements.map((p) => p.host)).toEqual(first.placements.map((p) => p.host));
    // a host that left the fleet releases its guests to the others
    const two = three.filter((h) => h.name !== 'h1');
    expect(placeGuests(two, guests, prev).placements.every((p) => p.host !== 'h1')).toBe(true);
  });

  it('says which guest cannot be placed and why', () => {
    const r = placeGuests(three, [{ name: 'a', host: 'h9' }, { name: 'b', requires: { storage: 'zfs' } }, { name: 'c', host: 'h1', requires: { storage: 'lvm' } }]);
    expect(r.placements).toEqual([]);
    expect(r.issues).toEqual([
      { index: 0, field: 'host', message: 'no host named "h9" in hosts: (there are: h1, h2, h3)' },
      { index: 2, field: 'requires', message: 'host h1 does not have the labels storage=lvm' },
      { index: 1, field: 'requires', message: 'no host has the labels storage=zfs' },
    ]);
  });

  it('prints the placement per host', () => {
    const r = placeGuests(three, [{ name: 'a', host: 'h3' }, { name: 'b' }]);
    expect(formatPlacement(three, r.placements)).toBe('h1 (concurrency 1): 1 guest\n  b\nh2 (concurrency 2): 0 guests\nh3 (concurrency 1; storage=lvm): 1 guest\n  a (host: named)');
  });
});
