// Exclusion rules are anchored like rsync's; checked against the same patterns given to rsync.

import { describe, expect, it } from 'vitest';
import { ExcludeSet, compileExclude } from '../../src/walk/exclude.js';

describe('exclude patterns', () => {
  const set = (...p: string[]) => new ExcludeSet(p);
  const m = (s: ExcludeSet, rel: string, isDir = false) => s.matches(rel, rel.split('/').pop()!, isDir);

  it('anchors a leading slash at the source root', () => {
    const s = set('/var');
    expect(m(s, 'var', true)).toBe(true);
    expect(m(s, 'srv/var', true)).toBe(false);
  });

  it('matches an unanchored name at any depth', () => {
    const s = set('*.log');
    expect(m(s, 'a.log')).toBe(true);
    expect(m(s, 'var/log/b.log')).toBe(true);
    expect(m(s, 'var/log/b.log.1')).toBe(false);
  });

  it('matches an unanchored path with a slash at any depth, whole components only', () => {
    const s = set('cache/apt');
    expect(m(s, 'var/cache/apt', true)).toBe(true);
    expect(m(s, 'cache/apt', true)).toBe(true);
    expect(m(s, 'var/xcache/apt', true)).toBe(false);
  });

  it('a trailing slash matches directories only', () => {
    const s = set('build/');
    expect(m(s, 'src/build', true)).toBe(true);
    expect(m(s, 'src/build', false)).toBe(false);
  });

  it('* stays within a component, ** crosses slashes', () => {
    expect(m(set('/usr/*/doc'), 'usr/share/doc', true)).toBe(true);
    expect(m(set('/usr/*/doc'), 'usr/a/b/doc', true)).toBe(false);
    expect(m(set('/usr/**/doc'), 'usr/a/b/doc', true)).toBe(true);
  });

  it('character classes and escapes', () => {
    expect(m(set('f[0-9]'), 'f7')).toBe(true);
    expect(m(set('f[!0-9]'), 'f7')).toBe(false);
    expect(m(set('a\\*b'), 'a*b')).toBe(true);
    expect(m(set('a\\*b'), 'axb')).toBe(false);
  });

  it('matches non-UTF-8 names byte for byte (latin1 strings)', () => {
    const name = Buffer.from([0x62, 0xff, 0x64]).toString('latin1');
    expect(m(set(`/${name}`), name)).toBe(true);
    expect(m(set('/b?d'), name)).toBe(true);
  });

  it('refuses patterns that exclude nothing or everything, with a message', () => {
    expect(() => compileExclude('')).toThrow('an exclude pattern must not be empty');
    expect(() => compileExclude('/')).toThrow('exclude pattern "/" would exclude the whole source');
  });
});
