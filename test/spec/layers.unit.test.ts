// Site defaults < spec file < flags, field by field, each value with its origin.
import { describe, expect, it } from 'vitest';
import { describeOrigins, mergeLayers } from '../../src/spec/layers.js';

const site = { name: 'site defaults', file: '/etc/domu-forge/defaults.yaml', data: { target: { size: '4G', swap: '512M', fs: 'ext4', imageDir: '/srv/xen' }, source: { install: { distro: 'debian', tool: 'debootstrap' } }, domain: { memory: '512M', network: { bridge: 'xenbr0', nameservers: ['192.0.2.53'] } } }, lineOf: (p: readonly (string | number)[]) => (p.join('.') === 'target.size' ? 3 : 0) };

describe('mergeLayers', () => {
  it('later layers win field by field; mappings merge, lists are replaced', () => {
    const spec = { name: 'spec', file: 'web.yaml', data: { name: 'web', target: { size: '8G' }, domain: { network: { nameservers: ['198.51.100.1'] } } } };
    const flags = { name: 'flags', data: { domain: { memory: '1G' } }, flagOf: (p: string) => (p === 'domain.memory' ? '--memory' : undefined) };
    const r = mergeLayers([site, spec, flags]);
    expect(r.data).toEqual({
      target: { size: '8G', swap: '512M', fs: 'ext4', imageDir: '/srv/xen' },
      source: { install: { distro: 'debian', tool: 'debootstrap' } },
      domain: { memory: '1G', network: { bridge: 'xenbr0', nameservers: ['198.51.100.1'] } },
      name: 'web',
    });
    expect(r.origins.get('target.size')).toBe('spec web.yaml');
    expect(r.origins.get('target.swap')).toBe('site defaults /etc/domu-forge/defaults.yaml');
    expect(r.origins.get('domain.memory')).toBe('flag --memory');
    expect(r.origins.get('domain.network.nameservers')).toBe('spec web.yaml');
  });

  it("a layer naming another kind of target or source drops the lower layers' kind", () => {
    const spec = { name: 'spec', file: 'c.yaml', data: { target: { image: '/x.img' }, source: { clone: { root: '/' } } } };
    const r = mergeLayers([site, spec]);
    expect(r.data.source).toEqual({ clone: { root: '/' } });
    expect(r.data.target).toEqual({ size: '4G', swap: '512M', fs: 'ext4', image: '/x.img' });
    expect([...r.origins.keys()].some((k) => k.startsWith('source.install') || k === 'target.imageDir')).toBe(false);
  });

  it('does not change its inputs', () => {
    const before = structuredClone(site.data);
    mergeLayers([site, { name: 'spec', data: { target: { size: '1G' }, domain: { network: { bridge: 'br1' } } } }]);
    expect(site.data).toEqual(before);
  });
});

describe('describeOrigins', () => {
  it('names each resolved value\'s layer and line, and built-in defaults for the rest', () => {
    const r = mergeLayers([site]);
    const lines = describeOrigins(r, { target: { size: 4096, fs: 'ext4', label: 'root' } });
    expect(lines).toEqual([
      'target.size: 4096  (site defaults /etc/domu-forge/defaults.yaml:3)',
      'target.fs: "ext4"  (site defaults /etc/domu-forge/defaults.yaml)',
      'target.label: "root"  (built-in default)',
    ]);
  });
});
