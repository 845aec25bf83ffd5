// docs/xen-tools.md maps every option of xen-create-image to domu-forge: each option its manual
// lists has a row (the manual is parsed when xen-tools is installed, else the list checked in here,
// test/docs/xen-create-image-options.txt, taken from xen-tools 4.9.2's manual), no row names an
// option the manual lacks, and every `build` flag the table names is one build has.
// Needs neither root nor network.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG, SPEC_FLAGS } from '../../src/spec/flags.js';

const repo = resolve(import.meta.dirname, '..', '..');
const CHECKED_IN = join(import.meta.dirname, 'xen-create-image-options.txt');

/**
 * The options of `man xen-create-image`'s OPTIONS section: each entry starts a line at the
 * section's option indent, `--name` or `--(no)name`, followed by `=value` or its text.
 */
export function manualOptions(manText: string): string[] {
  const section = /^OPTIONS\n([\s\S]*?)^NOTES\n/m.exec(manText)?.[1] ?? '';
  const indent = Math.min(...[...section.matchAll(/^( +)--/gm)].map((m) => m[1]!.length));
  const out: string[] = [];
  for (const line of section.split('\n')) {
    const m = new RegExp(`^ {${indent}}(--[^\\s=]+)`).exec(line);
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** The manual as man formats it, or undefined when xen-tools (or man) is not installed. */
function installedManual(): string | undefined {
  const r = spawnSync('man', ['-P', 'cat', 'xen-create-image'], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '120', MAN_KEEP_FORMATTING: '' } });
  return r.status === 0 && r.stdout.includes('OPTIONS') ? r.stdout.replace(/.\x08/g, '') : undefined;
}

/** The table's rows: [xen-create-image option, domu-forge, notes]. */
function tableRows(md: string): string[][] {
  const part = md.slice(md.indexOf('## The options'));
  return part
    .split('\n')
    .filter((l) => l.startsWith('| `--'))
    .map((l) => l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
}

describe('docs/xen-tools.md: every xen-create-image option', () => {
  const md = readFileSync(join(repo, 'docs', 'xen-tools.md'), 'utf8');
  const rows = tableRows(md);
  const checkedIn = readFileSync(CHECKED_IN, 'utf8').split('\n').filter(Boolean);
  const manual = installedManual();
  const options = manual ? manualOptions(manual) : checkedIn;

  it('the option list is the manual\'s (parsed when xen-tools is installed, else the checked-in list)', () => {
    expect(options.length).toBeGreaterThan(60);
    expect(options).toContain('--(no)pygrub');
    expect(options).toContain('--install-method');
    // the checked-in list is the one this table was written against; a new xen-tools version shows here
    if (manual) expect(options).toEqual(checkedIn);
  });

  it('has one row per option, in none of which domu-forge is left blank', () => {
    const named = rows.map((r) => /^`([^`]+)`$/.exec(r[0]!)?.[1]);
    const missing = options.filter((o) => !named.includes(o));
    expect(missing).toEqual([]);
    // no row for an option the manual does not list, and none twice
    expect(named.filter((n) => !options.includes(n!))).toEqual([]);
    expect(new Set(named).size).toBe(named.length);
    for (const r of rows) expect(r[1], `row ${r[0]}`).toMatch(/\S/);
  });

  it('every "not supported" says why', () => {
    for (const r of rows.filter((x) => /^not (supported|needed|applicable)$/.test(x[1]!))) expect(r[2], `row ${r[0]}`).toMatch(/\w{3,}/);
  });

  it('the build flags it names exist', () => {
    const buildCli = readFileSync(join(repo, 'src', 'cli', 'build.ts'), 'utf8');
    const own = [...buildCli.matchAll(/\.option\('(--[a-z-]+)/g)].map((m) => m[1]!);
    const declared = [...SPEC_FLAGS, ...Object.values(FLAG)].flatMap((f) => f.flags.split(/[ ,]+/).filter((t) => t.startsWith('--')));
    const flags = new Set([...declared, ...own, '--help', '--version']);
    for (const r of rows) {
      // cells naming another command (domu-forge install --device) or a spec field are not build flags
      if (/domu-forge (install|xen-config)|spec `/.test(r[1]!)) continue;
      for (const m of r[1]!.matchAll(/`(--[a-z-]+)/g)) expect(flags.has(m[1]!), `${r[0]} -> ${m[1]}`).toBe(true);
    }
  });

  it('the README links the table and names its common rows', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Coming from xen-tools'), readme.indexOf('## The pipeline'));
    expect(section).toContain('](docs/xen-tools.md)');
    expect(section).toContain('`--bootloader pvgrub`');
    expect(Buffer.byteLength(readme)).toBeLessThan(16 * 1024);
  });
});
