// Defaults taken from the Dom0 itself, as xen-tools' xt-guess-suite-and-mirror does: the suite and
// the mirror its own apt sources use (one-line *.list files and deb822 *.sources files alike), and
// the distribution from os-release. Used when neither the flags, the spec nor the site defaults say.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
}

export interface Dom0Guess {
  distro: 'debian' | 'ubuntu';
  dist: string;
  mirror: string;
  /** Where the guess came from: a sources file, or a fallback. */
  from: string;
}

const FALLBACK = {
  debian: { dist: 'stable', mirror: 'http://deb.debian.org/debian' },
  ubuntu: { dist: 'jammy', mirror: 'http://archive.ubuntu.com/ubuntu' },
} as const;

/** `deb [opts] URI SUITE COMPONENTS...` lines of a sources.list (deb-src and comments skipped). */
export function parseSourcesList(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').replace(/\[[^\]]*\]/, ' ').trim();
    const f = line.split(/\s+/);
    if (f[0] !== 'deb' || f.length < 3) continue;
    out.push({ uri: f[1]!, suite: f[2]!, components: f.slice(3) });
  }
  return out;
}

/** deb822 stanzas of a *.sources file: Types, URIs, Suites, Components (Enabled: no skipped). */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) fields.set(last, `${fields.get(last)} ${raw.trim()}`);
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb') || /^no$/i.test(fields.get('enabled') ?? '')) continue;
    const comps = (fields.get('components') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
      for (const suite of (fields.get('suites') ?? '').split(/\s+/).filter(Boolean)) out.push({ uri, suite, components: comps });
    }
  }
  return out;
}

/** The main suite among the sources: not -updates, -security, -backports or -proposed, not a security host. */
export function mainSource(sources: readonly AptSource[]): AptSource | undefined {
  return sources.find((s) => !/-(updates|security|backports|proposed)$/.test(s.suite) && !/security\./.test(s.uri) && !/debian-security/.test(s.uri));
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Guess the Dom0's distribution, suite and mirror from `etc` (default /etc). */
export function guessDom0Suite(etc = '/etc'): Dom0Guess {
  const osRelease = readOr(join(etc, 'os-release')) ?? readOr('/usr/lib/os-release') ?? '';
  const id = /^ID=("?)(\w+)\1$/m.exec(osRelease)?.[2];
  const distro: Dom0Guess['distro'] = id === 'ubuntu' ? 'ubuntu' : 'debian';
  const files: string[] = [join(etc, 'apt/sources.list')];
  try {
    for (const f of readdirSync(join(etc, 'apt/sources.list.d')).sort()) if (/\.(list|sources)$/.test(f)) files.push(join(etc, 'apt/sources.list.d', f));
  } catch {
    // no sources.list.d
  }
  for (const f of files) {
    const text = readOr(f);
    if (text === undefined) continue;
    const src = mainSource(f.endsWith('.sources') ? parseDeb822Sources(text) : parseSourcesList(text));
    if (src) return { distro, dist: src.suite, mirror: src.uri.replace(/\/+$/, ''), from: f };
  }
  const codename = /^VERSION_CODENAME=("?)([\w-]+)\1$/m.exec(osRelease)?.[2];
  return { distro, dist: codename ?? FALLBACK[distro].dist, mirror: FALLBACK[distro].mirror, from: codename ? 'os-release' : 'fallback' };
}
