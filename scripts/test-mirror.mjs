#!/usr/bin/env node
// Tests mirror the sources: src/a/b.ts is tested by test/a/b.test.ts or test/a/b.unit.test.ts.
// A source file tested elsewhere is named in test/test-mirror.allow with the test that covers it:
//
//   src/copy/copy.worker.ts: test/copy/clone.test.ts
//
// (one entry a line, `#` starts a comment; several tests may follow the colon, separated by spaces).
//
//   node scripts/test-mirror.mjs          lists the source files with no mirrored test and no entry
//   node scripts/test-mirror.mjs --all    also lists the allow-listed ones and the stale entries
//   node scripts/test-mirror.mjs --json   the whole report as JSON
//
// Exit status 0 when every source file is mirrored or allow-listed and the list names no missing file,
// 1 otherwise. test/test-mirror.unit.test.ts runs the same check.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ALLOW_FILE = 'test/test-mirror.allow';

function walkTs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walkTs(p);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const posix = (p) => p.split(sep).join('/');

/** The test files that mirror one source path (src/a/b.ts -> test/a/b.test.ts, test/a/b.unit.test.ts). */
export function mirrorsOf(src) {
  const stem = src.replace(/^src\//, 'test/').replace(/\.ts$/, '');
  return [`${stem}.test.ts`, `${stem}.unit.test.ts`];
}

/** Parses the allow-list text: a Map of source path -> the test paths named for it. Throws on a bad line. */
export function parseAllowList(text, file = ALLOW_FILE) {
  const entries = new Map();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const m = /^(src\/\S+\.ts)\s*:\s*(\S.*)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected "src/<path>.ts: test/<path> ...", got ${JSON.stringify(raw)}`);
    const tests = m[2].split(/\s+/);
    const bad = tests.find((t) => !/^test\/\S+$/.test(t));
    if (bad) throw new Error(`${file}:${i + 1}: ${JSON.stringify(bad)} is not a path under test/`);
    if (entries.has(m[1])) throw new Error(`${file}:${i + 1}: ${m[1]} is listed twice`);
    entries.set(m[1], tests);
  });
  return entries;
}

/**
 * The mirror report of one checkout.
 * - sources: every src/**.ts (sorted, repository-relative)
 * - mirrored: the sources with a test at the mirrored path
 * - allowed: the sources without one but with an allow-list entry
 * - missing: the sources with neither (a NEW file without a test lands here)
 * - stale: allow-list entries that are wrong: the source is gone, a named test does not exist
 * - redundant: allow-list entries for sources that now have a mirrored test (harmless; may be deleted)
 */
export function mirrorReport(repo) {
  const sources = walkTs(join(repo, 'src')).map((f) => posix(relative(repo, f))).sort();
  const allowPath = join(repo, ALLOW_FILE);
  const allow = existsSync(allowPath) ? parseAllowList(readFileSync(allowPath, 'utf8')) : new Map();
  const mirrored = [];
  const allowed = [];
  const missing = [];
  const redundant = [];
  for (const src of sources) {
    const has = mirrorsOf(src).some((t) => existsSync(join(repo, t)));
    if (has) {
      mirrored.push(src);
      if (allow.has(src)) redundant.push(src);
    } else if (allow.has(src)) allowed.push(src);
    else missing.push(src);
  }
  const known = new Set(sources);
  const stale = [];
  for (const [src, tests] of allow) {
    if (!known.has(src)) stale.push(`${src}: no such source file`);
    for (const t of tests) if (!existsSync(join(repo, t))) stale.push(`${src}: ${t} does not exist`);
  }
  return { sources, mirrored, allowed, missing, stale, redundant, allow: Object.fromEntries(allow) };
}

function main(argv) {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  let r;
  try {
    r = mirrorReport(repo);
  } catch (e) {
    process.stderr.write(`test-mirror: ${e.message}\n`);
    return 2;
  }
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    const out = [];
    out.push(`${r.sources.length} source files: ${r.mirrored.length} with a mirrored test, ${r.allowed.length} allow-listed (${ALLOW_FILE}), ${r.missing.length} with neither`);
    for (const s of r.missing) out.push(`missing   ${s}  (want ${mirrorsOf(s).join(' or ')})`);
    for (const s of r.stale) out.push(`stale     ${s}`);
    if (argv.includes('--all')) {
      for (const s of r.allowed) out.push(`allowed   ${s}: ${r.allow[s].join(' ')}`);
      for (const s of r.redundant) out.push(`redundant ${s} (has a mirrored test; its entry may go)`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return r.missing.length === 0 && r.stale.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
