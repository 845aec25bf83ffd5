// docs/spec.md is generated from the schema: this fails when someone changes the schema and forgets
// `npm run docs:spec`, and checks that the schema documents every field with its flag.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderFleetDocs, renderSpecDocs } from '../../src/spec/docs.js';
import { buildSpecSchema } from '../../src/spec/schema.js';
import { fleetFileSchema, fleetGuestFields } from '../../src/spec/fleet-schema.js';
import { FleetHostSchema } from '../../src/spec/fleet-hosts.js';
import { SPEC_FLAGS } from '../../src/spec/flags.js';

describe('the spec reference', () => {
  it('docs/spec.md is what the schema renders (run npm run docs:spec)', () => {
    expect(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'spec.md'), 'utf8')).toBe(renderSpecDocs());
  });
  it('names the flag of every field the flags set', () => {
    const docs = renderSpecDocs();
    for (const f of SPEC_FLAGS) {
      if (!f.field) continue;
      const long = f.flags.split(/[ ,]/).find((t) => t.startsWith('--'))!;
      if (['--name', '--hostname', '--format', '--label', '--compress', '--force'].includes(long)) continue;
      expect(docs, long).toContain(`| ${long} |`);
    }
    expect(docs).toMatch(/\| `domain.memory` \| integer \(32\.\.\) \| 512M \| --memory \|/);
  });
  it('the schema checks a resolved spec', () => {
    const ok = buildSpecSchema.safeParse({
      name: 'x', hostname: 'x', target: { kind: 'dir', path: '/tmp/x' }, source: { kind: 'clone', root: '/', exclude: [], defaultExcludes: true, oneFileSystem: false },
      packages: [], fixups: { skip: [], only: [], options: { authorizedKeys: ['a', 'b'] } }, access: { genpass: false, authorizedKeys: [], accounts: false, ssh: true }, roles: [],
      domain: { type: 'pv', memory: 512, vcpus: 1, pygrub: true, pvgrub: false, config: '/etc/xen/x.cfg', network: { dhcp: true, nameservers: [] } },
      verify: true, bootTest: false,
    });
    expect(ok.success).toBe(true);
    const bad = buildSpecSchema.safeParse({ name: 'x' });
    expect(bad.success).toBe(false);
  });
  it('docs/spec.md has the fleet file section, every field of the fleet schema with its type, default and description', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'spec.md'), 'utf8');
    const fleet = renderFleetDocs();
    expect(doc).toContain(fleet);
    const rows = fleet.split('\n').filter((l) => l.startsWith('| `'));
    const fields = rows.map((l) => /^\| `([^`]+)`/.exec(l)![1]);
    expect(fields).toEqual([
      ...Object.keys(fleetFileSchema.shape).flatMap((k) => (k === 'guests' ? [k, ...Object.keys(fleetGuestFields.shape).map((g) => `guests[].${g}`)] : k === 'hosts' ? [k, ...Object.keys(FleetHostSchema.shape).map((h) => `hosts[].${h}`)] : [k])),
    ]);
    // every row has a description; sizes, defaults, flags and what is required are shown as a user writes them
    for (const l of rows) expect(l, l).not.toMatch(/\|\s*\|$/);
    expect(fleet).toContain('| `guests[].size` | size (4G, 512M; a bare number is MiB) |');
    expect(fleet).toContain('| `concurrency` | whole number (1..64) | 4 | --concurrency |');
    expect(fleet).toContain('| `method` | "copy" \\| "overlay" | overlay |');
    expect(fleet).toContain('| `guests` | list of mappings (at least one), required |');
    expect(fleet).toContain('| `hosts[].concurrency` | integer (1..64) | 2 |');
  });
});
