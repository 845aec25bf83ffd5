// A worker's checks on a job before it runs anything (acceptJob), and the fleet file's hosts: section.
import { describe, expect, it } from 'vitest';
import { acceptJob, fleetForHost, jobIdOf, RefusedJob } from '../../../src/pipeline/queue/jobs.js';
import { signJob } from '../../../src/pipeline/queue/sign.js';
import { parseFleet } from '../../../src/pipeline/fleet.js';
import { SpecError } from '../../../src/spec/index.js';

const KEY = Buffer.from('k'.repeat(40));
const TEXT = `
fleet: thanes
directory: /srv/images
pool: 10.20.0.10-10.20.0.40
hosts:
  - { name: h1, concurrency: 2 }
  - { name: h2, directory: /srv/h2, labels: { zone: b } }
base:
  source: { clone: { root: /srv/root } }
  domain: { pygrub: true }
guests:
  - { name: cawdor, ip: auto }
  - { name: fife, ip: 10.20.0.50, host: h2, requires: { zone: b } }
`;
const payload = (over: Record<string, unknown> = {}) => ({ v: 1, kind: 'guest', host: 'h1', fleet: 'thanes', file: '/srv/thanes.yaml', text: TEXT, run: 'r1', guest: 'cawdor', ip: '10.20.0.10', ...over });
const refusal = (data: unknown, host = 'h1') => {
  try {
    acceptJob(KEY, data, host);
  } catch (e) {
    expect(e).toBeInstanceOf(RefusedJob);
    return (e as Error).message;
  }
  return 'accepted';
};

describe('queued jobs', () => {
  it('accepts a signed job for this host and parses its fleet as a local build does', () => {
    const a = acceptJob(KEY, signJob(KEY, payload() as { host: string }), 'h1');
    expect(a.guest?.name).toBe('cawdor');
    expect(a.fleet.hosts?.map((h) => h.name)).toEqual(['h1', 'h2']);
    expect(fleetForHost(a.fleet, 'h2').directory).toBe('/srv/h2');
    expect(fleetForHost(a.fleet, 'h1').directory).toBe('/srv/images');
    expect(a.fleet.guests[1]).toMatchObject({ host: 'h2', requires: { zone: 'b' } });
  });

  it('refuses unsigned, wrongly signed, tampered, other-host, invalid and mismatched jobs', () => {
    expect(refusal(payload())).toMatch(/unsigned/);
    expect(refusal({ payload: payload(), signature: 'f'.repeat(64) })).toMatch(/bad-signature/);
    const signed = signJob(KEY, payload() as { host: string });
    expect(refusal({ ...signed, payload: { ...signed.payload, text: TEXT.replace('/srv/root', '/') } })).toMatch(/bad-signature/);
    expect(refusal(signed, 'h2')).toMatch(/other-host/);
    expect(refusal(signJob(KEY, payload({ text: TEXT.replace('concurrency: 2', 'concurrency: lots') }) as { host: string }))).toMatch(/invalid-spec/);
    expect(refusal(signJob(KEY, payload({ guest: 'banquo' }) as { host: string }))).toMatch(/no guest banquo/);
    expect(refusal(signJob(KEY, payload({ guest: 'fife', ip: '10.20.0.11' }) as { host: string }))).toMatch(/other-host/);
    expect(refusal(signJob(KEY, payload({ host: 'h3' }) as { host: string }), 'h3')).toMatch(/no host h3/);
    expect(refusal(signJob(KEY, payload({ v: 2 }) as { host: string }))).toMatch(/bad-payload/);
  });

  it('a fleet file with a bad hosts: section or guest host: is refused with the field', () => {
    const bad = TEXT.replace('name: h2,', 'name: h1,').replace('host: h2,', 'host: "bad host",');
    try {
      parseFleet(bad, '/srv/thanes.yaml');
      throw new Error('parsed');
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      const fields = (e as SpecError).issues.map((i) => i.field);
      expect(fields.some((f) => f.startsWith('hosts'))).toBe(true);
      expect(fields.some((f) => f.startsWith('guests[1].host'))).toBe(true);
    }
  });

  it('job ids carry no ":" (BullMQ\'s key separator)', () => {
    expect(jobIdOf('guest', 'thanes', 'cawdor', 'r1')).not.toContain(':');
  });
});
