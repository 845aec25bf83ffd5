// The pieces of a shared clone that need no network: the signed announcement a serving worker
// returns (what a fetching worker accepts and refuses), and the fleet file's source.clone.host
// (where it is allowed, what it must name, and that it is not an input of the base key).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkBaseShare, signBaseShare, type BaseShare } from '../../../src/pipeline/queue/base-share.js';
import { baseKey, cloneHostOf, parseFleet } from '../../../src/pipeline/fleet.js';
import { readBuildSpec, type SpecError } from '../../../src/spec/load.js';
import { SpecReader } from '../../../src/spec/check.js';

const key = randomBytes(32);
const share: BaseShare = { fleet: 'f', run: 'r1', host: 'h1', key: 'a'.repeat(64), sha256: 'b'.repeat(64), url: 'http://10.0.0.1:7474' };
const want = { fleet: 'f', run: 'r1', host: 'h1' };

describe('the announcement of a packed clone', () => {
  it('passes when signed with the fleet key for this fleet, run and host', () => {
    expect(checkBaseShare(key, signBaseShare(key, share), want)).toEqual(share);
  });

  it('is refused unsigned, under another key, tampered with, or for another run or host', () => {
    const signed = signBaseShare(key, share);
    expect(() => checkBaseShare(key, undefined, want)).toThrow(/no signed announcement/);
    expect(() => checkBaseShare(key, { ...share }, want)).toThrow(/no signed announcement/);
    expect(() => checkBaseShare(randomBytes(32), signed, want)).toThrow(/signature does not match/);
    expect(() => checkBaseShare(key, { ...signed, sha256: 'c'.repeat(64) }, want)).toThrow(/signature does not match/);
    expect(() => checkBaseShare(key, { ...signed, url: 'http://evil:7474' }, want)).toThrow(/signature does not match/);
    expect(() => checkBaseShare(key, signed, { ...want, run: 'r2' })).toThrow(/not fleet f run r2; refused/);
    expect(() => checkBaseShare(key, signed, { ...want, host: 'h2' })).toThrow(/refused/);
    expect(() => checkBaseShare(key, signBaseShare(key, { ...share, sha256: 'xyz' }), want)).toThrow(/malformed/);
  });
});

describe('source.clone.host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clonehost-unit-'));
  writeFileSync(join(dir, 'marker'), 'x\n');
  const fleet = (clone: string, hosts = 'hosts:\n  - { name: h1 }\n  - { name: h2 }\n') => `fleet: f
directory: ${dir}/images
${hosts}base:
  target: { size: 48M, fs: ext4 }
  source:
    clone: ${clone}
  domain: { pygrub: true }
guests:
  - { name: g1, host: h1 }
`;
  const issues = (text: string): string[] => {
    try {
      parseFleet(text, join(dir, 'f.yaml'));
      return [];
    } catch (e) {
      return (e as SpecError).issues.map((i) => `${i.field}: ${i.message}`);
    }
  };

  it('a fleet base may name a host of hosts:', () => {
    const f = parseFleet(fleet(`{ root: ${dir}, host: h2 }`), join(dir, 'f.yaml'));
    expect(cloneHostOf(f)).toBe('h2');
    expect(cloneHostOf(parseFleet(fleet(`{ root: ${dir} }`), join(dir, 'f.yaml')))).toBeUndefined();
  });

  it('a host not in hosts:, or a fleet without hosts:, is refused with its field', () => {
    expect(issues(fleet(`{ root: ${dir}, host: h9 }`))).toEqual(['base.source.clone.host: no host named "h9" in hosts: (there are: h1, h2)']);
    expect(issues(fleet(`{ root: ${dir}, host: h1 }`, ''))[0]).toMatch(/^base\.source\.clone\.host: needs a hosts: section/);
    expect(issues(fleet(`{ root: ${dir}, host: "no way" }`))[0]).toMatch(/^base\.source\.clone\.host: "no way" is not a host name/);
  });

  it('a one-guest spec has no clone host', () => {
    const r = new SpecReader('spec.yaml');
    r.parse(`name: g\ntarget: { image: ${dir}/g.img, size: 48M }\nsource:\n  clone: { root: ${dir}, host: h1 }\ndomain: { pygrub: true }\n`);
    readBuildSpec(r);
    expect(r.issues.map((i) => i.field)).toContain('source.clone.host');
  });

  it('the host is not an input of the base key: the same key as a clone of that root alone', async () => {
    const a = parseFleet(fleet(`{ root: ${dir}, host: h2 }`), join(dir, 'f.yaml'));
    const b = parseFleet(fleet(`{ root: ${dir} }`), join(dir, 'f.yaml'));
    expect(await baseKey(a)).toBe(await baseKey(b));
    const c = parseFleet(fleet(`{ root: ${dir}, exclude: [/x] }`), join(dir, 'f.yaml'));
    expect(await baseKey(c)).not.toBe(await baseKey(b));
  });
});
