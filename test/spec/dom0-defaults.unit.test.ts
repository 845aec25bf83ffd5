// The Dom0's own suite and mirror, as xt-guess-suite-and-mirror finds them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guessDom0Suite, mainSource, parseDeb822Sources, parseSourcesList } from '../../src/spec/dom0-defaults.js';

const etc = mkdtempSync(join(tmpdir(), 'df-dom0-'));
afterAll(() => rmSync(etc, { recursive: true, force: true }));

describe('apt sources', () => {
  it('reads one-line entries, skipping deb-src, comments and [options]', () => {
    const s = parseSourcesList('# x\ndeb-src http://a/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian/ bookworm main contrib\n');
    expect(s).toEqual([{ uri: 'http://m.example/debian/', suite: 'bookworm', components: ['main', 'contrib'] }]);
  });

  it('reads deb822 stanzas, several URIs and suites each, and skips disabled ones', () => {
    const text = 'Types: deb\n# comment\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb deb-src\nURIs: http://x/debian\nSuites: trixie\nEnabled: no\n';
    expect(parseDeb822Sources(text).map((s) => s.suite)).toEqual(['bookworm', 'bookworm-updates']);
  });

  it('the main suite is neither -updates nor -security nor a security host', () => {
    expect(mainSource([{ uri: 'http://security.debian.org/debian-security', suite: 'bookworm', components: [] }, { uri: 'http://d/debian', suite: 'bookworm-updates', components: [] }, { uri: 'http://d/debian', suite: 'bookworm', components: [] }])?.uri).toBe('http://d/debian');
  });
});

describe('guessDom0Suite', () => {
  it('takes the suite and mirror from sources.list.d/*.sources, then os-release, then stable', () => {
    mkdirSync(join(etc, 'apt/sources.list.d'), { recursive: true });
    writeFileSync(join(etc, 'os-release'), 'ID=debian\nVERSION_CODENAME=bookworm\n');
    expect(guessDom0Suite(etc)).toEqual({ distro: 'debian', dist: 'bookworm', mirror: 'http://deb.debian.org/debian', from: 'os-release' });
    writeFileSync(join(etc, 'apt/sources.list.d/debian.sources'), 'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm-security bookworm\nComponents: main\n');
    expect(guessDom0Suite(etc)).toMatchObject({ dist: 'bookworm', mirror: 'http://mirror.example/debian' });
    writeFileSync(join(etc, 'os-release'), 'ID=ubuntu\n');
    rmSync(join(etc, 'apt'), { recursive: true });
    expect(guessDom0Suite(etc)).toEqual({ distro: 'ubuntu', dist: 'jammy', mirror: 'http://archive.ubuntu.com/ubuntu', from: 'fallback' });
  });

  it("finds this Debian machine's own suite", () => {
    expect(guessDom0Suite().dist).toMatch(/^[a-z]+$/);
  });
});
