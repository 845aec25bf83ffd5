#!/usr/bin/env node
// Rewrites the flag table of every page under docs/commands/ from the built CLI's own --help, so the
// tables say what the code says. Each table sits between `<!-- flags:CMD -->` and `<!-- /flags -->`.
// Run after `npm run build`: node test/docs/update-flag-tables.mjs  (needs neither root nor network).
// With --check it writes nothing, prints the pages whose tables are stale and exits 1 if any are.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repo, 'dist', 'cli', 'main.js');

/** The options of `domu-forge CMD --help`: [flags, description] pairs, help's own option excluded. */
export function optionsOf(help) {
  const rows = [];
  let section = '';
  for (const line of help.split('\n')) {
    if (/^\S/.test(line)) { section = line; continue; }
    if (section !== 'Options:') continue;
    const m = /^ {2}(-\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (m) rows.push([m[1].trim(), (m[2] ?? '').trim()]);
    else if (line.trim() && rows.length) rows[rows.length - 1][1] += ' ' + line.trim();
  }
  return rows.filter(([flags]) => flags !== '-h, --help');
}

function table(rows) {
  const cell = (s) => s.replace(/\|/g, '\\|');
  const out = ['| flag | meaning (from `--help`) |', '|---|---|'];
  for (const [flags, text] of rows) out.push(`| \`${cell(flags)}\` | ${cell(text)} |`);
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const stale = [];
  const dir = join(repo, 'docs', 'commands');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.md'))) {
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    const next = text.replace(/<!-- flags:([a-z-]+) -->[\s\S]*?<!-- \/flags -->/gm, (_all, cmd) => {
      const help = execFileSync(process.execPath, [cli, cmd, '--help'], { encoding: 'utf8' });
      const usage = /^Usage: (.*)$/m.exec(help)?.[1] ?? cmd;
      return `<!-- flags:${cmd} -->\nUsage: \`${usage}\`\n\n${table(optionsOf(help))}\n<!-- /flags -->`;
    });
    if (next === text) continue;
    if (check) stale.push(name);
    else writeFileSync(file, next);
  }
  if (stale.length) {
    console.error(`stale flag tables (run node test/docs/update-flag-tables.mjs): ${stale.join(', ')}`);
    process.exitCode = 1;
  }
}
